"""Throttling that protects without locking out (issue #13, point 3), in one process.

Addresses are set per request (``REMOTE_ADDR``, or ``X-Forwarded-For`` behind trusted proxies),
so one test client plays the attacker and the physician at different addresses.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import STRONG_PASSWORD

WRONG = "Wrong-password-99"
ATTACKER, OWNER, NEW_PLACE = "203.0.113.7", "198.51.100.20", "192.0.2.55"


def login(client, email, password, address, **headers):
    return client.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


@pytest.fixture
def throttled(make_app, app):
    """An app with the throttle on, generous per-address limits and a short slow-down cap."""
    return make_app(
        RATELIMIT_ENABLED=True,
        AUTH_ADDRESS_RATE_LIMIT="100 per minute",
        LOGIN_RATE_LIMIT="10 per 15 minutes",
        LOGIN_SLOWDOWN_AFTER=5,
        LOGIN_SLOWDOWN_MAX_SECONDS=2,
    )


def test_owner_logs_in_from_a_known_address_after_30_wrong_passwords_elsewhere(
    throttled, make_user
):
    user = make_user()
    client = throttled.test_client()
    assert login(client, user.email, STRONG_PASSWORD, OWNER).status_code == 200  # last week
    codes = [login(client, user.email, WRONG, ATTACKER).status_code for _ in range(30)]
    assert set(codes) <= {401, 429} and codes.count(401) >= 5
    assert codes[-1] == 429  # the attacker is refused ...
    assert login(client, user.email, STRONG_PASSWORD, OWNER).status_code == 200  # ... not the owner


def test_a_new_address_waits_at_most_the_slow_down_then_gets_in(throttled, make_user):
    user = make_user()
    client = throttled.test_client()
    for _ in range(30):
        login(client, user.email, WRONG, ATTACKER)
    first = login(client, user.email, STRONG_PASSWORD, NEW_PLACE)
    if first.status_code == 429:  # the account is slowed down: a wait, never a lock
        error = first.get_json()["error"]
        assert error["code"] == "login_slowed_down"
        assert 1 <= int(first.headers["Retry-After"]) <= 2
        time.sleep(int(first.headers["Retry-After"]) + 0.2)
        first = login(client, user.email, STRONG_PASSWORD, NEW_PLACE)
    assert first.status_code == 200


def test_the_slow_down_grows_and_refuses_before_verifying(make_app, app, make_user):
    throttled = make_app(
        RATELIMIT_ENABLED=True,
        AUTH_ADDRESS_RATE_LIMIT="100 per minute",
        LOGIN_SLOWDOWN_AFTER=2,
        LOGIN_SLOWDOWN_MAX_SECONDS=60,
    )
    user = make_user()
    client = throttled.test_client()
    addresses = [f"192.0.2.{n}" for n in range(1, 10)]  # a distributed attacker
    assert [login(client, user.email, WRONG, a).status_code for a in addresses[:3]] == [401] * 3
    refused = login(client, user.email, WRONG, addresses[3])
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "login_slowed_down"
    # Even the right password is not checked during the wait (a refusal teaches nothing).
    assert login(client, user.email, STRONG_PASSWORD, addresses[4]).status_code == 429


def test_wrong_passwords_are_limited_per_account_and_address(throttled, make_user):
    limited = throttled
    user, other = make_user(), make_user()
    client = limited.test_client()
    # Both addresses are known ones, so the account slow-down stays out of this test.
    assert login(client, user.email, STRONG_PASSWORD, ATTACKER).status_code == 200
    assert login(client, user.email, STRONG_PASSWORD, OWNER).status_code == 200
    codes = [login(client, user.email, WRONG, ATTACKER).status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]
    blocked = login(client, user.email, STRONG_PASSWORD, ATTACKER)
    assert blocked.get_json()["error"]["code"] == "too_many_attempts"
    # Another account from the same address, and this account from elsewhere, are unaffected.
    assert login(client, other.email, STRONG_PASSWORD, ATTACKER).status_code == 200
    assert login(client, user.email, STRONG_PASSWORD, OWNER).status_code == 200


def test_every_login_from_an_address_counts_whatever_the_email(make_app, app, make_user):
    limited = make_app(RATELIMIT_ENABLED=True, AUTH_ADDRESS_RATE_LIMIT="5 per minute")
    user = make_user()
    client = limited.test_client()
    codes = [login(client, f"spray{n}@example.org", WRONG, ATTACKER).status_code for n in range(5)]
    assert codes == [401] * 5
    refused = login(client, user.email, STRONG_PASSWORD, ATTACKER)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert login(client, user.email, STRONG_PASSWORD, OWNER).status_code == 200


def test_registration_and_refresh_count_per_address(make_app, app, make_user):
    limited = make_app(RATELIMIT_ENABLED=True, AUTH_ADDRESS_RATE_LIMIT="2 per minute")
    client = limited.test_client()
    codes = [
        client.post(
            "/api/auth/register",
            json={"email": f"bulk{n}@example.org", "password": STRONG_PASSWORD, "full_name": "B"},
            environ_base={"REMOTE_ADDR": ATTACKER},
        ).status_code
        for n in range(3)
    ]
    assert codes[2] == 429 and 429 not in codes[:2]
    user = make_user()
    refresh = login(client, user.email, STRONG_PASSWORD, OWNER).get_json()["refresh_token"]
    statuses = []
    for _ in range(3):
        answer = client.post(
            "/api/auth/refresh",
            headers={"Authorization": f"Bearer {refresh}"},
            environ_base={"REMOTE_ADDR": OWNER},
        )
        statuses.append(answer.status_code)
        refresh = (answer.get_json() or {}).get("refresh_token", refresh)
    # The login used one of OWNER's two login requests, not refresh ones: those are separate.
    assert statuses == [200, 200, 429]


def test_x_forwarded_for_is_ignored_without_trusted_proxies(make_app, app):
    limited = make_app(RATELIMIT_ENABLED=True, AUTH_ADDRESS_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    codes = [
        login(
            client, "x@example.org", WRONG, ATTACKER, **{"X-Forwarded-For": f"10.1.1.{n}"}
        ).status_code
        for n in range(4)
    ]
    assert codes == [401, 401, 401, 429]  # a header any client can write changes nothing


def test_trusted_proxy_hops_take_the_client_from_x_forwarded_for(make_app, app):
    limited = make_app(
        RATELIMIT_ENABLED=True, AUTH_ADDRESS_RATE_LIMIT="2 per minute", TRUSTED_PROXY_HOPS=1
    )
    client = limited.test_client()
    ingress = "10.0.0.1"

    def attempt(forwarded):
        return login(client, "x@example.org", WRONG, ingress, **{"X-Forwarded-For": forwarded})

    # The ingress appends the address it saw; what the client wrote before it is not trusted.
    assert [attempt(f"1.2.3.{n}, {ATTACKER}").status_code for n in range(3)] == [401, 401, 429]
    assert attempt(OWNER).status_code == 401  # another client behind the same ingress


def test_no_free_hash_slot_answers_429_at_once(make_app, app, make_user):
    from app.services.rate_limits import password_hash_slot

    capped = make_app(PASSWORD_HASH_CONCURRENCY=1)
    user = make_user()
    with capped.app_context(), password_hash_slot():  # another request is hashing
        busy = login(capped.test_client(), user.email, STRONG_PASSWORD, OWNER)
    assert busy.status_code == 429
    assert busy.get_json()["error"]["code"] == "server_busy"
    assert busy.headers["Retry-After"] == "1"
    assert login(capped.test_client(), user.email, STRONG_PASSWORD, OWNER).status_code == 200


def test_the_portal_shows_throttle_refusals_inline(make_app, app, make_user):
    from tests.fixtures.portal import token_for

    limited = make_app(RATELIMIT_ENABLED=True, AUTH_ADDRESS_RATE_LIMIT="1 per minute")
    user = make_user()
    client = limited.test_client()
    token = token_for(client, "/login")
    for expected in (401, 429):
        response = client.post(
            "/login",
            data={"csrf_token": token, "email": user.email, "password": WRONG},
            environ_base={"REMOTE_ADDR": ATTACKER},
        )
        assert response.status_code == expected
    page = response.get_data(as_text=True)
    assert "Too many requests from this address" in page and 'name="password"' in page


def test_redis_counts_are_shared_and_kept_apart_by_the_key_prefix(make_app, app, make_user):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = {
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT": "3 per minute",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": prefix,
    }
    first, second = make_app(**settings), make_app(**settings)
    elsewhere = make_app(**{**settings, "RATELIMIT_KEY_PREFIX": prefix + "-other"})
    user = make_user()
    codes = [
        login(worker.test_client(), user.email, WRONG, ATTACKER).status_code
        for worker in (first, second, first, second)
    ]
    assert codes == [401, 401, 401, 429]
    assert login(elsewhere.test_client(), user.email, WRONG, ATTACKER).status_code == 401
