"""PostgreSQL unreachable (a URL to a closed port): 503 ``database_unavailable``, one log line."""

from __future__ import annotations

import logging

import pytest
from flask_jwt_extended import create_access_token

from tests.conftest import STRONG_PASSWORD, free_port
from tests.fixtures.portal import token_for
from tests.test_api_errors import assert_error


@pytest.fixture
def down_app(make_app):  # type: ignore[no-untyped-def]
    """The gateway on a PostgreSQL URL where nothing listens (connection refused)."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/dermadetect"
    return make_app(SQLALCHEMY_DATABASE_URI=url)


def assert_one_log_line(caplog, method: str, path: str) -> None:
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.exc_info is None for r in warnings), "a traceback was logged"
    # One line for the request (the token check's listener, a background task of its own,
    # may report the outage once more, without a request id).
    lines = [r for r in warnings if r.name == "app.error_handlers"]
    assert len(lines) == 1, [r.getMessage() for r in warnings]
    assert f"database unavailable on {method} {path}" in lines[0].getMessage()
    others = [r for r in warnings if r.name != "app.error_handlers"]
    assert all(r.name.startswith("app.services.token_checks") for r in others), others


def test_api_login_is_503_with_retry_after(down_app, caplog):
    with caplog.at_level(logging.WARNING):
        response = down_app.test_client().post(
            "/api/auth/login", json={"email": "a@example.org", "password": STRONG_PASSWORD}
        )
    error = assert_error(response, 503, "database_unavailable")
    assert "nothing was saved" in error["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.get_data(as_text=True)
    assert_one_log_line(caplog, "POST", "/api/auth/login")


def test_api_with_a_token_is_503(down_app, caplog):
    with down_app.app_context():
        token = create_access_token(identity="1")
    with caplog.at_level(logging.WARNING):
        response = down_app.test_client().get(
            "/api/users/me", headers={"Authorization": f"Bearer {token}"}
        )
    assert_error(response, 503, "database_unavailable")
    assert_one_log_line(caplog, "GET", "/api/users/me")


def test_portal_login_gets_a_plain_page(down_app, caplog):
    client = down_app.test_client()
    token = token_for(client, "/login")  # the login page itself needs no database
    with caplog.at_level(logging.WARNING):
        response = client.post(
            "/login",
            data={"csrf_token": token, "email": "a@example.org", "password": STRONG_PASSWORD},
        )
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Service unavailable" in html
    assert "nothing was saved" in html
    assert_one_log_line(caplog, "POST", "/login")


def test_portal_page_of_a_logged_in_user_gets_a_plain_page(app, down_app, make_user, portal_login):
    logged_in = portal_login(make_user(), app.test_client())
    client = down_app.test_client()  # the same secret key: the session cookie is valid here
    client.set_cookie("session", logged_in.get_cookie("session").value)
    response = client.get("/")
    assert response.status_code == 503
    assert "Try again" in response.get_data(as_text=True)


def test_health_reports_the_database_down(down_app):
    response = down_app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["database"] != "connected"
