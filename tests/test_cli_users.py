"""``flask users``: every command through Flask's CLI runner, against PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from app.services import accounts
from tests.conftest import STRONG_PASSWORD

NEW_PASSWORD = "Brand-new-pass-7"


@pytest.fixture
def cli(app: Flask) -> Callable[..., Result]:
    """Invoke ``flask <args>`` on the test app; ``input`` feeds stdin (prompts included)."""
    runner = app.test_cli_runner()

    def _invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(args=list(args), input=input)

    return _invoke


def _login(client: FlaskClient, email: str, password: str) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def _user(app: Flask, email: str) -> Any:
    with app.app_context():
        return accounts.find_by_email(email)


def test_create_prompts_twice_and_the_account_logs_in(
    app: Flask, cli: Callable[..., Result], client: FlaskClient
) -> None:
    result = cli(
        "users",
        "create",
        "--email",
        "Ada@Example.org",
        "--name",
        "Dr. Ada Lovelace",
        "--role",
        "admin",
        input=f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created admin Dr. Ada Lovelace <ada@example.org>" in result.output
    assert STRONG_PASSWORD not in result.output  # hidden prompts never echo

    response = _login(client, "ada@example.org", STRONG_PASSWORD)
    assert response.status_code == 200
    me = client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {response.get_json()['access_token']}"}
    )
    assert me.get_json()["role"] == "admin"
    assert me.get_json()["full_name"] == "Dr. Ada Lovelace"


def test_create_defaults_to_physician_and_reads_password_stdin(
    app: Flask, cli: Callable[..., Result], client: FlaskClient
) -> None:
    result = cli(
        "users",
        "create",
        "--email",
        "bob@example.org",
        "--name",
        "Dr. Bob",
        "--password-stdin",
        input=f"{STRONG_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output  # no prompt at all
    assert _user(app, "bob@example.org").role == "physician"
    assert _login(client, "bob@example.org", STRONG_PASSWORD).status_code == 200


def test_create_duplicate_email_fails_before_asking_for_a_password(
    make_user: Callable[..., Any], cli: Callable[..., Result]
) -> None:
    make_user(email="dup@example.org")
    result = cli("users", "create", "--email", "DUP@example.org", "--name", "Someone", input="")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "Password" not in result.output


def test_create_with_mismatched_prompts_fails_and_creates_nothing(
    app: Flask, cli: Callable[..., Result]
) -> None:
    result = cli(
        "users",
        "create",
        "--email",
        "c@example.org",
        "--name",
        "C",
        input=f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}x\n",
    )
    assert result.exit_code == 1
    assert "do not match" in result.output
    assert _user(app, "c@example.org") is None


def test_create_with_prompts_a_b_fails(app: Flask, cli: Callable[..., Result]) -> None:
    # "a" is refused as too short before it has to be repeated.
    result = cli("users", "create", "--email", "c@example.org", "--name", "C", input="a\nb\n")
    assert result.exit_code == 1
    assert "Nothing was changed" in result.output
    assert _user(app, "c@example.org") is None


@pytest.mark.parametrize("how", ["prompt", "stdin"])
def test_create_with_a_weak_password_fails(
    app: Flask, cli: Callable[..., Result], how: str
) -> None:
    args = ["users", "create", "--email", "weak@example.org", "--name", "W"]
    if how == "stdin":
        args.append("--password-stdin")
    result = cli(*args, input="alllowercaseletters\nalllowercaseletters\n")
    assert result.exit_code == 1
    assert "two kinds of characters" in result.output
    assert _user(app, "weak@example.org") is None


def test_create_with_empty_stdin_fails(cli: Callable[..., Result]) -> None:
    result = cli(
        "users", "create", "--email", "e@example.org", "--name", "E", "--password-stdin", input=""
    )
    assert result.exit_code == 1
    assert "empty line" in result.output


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [("--role", "superuser", "'superuser' is not one of"), ("--email", "not-an-email", "@-sign")],
)
def test_create_rejects_a_bad_role_or_email(
    app: Flask, cli: Callable[..., Result], option: str, value: str, complaint: str
) -> None:
    args = {"--email": "x@example.org", "--role": "physician"} | {option: value}
    result = cli(
        "users",
        "create",
        "--name",
        "X",
        *[part for pair in args.items() for part in pair],
        "--password-stdin",
        input=f"{STRONG_PASSWORD}\n",
    )
    assert result.exit_code != 0
    assert complaint in result.output
    with app.app_context():
        assert accounts.list_users() == []


def test_list_table_filters_and_json(
    make_user: Callable[..., Any], cli: Callable[..., Result]
) -> None:
    make_user(email="zoe@example.org", full_name="Dr. Zoe", role="admin")
    make_user(email="amy@example.org", full_name="Dr. Amy")
    make_user(email="old@example.org", full_name="Dr. Old", active=False)

    table = cli("users", "list")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["ID", "EMAIL", "NAME", "ROLE", "STATUS", "CREATED", "LAST", "LOGIN"]
    emails = [line.split()[1] for line in lines[1:4]]
    assert emails == ["amy@example.org", "old@example.org", "zoe@example.org"]  # by email
    assert "inactive" in lines[2]
    assert "3 users." in table.output

    as_json = cli("users", "list", "--json")
    assert as_json.exit_code == 0
    rows = json.loads(as_json.output)
    assert [row["email"] for row in rows] == emails
    assert set(rows[0]) == {
        "id",
        "email",
        "full_name",
        "role",
        "is_active",
        "created_at",
        "last_login_at",
    }
    assert not any("password" in key for row in rows for key in row)

    admins = json.loads(cli("users", "list", "--role", "admin", "--json").output)
    assert [row["email"] for row in admins] == ["zoe@example.org"]
    inactive = json.loads(cli("users", "list", "--inactive", "--json").output)
    assert [(row["email"], row["is_active"]) for row in inactive] == [("old@example.org", False)]
    none = cli("users", "list", "--role", "admin", "--inactive")
    assert none.exit_code == 0
    assert "No users match" in none.output


def test_list_on_an_empty_database_says_how_to_start(cli: Callable[..., Result]) -> None:
    result = cli("users", "list")
    assert result.exit_code == 0
    assert "flask users create" in result.output
    assert json.loads(cli("users", "list", "--json").output) == []


def test_set_role(app: Flask, make_user: Callable[..., Any], cli: Callable[..., Result]) -> None:
    make_user(email="p@example.org")
    result = cli("users", "set-role", "--email", "P@example.org", "--role", "admin")
    assert result.exit_code == 0, result.output
    assert "p@example.org is now admin (was physician)" in result.output
    assert _user(app, "p@example.org").role == "admin"

    again = cli("users", "set-role", "--email", "p@example.org", "--role", "admin")
    assert again.exit_code == 0
    assert "nothing changed" in again.output


def test_set_role_rejects_a_bad_role(
    app: Flask, make_user: Callable[..., Any], cli: Callable[..., Result]
) -> None:
    make_user(email="p@example.org")
    result = cli("users", "set-role", "--email", "p@example.org", "--role", "root")
    assert result.exit_code != 0
    assert "'root' is not one of" in result.output
    assert _user(app, "p@example.org").role == "physician"


@pytest.mark.parametrize(
    "command",
    [
        ["set-role", "--role", "admin"],
        ["deactivate"],
        ["activate"],
        ["reset-password", "--password-stdin"],
    ],
)
def test_unknown_email_fails(cli: Callable[..., Result], command: list[str]) -> None:
    result = cli("users", *command, "--email", "nobody@example.org", input=f"{STRONG_PASSWORD}\n")
    assert result.exit_code == 1
    assert "No user with email nobody@example.org" in result.output


def test_reset_password_for_an_unknown_email_fails_before_prompting(
    cli: Callable[..., Result],
) -> None:
    result = cli("users", "reset-password", "--email", "nobody@example.org", input="")
    assert result.exit_code == 1
    assert "Password" not in result.output


def test_deactivate_revokes_tokens_issued_before_and_activate_lets_the_user_back(
    make_user: Callable[..., Any],
    cli: Callable[..., Result],
    client: FlaskClient,
    login_tokens: Callable[..., dict[str, Any]],
) -> None:
    user = make_user(email="doc@example.org")
    tokens = login_tokens(user.email)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/users/me", headers=bearer).status_code == 200

    result = cli("users", "deactivate", "--email", "doc@example.org")
    assert result.exit_code == 0, result.output
    assert "revoked" in result.output

    assert client.get("/api/users/me", headers=bearer).status_code == 401
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert client.post("/api/auth/refresh", headers=refresh).status_code == 401
    assert _login(client, user.email, STRONG_PASSWORD).status_code == 403

    again = cli("users", "deactivate", "--email", "doc@example.org")
    assert again.exit_code == 0
    assert "already inactive" in again.output

    result = cli("users", "activate", "--email", "doc@example.org")
    assert result.exit_code == 0, result.output
    assert "Activated doc@example.org" in result.output
    assert _login(client, user.email, STRONG_PASSWORD).status_code == 200
    # Tokens from before the deactivation stay revoked.
    assert client.get("/api/users/me", headers=bearer).status_code == 401

    again = cli("users", "activate", "--email", "doc@example.org")
    assert again.exit_code == 0
    assert "already active" in again.output


@pytest.mark.parametrize("how", ["prompt", "stdin"])
def test_reset_password(
    make_user: Callable[..., Any],
    cli: Callable[..., Result],
    client: FlaskClient,
    login_tokens: Callable[..., dict[str, Any]],
    how: str,
) -> None:
    user = make_user(email="doc@example.org")
    bearer = {"Authorization": f"Bearer {login_tokens(user.email)['access_token']}"}
    args = ["users", "reset-password", "--email", "doc@example.org"]
    if how == "stdin":
        args.append("--password-stdin")
    result = cli(*args, input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "reset" in result.output
    assert NEW_PASSWORD not in result.output

    assert _login(client, user.email, STRONG_PASSWORD).status_code == 401
    assert _login(client, user.email, NEW_PASSWORD).status_code == 200
    assert client.get("/api/users/me", headers=bearer).status_code == 401


def test_reset_password_mismatch_or_weak_changes_nothing(
    make_user: Callable[..., Any], cli: Callable[..., Result], client: FlaskClient
) -> None:
    user = make_user(email="doc@example.org")
    mismatch = cli(
        "users", "reset-password", "--email", user.email, input=f"{NEW_PASSWORD}\nother\n"
    )
    assert mismatch.exit_code == 1
    assert "do not match" in mismatch.output
    weak = cli("users", "reset-password", "--email", user.email, "--password-stdin", input="x\n")
    assert weak.exit_code == 1
    assert "at least 10 characters" in weak.output
    assert _login(client, user.email, STRONG_PASSWORD).status_code == 200


def test_every_command_has_help(cli: Callable[..., Result]) -> None:
    for command in ["create", "list", "set-role", "deactivate", "activate", "reset-password"]:
        result = cli("users", command, "--help")
        assert result.exit_code == 0
        assert "--email" in result.output or command == "list"
