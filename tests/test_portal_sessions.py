"""Server-side portal sessions, remember-me tokens and logging out everywhere: a cookie
replayed after logout leads to the login page, a remember-me token works once per value and
dies at logout, and "log out everywhere" (portal or API) ends every session and token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import PortalSession, RememberToken
from app.models.base import utcnow
from app.services import accounts
from tests.fixtures.portal import HTMX, log_in, token_for

REMEMBER = "dd_remember"


@pytest.fixture
def physician(make_user):
    return make_user(email="sessions@example.org", full_name="Dr. Session")


def sessions_of(app, user) -> list[PortalSession]:
    with app.app_context():
        rows = db.session.scalars(select(PortalSession).where(PortalSession.user_id == user.id))
        found = list(rows)
        db.session.remove()
        return found


def tokens_of(app, user) -> list[RememberToken]:
    with app.app_context():
        rows = db.session.scalars(select(RememberToken).where(RememberToken.user_id == user.id))
        found = list(rows)
        db.session.remove()
        return found


def age_sessions(app, user, **ages: timedelta) -> None:
    """Set the user's session timestamps to that long ago (``created_at=..., last_seen_at=...``)."""
    with app.app_context():
        values = {column: utcnow() - age for column, age in ages.items()}
        db.session.execute(
            update(PortalSession).where(PortalSession.user_id == user.id).values(**values)
        )
        db.session.commit()
        db.session.remove()


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def test_a_login_records_a_session_whose_secret_only_the_cookie_holds(app, client, physician):
    log_in(client, physician.email)
    [record] = sessions_of(app, physician)
    assert record.user_agent and "Werkzeug" in record.user_agent
    assert record.client_address == "127.0.0.1"
    assert record.created_at <= record.last_seen_at
    cookie = client.get_cookie("session").value
    assert record.key_hash not in cookie  # the cookie carries the secret, the table its digest
    assert logged_in(client)


