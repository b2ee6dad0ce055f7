"""Login throttling: failed attempts per account and address, in memory and in Redis."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import STRONG_PASSWORD
from tests.fixtures.portal import log_in

WRONG = "Wrong-password-99"


def login(client, email, password):
    return client.post("/api/auth/login", json={"email": email, "password": password})


@pytest.fixture
def throttled(make_app, app):
    return make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")


def test_failed_logins_are_throttled_per_account(throttled, make_user):
    user = make_user()
    client = throttled.test_client()
    assert [login(client, user.email, WRONG).status_code for _ in range(3)] == [401] * 3
    blocked = login(client, user.email, WRONG)
    assert blocked.status_code == 429
    error = blocked.get_json()["error"]
    assert error["code"] == "too_many_attempts"
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    assert error["details"]["retry_after_seconds"] == int(blocked.headers["Retry-After"])
    # Even the right password waits now; another account from the same address does not.
    assert login(client, user.email, STRONG_PASSWORD).status_code == 429
    assert login(client, user.email.upper(), STRONG_PASSWORD).status_code == 429
    other = make_user()
    assert login(client, other.email, STRONG_PASSWORD).status_code == 200


def test_successful_logins_do_not_count(throttled, make_user):
    user = make_user()
    client = throttled.test_client()
    assert {login(client, user.email, STRONG_PASSWORD).status_code for _ in range(6)} == {200}


def test_unknown_emails_are_throttled_too(throttled):
    client = throttled.test_client()
    codes = [login(client, "nobody@example.org", WRONG).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_portal_login_shows_the_wait_inline(throttled, make_user):
    user = make_user()
    client = throttled.test_client()
    for _ in range(3):
        assert log_in(client, user.email, WRONG).status_code == 401
    response = log_in(client, user.email, WRONG)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "Too many failed login attempts" in page
    assert 'name="password"' in page  # the form is still there, not an error page


def test_workers_share_the_counts_through_redis(make_app, app, make_user):
    settings = {
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT": "3 per minute",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    }
    first, second = make_app(**settings), make_app(**settings)  # two workers, one Redis
    user = make_user(email=f"redis-{uuid.uuid4().hex[:8]}@example.org")
    assert login(first.test_client(), user.email, WRONG).status_code == 401
    assert login(second.test_client(), user.email, WRONG).status_code == 401
    assert login(first.test_client(), user.email, WRONG).status_code == 401
    assert login(second.test_client(), user.email, WRONG).status_code == 429


def test_a_broken_counter_store_locks_nobody_out(make_app, app, make_user):
    broken = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="1 per minute",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",
    )
    user = make_user()
    client = broken.test_client()
    assert login(client, user.email, WRONG).status_code == 401
    assert login(client, user.email, WRONG).status_code == 401
    assert login(client, user.email, STRONG_PASSWORD).status_code == 200
