"""Email addresses have one form (issue #13, point 5): IDNA domain in Unicode, NFC, lower case."""

from __future__ import annotations

import unicodedata

import pytest

from tests.conftest import STRONG_PASSWORD

PUNYCODE = "arzt@xn--mnchen-3ya.example"
UNICODE = "arzt@münchen.example"


def login(client, email):
    return client.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD})


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (PUNYCODE, UNICODE),
        ("  Arzt@MÜNCHEN.Example ", UNICODE),
        (unicodedata.normalize("NFD", "Ärztin@example.org"), "ärztin@example.org"),
        ("not an address", "not an address"),
    ],
)
def test_one_form_for_every_spelling(app, typed, stored):
    from app.services.accounts import normalize_email

    assert normalize_email(typed) == stored
    assert unicodedata.is_normalized("NFC", normalize_email(typed))


def test_the_punycode_address_logs_in_as_registered(client):
    registered = client.post(  # the reproduction of the issue: registered in punycode
        "/api/auth/register",
        json={"email": PUNYCODE, "password": STRONG_PASSWORD, "full_name": "Dr. Arzt"},
    )
    assert registered.status_code in {201, 202}
    assert login(client, PUNYCODE).status_code == 200
    assert login(client, UNICODE).status_code == 200
    assert login(client, unicodedata.normalize("NFD", "ARZT@MÜNCHEN.example")).status_code == 200


def test_registering_the_same_address_in_another_spelling_is_the_same_account(app, make_user):
    from app.errors import Conflict
    from app.services import accounts

    make_user(email=UNICODE)
    with app.app_context(), pytest.raises(Conflict):
        accounts.create_user(email=PUNYCODE, password=STRONG_PASSWORD, full_name="Dr. Twice")


def test_cli_commands_find_the_account_by_any_spelling(app, make_user):
    make_user(email=UNICODE)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "set-role", "--email", PUNYCODE, "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert f"{UNICODE} is now admin" in result.output
    created = runner.invoke(
        args=["users", "create", "--email", "Neu@XN--MNCHEN-3YA.example", "--name", "Dr. Neu"]
        + ["--password-stdin"],
        input=STRONG_PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    assert "<neu@münchen.example>" in created.output
