"""Portal sessions: every page needs a login, login renews the session, ``next`` stays local,
logout forgets the remember-me cookie, and CSRF protects every form post."""

from __future__ import annotations

import uuid
from http.cookies import SimpleCookie

import pytest

from tests.fixtures.portal import HTMX, csrf_token, log_in, token_for

SOME_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
REMEMBER = "dd_remember"  # the remember-me cookie (config REMEMBER_ME_COOKIE)

#: Every portal page (GET) with the address it lives at.
PAGES = [
    "/",
    "/cases?q=PT&status=reviewed",
    "/cases/new",
    f"/cases/{SOME_ID}",
    f"/cases/{SOME_ID}/report",
    f"/cases/{SOME_ID}/images/{SOME_ID}",
]

#: Every portal form post.
POSTS = [
    "/cases/new",
    f"/cases/{SOME_ID}/answers",
    f"/cases/{SOME_ID}/answers/change",
    f"/cases/{SOME_ID}/photo",
    f"/cases/{SOME_ID}/analysis",
    f"/cases/{SOME_ID}/review",
    "/logout",
    "/logout/everywhere",
    "/session/lock",
    "/session/ping",
]


def set_cookies(response) -> dict[str, SimpleCookie]:
    """The cookies a response sets, by name."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            found[name] = morsel
    return found


@pytest.mark.parametrize("path", PAGES)
def test_every_page_redirects_to_the_login_with_next(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    follow = client.get(response.headers["Location"])
    assert follow.status_code == 200
    assert "Please log in to continue." in follow.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def test_an_htmx_request_without_a_session_gets_hx_redirect_not_a_login_form(client, path):
    response = client.get(path, headers=HTMX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert response.get_data() == b""


def test_login_renews_the_session_and_goes_to_my_cases(client, make_user):
    user = make_user(email="renew@example.org", full_name="Dr. Renew")
    client.get("/login")
    before = client.get_cookie("session")
    response = log_in(client, "renew@example.org")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    after = client.get_cookie("session")
    assert after is not None and (before is None or after.value != before.value)
    page = client.get("/")
    assert page.status_code == 200
    assert "Welcome, Dr. Renew." in page.get_data(as_text=True)
    assert user.email == "renew@example.org"


def test_login_follows_a_local_next_only(client, make_user):
    make_user(email="next@example.org")
    token = token_for(client, "/login")
    form = {"csrf_token": token, "email": "next@example.org", "password": "Correct-horse-42"}
    response = client.post("/login?next=https://evil.example/phish", data=form)
    assert response.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": token_for(client)})
    for target in ("//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        token = token_for(client, "/login")
        response = client.post(f"/login?next={target}", data={**form, "csrf_token": token})
        assert response.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": token_for(client)})
    token = token_for(client, "/login")
    response = client.post("/login?next=/cases/new", data={**form, "csrf_token": token})
    assert response.headers["Location"] == "/cases/new"


def test_a_wrong_password_rerenders_the_form_with_the_message(client, make_user):
    make_user(email="wrong@example.org")
    response = log_in(client, "wrong@example.org", password="Not-the-password-1")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html
    assert client.get("/").status_code == 302


def test_an_empty_login_form_is_422_with_inline_errors(client):
    token = token_for(client, "/login")
    response = client.post("/login", data={"csrf_token": token})
    assert response.status_code == 422
    assert 'class="field-error"' in response.get_data(as_text=True)


def test_logout_clears_the_session_and_the_remember_me_cookie(client, make_user):
    make_user(email="remember@example.org")
    response = log_in(client, "remember@example.org", remember="y")
    assert REMEMBER in set_cookies(response)
    assert client.get_cookie(REMEMBER) is not None

    response = client.post("/logout", data={"csrf_token": token_for(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    cleared = set_cookies(response)[REMEMBER]
    assert cleared.value == "" or cleared["expires"].startswith("Thu, 01 Jan 1970")
    assert client.get_cookie(REMEMBER) is None
    # Nothing logs the browser back in.
    assert client.get("/").status_code == 302


def test_logout_is_a_post_only(client, make_user, portal_login):
    portal_login(make_user(), client)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("path", POSTS)
def test_every_form_post_without_a_csrf_token_is_refused(client, make_user, portal_login, path):
    portal_login(make_user(), client)
    response = client.post(path, data={})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This form has expired" in html
    assert "csrf_failed" in html
    # The session survives a refused post (logout included).
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("path", POSTS)
def test_a_csrf_token_from_another_session_is_refused(client, app, make_user, portal_login, path):
    other = portal_login(make_user(), app.test_client())
    foreign = token_for(other)
    portal_login(make_user(), client)
    response = client.post(path, data={"csrf_token": foreign})
    assert response.status_code == 400


def test_the_csrf_token_rides_in_hx_headers_for_htmx(client, make_user, portal_login):
    portal_login(make_user(), client)
    html = client.get("/").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    token = csrf_token(html)
    # The header alone is enough (htmx sends it on every request).
    response = client.post(
        "/cases/new", data={"patient_reference": ""}, headers={**HTMX, "X-CSRFToken": token}
    )
    assert response.status_code == 422


def test_an_expired_session_answers_a_post_with_the_login_not_a_csrf_error(
    client, make_user, portal_login
):
    portal_login(make_user(), client)
    token = token_for(client)
    client.delete_cookie("session")
    path = f"/cases/{SOME_ID}/answers"
    # Back to the case page after the login: the post's own address only answers POST.
    page = f"/cases/{SOME_ID}"
    response = client.post(path, data={"csrf_token": token}, headers=HTMX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == f"/login?next={page}"
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={page}"