def test_a_session_cookie_replayed_after_logout_goes_to_the_login_page(app, client, physician):
    log_in(client, physician.email)
    saved = client.get_cookie("session").value
    assert logged_in(client)
    client.post("/logout", data={"csrf_token": token_for(client)})
    assert sessions_of(app, physician) == []

    thief = app.test_client()
    thief.set_cookie("session", saved)
    response = thief.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    # A form post with it does nothing either (it would have opened a case before).
    response = thief.post("/cases/new", data={"patient_reference": "PT-1"}, headers=HTMX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_a_remember_me_cookie_replayed_after_logout_goes_to_the_login_page(app, client, physician):
    log_in(client, physician.email, remember="y")
    saved = client.get_cookie(REMEMBER).value
    client.post("/logout", data={"csrf_token": token_for(client)})
    assert tokens_of(app, physician) == []

    thief = app.test_client()
    thief.set_cookie(REMEMBER, saved)
    response = thief.get("/", headers={"User-Agent": "another browser"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_remember_me_token_logs_in_once_and_is_rotated(app, client, physician):
    log_in(client, physician.email, remember="y")
    first = client.get_cookie(REMEMBER).value
    [stored] = tokens_of(app, physician)
    assert stored.token_hash != first
    assert stored.expires_at - utcnow() > timedelta(days=29, hours=23)

    browser = app.test_client()  # the browser restarted: only the remember-me cookie is left
    browser.set_cookie(REMEMBER, first)
    assert logged_in(browser)
    second = browser.get_cookie(REMEMBER).value
    assert second != first
    assert len(sessions_of(app, physician)) == 2  # a session of its own was recorded
    [rotated] = tokens_of(app, physician)
    assert rotated.expires_at == stored.expires_at  # rotation does not extend the 30 days

    copy = app.test_client()  # the old value, copied before it was used: refused
    copy.set_cookie(REMEMBER, first)
    assert not logged_in(copy)
    again = app.test_client()
    again.set_cookie(REMEMBER, second)
    assert logged_in(again)


def test_remember_me_lasts_remember_days(make_app, make_user):
    app = make_app(REMEMBER_DAYS=2)
    user = make_user()
    client = app.test_client()
    log_in(client, user.email, remember="y")
    token = client.get_cookie(REMEMBER).value
    [stored] = tokens_of(app, user)
    assert timedelta(days=1, hours=23) < stored.expires_at - utcnow() <= timedelta(days=2)
    with app.app_context():
        db.session.execute(update(RememberToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    browser = app.test_client()
    browser.set_cookie(REMEMBER, token)
    assert not logged_in(browser)


def test_without_remember_me_no_token_is_made(app, client, physician):
    log_in(client, physician.email)
    assert client.get_cookie(REMEMBER) is None
    assert tokens_of(app, physician) == []


def test_an_idle_session_ends_and_htmx_gets_hx_redirect_with_next(app, client, physician):
    log_in(client, physician.email)
    assert logged_in(client)
    age_sessions(app, physician, last_seen_at=timedelta(minutes=14))
    assert logged_in(client)  # 14 of the 15 minutes: still open, and the activity recorded
    age_sessions(app, physician, last_seen_at=timedelta(minutes=17))
    response = client.get("/?q=PT", headers=HTMX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/?q%3DPT"
    [record] = sessions_of(app, physician)
    assert record.locked_at is not None
    # Locked means ended: later activity does not bring it back.
    age_sessions(app, physician, last_seen_at=timedelta(minutes=-20))
    assert not logged_in(client)


def test_the_idle_time_is_configurable(make_app, make_user):
    app = make_app(PORTAL_IDLE_MINUTES=2)
    user = make_user()
    client = app.test_client()
    log_in(client, user.email)
    age_sessions(app, user, last_seen_at=timedelta(minutes=4))
    assert not logged_in(client)


def test_a_session_older_than_its_lifetime_ends_however_active(app, client, physician):
    log_in(client, physician.email)
    age_sessions(app, physician, created_at=timedelta(hours=8, minutes=1))
    assert not logged_in(client)
    assert sessions_of(app, physician) == []


def test_the_idle_lock_ends_the_session_and_its_remember_me_token(app, client, physician):
    log_in(client, physician.email, remember="y")
    token = token_for(client)
    response = client.post("/session/lock", headers={"X-CSRFToken": token})
    assert response.status_code == 204
    assert client.get_cookie(REMEMBER) is None
    assert tokens_of(app, physician) == []
    response = client.get("/cases/new")
    assert response.status_code == 302
    login = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The page locked after 15 minutes without activity" in login
    assert f'value="{physician.email}"' in login  # the lock screen asks only for the password


def test_the_ping_keeps_a_session_open(app, client, physician):
    log_in(client, physician.email)
    token = token_for(client)
    age_sessions(app, physician, last_seen_at=timedelta(minutes=10))
    response = client.post("/session/ping", headers={"X-CSRFToken": token})
    assert response.status_code == 204
    [record] = sessions_of(app, physician)
    assert utcnow() - record.last_seen_at < timedelta(minutes=1)


def test_log_out_everywhere_ends_every_session_and_token(app, client, physician, login_tokens):
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, physician.email, remember="y")
    log_in(phone, physician.email)
    remembered = laptop.get_cookie(REMEMBER).value
    pair = login_tokens(physician.email)
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert api.get("/api/users/me", headers=bearer).status_code == 200

    response = phone.post("/logout/everywhere", data={"csrf_token": token_for(phone)})
    assert response.status_code == 302
    assert "logged out everywhere" in phone.get("/login").get_data(as_text=True)

    assert not logged_in(phone) and not logged_in(laptop)
    restarted = app.test_client()
    restarted.set_cookie(REMEMBER, remembered)
    assert not logged_in(restarted)
    assert sessions_of(app, physician) == [] and tokens_of(app, physician) == []
    response = api.get("/api/users/me", headers=bearer)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_revoked"
    refresh = {"Authorization": f"Bearer {pair['refresh_token']}"}
    assert api.post("/api/auth/refresh", headers=refresh).status_code == 401


def test_api_logout_all_revokes_every_token_and_portal_session(
    app, client, physician, login_tokens
):
    browser = app.test_client()
    log_in(browser, physician.email, remember="y")
    remembered = browser.get_cookie(REMEMBER).value
    first, second = login_tokens(physician.email), login_tokens(physician.email)
    bearer = {"Authorization": f"Bearer {first['access_token']}"}

    response = client.post("/api/auth/logout_all", headers=bearer)
    assert response.status_code == 200
    assert response.get_json() == {"message": "Logged out everywhere."}

    for pair in (first, second):
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert client.get("/api/users/me", headers=headers).status_code == 401
        headers = {"Authorization": f"Bearer {pair['refresh_token']}"}
        assert client.post("/api/auth/refresh", headers=headers).status_code == 401
    assert not logged_in(browser)
    restarted = app.test_client()
    restarted.set_cookie(REMEMBER, remembered)
    assert not logged_in(restarted)
    # A new login works as before.
    fresh = login_tokens(physician.email)
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert client.get("/api/users/me", headers=headers).status_code == 200


def test_api_logout_all_needs_an_access_token(client):
    response = client.post("/api/auth/logout_all")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_missing"


@pytest.mark.parametrize("change", ["deactivate", "reset_password"])
def test_deactivation_and_password_reset_end_portal_sessions(app, client, physician, change):
    log_in(client, physician.email, remember="y")
    remembered = client.get_cookie(REMEMBER).value
    with app.app_context():
        if change == "deactivate":
            accounts.set_active(email=physician.email, active=False)
        else:
            accounts.reset_password(email=physician.email, password="Another-horse-43")
        db.session.remove()
    assert not logged_in(client)
    restarted = app.test_client()
    restarted.set_cookie(REMEMBER, remembered)
    assert not logged_in(restarted)
    assert tokens_of(app, physician) == []


def test_every_page_offers_log_out_everywhere(client, physician):
    log_in(client, physician.email)
    html = client.get("/").get_data(as_text=True)
    assert 'action="/logout/everywhere"' in html


def test_a_login_deletes_the_users_dead_sessions_and_expired_tokens(app, physician):
    old = app.test_client()
    log_in(old, physician.email, remember="y")
    age_sessions(app, physician, created_at=timedelta(hours=9))
    with app.app_context():
        db.session.execute(update(RememberToken).values(expires_at=utcnow()))
        db.session.commit()
        db.session.remove()
    log_in(app.test_client(), physician.email)
    [alive] = sessions_of(app, physician)
    assert utcnow() - alive.created_at < timedelta(minutes=1)
    assert tokens_of(app, physician) == []
