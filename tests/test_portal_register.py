"""The portal's registration page (issue #13): /register?invite=<token> under REGISTRATION=invite,
the same answers as the API under open and closed, errors inline, never a 500."""

from __future__ import annotations

import pytest

from app.services import accounts
from tests.conftest import STRONG_PASSWORD
from tests.fixtures.portal import csrf_token, log_in
from tests.test_registration import invite


@pytest.fixture
def invite_only(make_app, app):
    return make_app(REGISTRATION="invite")


def register(client, email, invite_token="", *, password=STRONG_PASSWORD, confirm=None, **extra):
    page = client.get(f"/register?invite={invite_token}" if invite_token else "/register")
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "email": email,
        "full_name": "Dr. Ada Lovelace",
        "password": password,
        "confirm": password if confirm is None else confirm,
        "invite": invite_token,
        **extra,
    }
    return client.post("/register", data=data)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_an_invitation_link_opens_the_form_and_makes_the_account(invite_only):
    token = invite(invite_only, "ada@example.org", "--role", "admin")
    client = invite_only.test_client()
    page = client.get(f"/register?invite={token}")
    assert page.status_code == 200
    assert f'value="{token}"' in text(page) and 'id="invite-note"' in text(page)

    done = register(client, "Ada@Example.org", token)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert "Your account is ready" in text(client.get("/login"))
    with invite_only.app_context():
        assert accounts.find_by_email("ada@example.org").role == "admin"
    assert log_in(client, "ada@example.org").status_code == 302
    assert client.get("/").status_code == 200


def test_invite_mode_without_an_invitation_shows_why_and_no_form(invite_only):
    page = invite_only.test_client().get("/register")
    assert page.status_code == 403
    assert "Registration needs an invitation" in text(page)
    assert 'id="email"' not in text(page)


@pytest.mark.parametrize(
    ("email", "use_twice"), [("eve@example.org", False), ("ada@example.org", True)]
)
def test_an_invitation_for_another_address_or_used_already_is_refused(
    invite_only, email, use_twice
):
    token = invite(invite_only, "ada@example.org")
    client = invite_only.test_client()
    if use_twice:
        assert register(client, email, token).status_code == 302
        client = invite_only.test_client()
    refused = register(client, email, token)
    assert refused.status_code == 403
    assert "This invitation is not valid for this email address" in text(refused)
    with invite_only.app_context():
        assert (accounts.find_by_email(email) is not None) is use_twice


def test_a_weak_password_or_a_typo_in_the_second_one_is_said_inline(invite_only):
    token = invite(invite_only, "ada@example.org")
    client = invite_only.test_client()
    weak = register(client, "ada@example.org", token, password="short")
    assert weak.status_code == 422
    assert "Password must be at least 10 characters long." in text(weak)
    typo = register(client, "ada@example.org", token, confirm=STRONG_PASSWORD + "x")
    assert typo.status_code == 422 and "The two passwords differ." in text(typo)
    with invite_only.app_context():
        assert accounts.find_by_email("ada@example.org") is None
    assert register(client, "ada@example.org", token).status_code == 302  # still usable


def test_open_mode_answers_alike_whether_or_not_the_address_has_an_account(
    make_app, app, make_user
):
    open_app = make_app(REGISTRATION="open")
    owner = make_user(email="taken@example.org")
    answers = []
    for email in ("new@example.org", owner.email):
        client = open_app.test_client()
        response = register(client, email, password="Another-pass-42")
        answers.append((response.status_code, response.headers["Location"]))
        answers.append(text(client.get("/login")).count("If it had one, nothing was changed."))
    assert answers[:2] == answers[2:] == [(302, "/login"), 1]
    with open_app.app_context():
        assert accounts.find_by_email("new@example.org") is not None
        kept = accounts.find_by_email(owner.email)
        assert accounts.password_matches(kept, STRONG_PASSWORD)  # the owner's password stays


def test_closed_mode_shows_the_page_without_a_form(make_app, app):
    page = make_app(REGISTRATION="closed").test_client().get("/register")
    assert page.status_code == 403
    assert "Self-registration is disabled" in text(page)
    assert 'id="email"' not in text(page)
