"""Accounts and tokens through the JSON API."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt as pyjwt
import pytest

from tests.conftest import STRONG_PASSWORD


def register(client, email="new@example.org", password=STRONG_PASSWORD, full_name="Dr. New"):
    return client.post(
        "/api/auth/register", json={"email": email, "password": password, "full_name": full_name}
    )


def test_open_registration_accepts_and_the_account_logs_in(client):
    response = register(client, email="  Alice@Example.ORG ")
    assert response.status_code == 202
    body = response.get_json()
    assert body["email"] == "alice@example.org"
    assert set(body) == {"message", "email"}
    login = client.post(
        "/api/auth/login", json={"email": "alice@example.org", "password": STRONG_PASSWORD}
    )
    assert login.status_code == 200
    me = client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {login.get_json()['access_token']}"}
    )
    assert me.get_json()["role"] == "physician" and me.get_json()["is_active"] is True
    assert me.get_json()["created_at"].endswith(("+00:00", "Z"))


def test_open_registration_of_a_taken_address_answers_the_same_and_changes_nothing(client):
    first = register(client, email="bob@example.org")
    again = register(client, email="BOB@Example.org", password="Another-horse-43", full_name="X")
    assert (again.status_code, again.get_json()) == (first.status_code, first.get_json())
    assert again.status_code == 202
    old = client.post(
        "/api/auth/login", json={"email": "bob@example.org", "password": STRONG_PASSWORD}
    )
    new = client.post(
        "/api/auth/login", json={"email": "bob@example.org", "password": "Another-horse-43"}
    )
    assert (old.status_code, new.status_code) == (200, 401)


@pytest.mark.parametrize(
    "password", ["Short1!", "alllowercaseletters", "1234567890123", "ONLYUPPERCASE"]
)
def test_weak_password_is_422_naming_the_field(client, password):
    response = register(client, password=password)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert "password" in error["details"]


def test_register_with_invalid_email_and_missing_name(client):
    response = client.post(
        "/api/auth/register", json={"email": "nope", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 422
    assert {"email", "full_name"} <= set(response.get_json()["error"]["details"])


def test_registration_can_be_switched_off(make_app):
    app = make_app(REGISTRATION="closed")
    response = register(app.test_client())
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "registration_disabled"


def test_login_returns_token_pair(client, make_user):
    user = make_user(email="carol@example.org")
    response = client.post(
        "/api/auth/login", json={"email": "Carol@example.org ", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    claims = pyjwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(user.id)
    refresh = pyjwt.decode(body["refresh_token"], options={"verify_signature": False})
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600


def test_wrong_password_and_unknown_email_look_the_same(client, make_user):
    make_user(email="dave@example.org")
    wrong = client.post(
        "/api/auth/login", json={"email": "dave@example.org", "password": "Wrong-password-1"}
    )
    unknown = client.post(
        "/api/auth/login", json={"email": "nobody@example.org", "password": "Wrong-password-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_unknown_email_still_verifies_a_hash(app, make_user, monkeypatch):
    """Comparable time: both failures run exactly one argon2 verification."""
    from argon2 import PasswordHasher

    calls = []
    original = PasswordHasher.verify
    monkeypatch.setattr(
        PasswordHasher, "verify", lambda self, h, p: calls.append(1) or original(self, h, p)
    )
    make_user(email="erin@example.org")
    client = app.test_client()
    client.post("/api/auth/login", json={"email": "erin@example.org", "password": "Nope-nope-1"})
    client.post("/api/auth/login", json={"email": "ghost@example.org", "password": "Nope-nope-1"})
    assert len(calls) == 2


def test_deactivated_user_gets_403(client, make_user):
    make_user(email="frank@example.org", active=False)
    response = client.post(
        "/api/auth/login", json={"email": "frank@example.org", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "account_inactive"


def test_me_returns_profile_and_records_login(client, make_user, api_headers):
    user = make_user(email="gina@example.org", full_name="Dr. Gina Grey")
    response = client.get("/api/users/me", headers=api_headers(user))
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == "gina@example.org"
    assert body["full_name"] == "Dr. Gina Grey"
    assert body["last_login_at"] is not None


def test_refresh_rotates_and_reuse_is_401(client, make_user, login_tokens):
    user = make_user()
    pair = login_tokens(user.email)
    first = client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {pair['refresh_token']}"}
    )
    assert first.status_code == 200
    new_pair = first.get_json()
    assert new_pair["refresh_token"] != pair["refresh_token"]
    me = client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {new_pair['access_token']}"}
    )
    assert me.status_code == 200
    again = client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {pair['refresh_token']}"}
    )
    assert again.status_code == 401
    assert again.get_json()["error"]["code"] == "token_revoked"


def test_access_token_cannot_refresh_and_refresh_token_cannot_call_api(
    client, make_user, login_tokens
):
    pair = login_tokens(make_user().email)
    response = client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "token_wrong_type"
    assert "access token" in error["message"] and "refresh token" in error["message"]
    assert "malformed" not in error["message"]
    response = client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {pair['refresh_token']}"}
    )
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "token_wrong_type"
    assert error["message"].startswith("This is a refresh token")
    assert "/api/auth/refresh" in error["message"] and "malformed" not in error["message"]
    # The code is documented with the other 401 codes in the OpenAPI document.
    document = client.get("/api/openapi.json").get_json()
    unauthorized = document["paths"]["/api/users/me"]["get"]["responses"]["401"]
    for code in ("token_missing", "token_invalid", "token_expired", "token_wrong_type"):
        assert code in unauthorized["description"], code


def test_logout_revokes_access_and_refresh_tokens(client, make_user, login_tokens):
    pair = login_tokens(make_user().email)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    response = client.post(
        "/api/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=headers
    )
    assert response.status_code == 200
    revoked = client.get("/api/users/me", headers=headers)
    assert revoked.status_code == 401
    assert revoked.get_json()["error"]["code"] == "token_revoked"
    refresh = client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {pair['refresh_token']}"}
    )
    assert refresh.status_code == 401


def test_logout_without_body(client, make_user, login_tokens):
    pair = login_tokens(make_user().email)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    assert client.get("/api/users/me", headers=headers).status_code == 401


def test_logout_with_someone_elses_refresh_token_is_401(client, make_user, login_tokens):
    mine = login_tokens(make_user().email)
    theirs = login_tokens(make_user().email)
    response = client.post(
        "/api/auth/logout",
        json={"refresh_token": theirs["refresh_token"]},
        headers={"Authorization": f"Bearer {mine['access_token']}"},
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "token_missing"),
        ("garbage", "token_missing"),
        ("Basic dXNlcjpwYXNz", "token_missing"),
        ("Bearer garbage", "token_invalid"),
        ("Bearer ", "token_invalid"),
    ],
)
def test_bad_authorization_headers_are_401_json(client, header, code):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/users/me", headers=headers)
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["error"]["code"] == code


def test_token_signed_with_another_key_is_401(client, make_user, app):
    user = make_user()
    now = int(time.time())
    forged = pyjwt.encode(
        {
            "sub": str(user.id),
            "type": "access",
            "jti": "x",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "sv": 1,
            "fresh": False,
        },
        "another-key-another-key-another-key!",
        algorithm="HS256",
    )
    response = client.get("/api/users/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_invalid"


def test_expired_token_is_401_also_once_remembered(make_app, make_user, login_tokens):
    app = make_app(JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=1))
    user = make_user()
    client = app.test_client()
    token = client.post(
        "/api/auth/login", json={"email": user.email, "password": STRONG_PASSWORD}
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    # Used once while valid: the worker remembers its verification (app/token_decoding.py).
    assert client.get("/api/users/me", headers=headers).status_code == 200
    time.sleep(2.1)
    response = client.get("/api/users/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_expired"


def test_deactivation_and_password_reset_revoke_tokens(app, client, make_user, api_headers):
    from app.services import accounts

    user = make_user()
    headers = api_headers(user)
    assert client.get("/api/users/me", headers=headers).status_code == 200
    with app.app_context():
        accounts.reset_password(email=user.email, password="Another-strong-pw-2")
    assert client.get("/api/users/me", headers=headers).status_code == 401
    headers = api_headers(user, "Another-strong-pw-2")
    with app.app_context():
        accounts.set_active(email=user.email, active=False)
    assert client.get("/api/users/me", headers=headers).status_code == 401


def test_passwords_are_argon2id_hashes(app, make_user):
    from app.extensions import db
    from app.models import User

    user = make_user()
    with app.app_context():
        stored = db.session.get(User, user.id).password_hash
    assert stored.startswith("$argon2id$")
    assert STRONG_PASSWORD not in stored


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_logout_with_the_access_token_alone_revokes_the_refresh_token_of_that_login(
    client, make_user, login_tokens
):
    """A tester's finding: the refresh token outlived the logout, and logout could not be
    called again to revoke it (the access token was revoked by then)."""
    user = make_user()
    pair = login_tokens(user.email)
    other_login = login_tokens(user.email)
    assert client.post("/api/auth/logout", headers=_bearer(pair["access_token"])).status_code == 200
    refresh = client.post("/api/auth/refresh", headers=_bearer(pair["refresh_token"]))
    assert refresh.status_code == 401
    assert refresh.get_json()["error"]["code"] == "token_revoked"
    # Another login of the same user is not logged out (that is logout_all).
    assert (
        client.get("/api/users/me", headers=_bearer(other_login["access_token"])).status_code == 200
    )
    rotated = client.post("/api/auth/refresh", headers=_bearer(other_login["refresh_token"]))
    assert rotated.status_code == 200


def test_logout_after_rotation_revokes_every_token_of_the_login(client, make_user, login_tokens):
    pair = login_tokens(make_user().email)
    rotated = client.post("/api/auth/refresh", headers=_bearer(pair["refresh_token"])).get_json()
    again = client.post("/api/auth/refresh", headers=_bearer(rotated["refresh_token"])).get_json()
    # The first access token is still within its 30 minutes: logout must end it too.
    assert client.get("/api/users/me", headers=_bearer(pair["access_token"])).status_code == 200
    assert (
        client.post("/api/auth/logout", headers=_bearer(again["access_token"])).status_code == 200
    )
    for token in (pair["access_token"], rotated["access_token"], again["access_token"]):
        response = client.get("/api/users/me", headers=_bearer(token))
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "token_revoked"
    for token in (rotated["refresh_token"], again["refresh_token"]):
        assert client.post("/api/auth/refresh", headers=_bearer(token)).status_code == 401


def test_logout_with_the_refresh_token_revokes_the_access_token_of_that_login(
    client, make_user, login_tokens
):
    pair = login_tokens(make_user().email)
    response = client.post("/api/auth/logout", headers=_bearer(pair["refresh_token"]))
    assert response.status_code == 200, response.get_json()
    me = client.get("/api/users/me", headers=_bearer(pair["access_token"]))
    assert me.status_code == 401
    assert me.get_json()["error"]["code"] == "token_revoked"
    assert (
        client.post("/api/auth/refresh", headers=_bearer(pair["refresh_token"])).status_code == 401
    )
    # A logged-out refresh token cannot log out again (nor anything else).
    assert (
        client.post("/api/auth/logout", headers=_bearer(pair["refresh_token"])).status_code == 401
    )
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/auth/logout"]["post"]
    described = operation["summary"] + " " + operation["description"]
    assert "refresh token" in described and "every token of the login" in described


def test_a_refresh_token_sent_in_the_body_revokes_its_own_login(client, make_user, login_tokens):
    user = make_user()
    this = login_tokens(user.email)
    other = login_tokens(user.email)
    response = client.post(
        "/api/auth/logout",
        json={"refresh_token": other["refresh_token"]},
        headers=_bearer(this["access_token"]),
    )
    assert response.status_code == 200
    for pair in (this, other):
        assert client.get("/api/users/me", headers=_bearer(pair["access_token"])).status_code == 401
        assert (
            client.post("/api/auth/refresh", headers=_bearer(pair["refresh_token"])).status_code
            == 401
        )


def test_a_refresh_token_still_cannot_call_other_endpoints(client, make_user, login_tokens):
    pair = login_tokens(make_user().email)
    response = client.post("/api/auth/logout_all", headers=_bearer(pair["refresh_token"]))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_wrong_type"
