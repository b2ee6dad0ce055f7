"""MFA with TOTP (issue #13, point 6): enrolment, the login's second step (API and portal),
recovery codes, MFA_REQUIRED_FOR, the admin's reset, throttling of codes."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.conftest import STRONG_PASSWORD
from tests.fixtures.mfa import enrolment_code
from tests.fixtures.portal import csrf_token, log_in


def not_a_valid_code(secret: str) -> str:
    """A 6-digit code that is none of the codes accepted now (the steps around this one)."""
    totp, now = pyotp.TOTP(secret), time.time()
    valid = {totp.at(now + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def api_login(client, email, password=STRONG_PASSWORD):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def second_step(client, token, code):
    return client.post("/api/auth/mfa", json={"mfa_token": token, "code": code})


def test_api_login_asks_for_the_code_then_gives_the_tokens(client, make_user, enrol):
    user = make_user()
    factor = enrol(user)
    first = api_login(client, user.email)
    assert first.status_code == 202
    body = first.get_json()
    assert body["mfa_required"] is True and body["expires_in"] == 300
    assert "access_token" not in body
    done = second_step(client, body["mfa_token"], next(factor["codes"]))
    assert done.status_code == 200
    me = client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {done.get_json()['access_token']}"}
    )
    assert me.status_code == 200


def test_a_wrong_or_reused_code_is_refused(client, make_user, enrol):
    user = make_user()
    factor = enrol(user)
    token = api_login(client, user.email).get_json()["mfa_token"]
    code = next(factor["codes"])
    wrong = second_step(client, token, not_a_valid_code(factor["secret"]))
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "mfa_code_invalid"
    assert second_step(client, token, code).status_code == 200
    again = second_step(client, token, code)  # replayed (RFC 6238 §5.2: one use per code)
    assert again.status_code == 401
    # The code used at enrolment cannot log in either.
    assert second_step(client, token, enrolment_code(factor["secret"])).status_code == 401


def test_a_recovery_code_logs_in_once(client, make_user, enrol):
    user = make_user()
    factor = enrol(user)
    assert len(factor["recovery"]) == 10 and len(set(factor["recovery"])) == 10
    code = factor["recovery"][3]
    token = api_login(client, user.email).get_json()["mfa_token"]
    assert second_step(client, token, code.upper().replace("-", " ")).status_code == 200
    assert second_step(client, token, code).status_code == 401


def test_a_forged_or_outdated_mfa_token_is_refused(app, client, make_user, enrol):
    from app.services import accounts

    user = make_user()
    factor = enrol(user)
    token = api_login(client, user.email).get_json()["mfa_token"]
    forged = second_step(client, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "123456")
    assert forged.get_json()["error"]["code"] == "mfa_token_invalid"
    with app.app_context():  # a password reset since the login outdates its MFA token
        accounts.reset_password(email=user.email, password="Another-horse-43")
    outdated = second_step(client, token, next(factor["codes"]))
    assert outdated.status_code == 401
    assert outdated.get_json()["error"]["code"] == "mfa_token_invalid"


def test_wrong_codes_are_throttled_like_passwords(make_app, app, make_user, enrol):
    throttled = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = throttled.test_client()
    user = make_user()
    factor = enrol(user)
    token = api_login(client, user.email).get_json()["mfa_token"]
    codes = [second_step(client, token, "99999-99999").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert second_step(client, token, next(factor["codes"])).status_code == 429


def test_required_for_admins_refuses_api_tokens_until_enrolled(make_app, app, make_user, enrol):
    strict = make_app(MFA_REQUIRED_FOR="admin")
    client = strict.test_client()
    admin, physician = make_user(role="admin"), make_user()
    refused = api_login(client, admin.email)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "mfa_enrolment_required"
    assert api_login(client, physician.email).status_code == 200
    enrol(admin)
    assert api_login(client, admin.email).status_code == 202


def test_portal_login_asks_for_the_code(client, make_user, enrol):
    user = make_user()
    factor = enrol(user)
    response = log_in(client, user.email)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/code")
    assert client.get("/").status_code == 302  # not logged in before the code
    page = client.get("/login/code").get_data(as_text=True)
    wrong = client.post("/login/code", data={"csrf_token": csrf_token(page), "code": "12"})
    assert wrong.status_code == 401
    assert "That code is not valid" in wrong.get_data(as_text=True)
    done = client.post(
        "/login/code", data={"csrf_token": csrf_token(page), "code": next(factor["codes"])}
    )
    assert done.status_code == 302
    assert client.get("/").status_code == 200


def log_in_with_code(client, user, code, **form):
    log_in(client, user.email, **form)
    page = client.get("/login/code").get_data(as_text=True)
    done = client.post("/login/code", data={"csrf_token": csrf_token(page), "code": code})
    assert done.status_code == 302, done.get_data(as_text=True)[:300]


def test_a_remembered_browser_still_asks_an_mfa_user_for_the_code(app, client, make_user, enrol):
    """Remember-me replaces the password, never the second factor (a shared clinic computer)."""
    user = make_user()
    factor = enrol(user)
    log_in_with_code(client, user, next(factor["codes"]), remember="y")
    remembered = client.get_cookie("dd_remember").value

    browser = app.test_client()  # the browser restarted: only the remember-me cookie is left
    browser.set_cookie("dd_remember", remembered)
    response = browser.get("/cases")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/code")
    assert browser.get("/").status_code == 302  # nothing before the code
    page = browser.get("/login/code").get_data(as_text=True)
    assert "remembers your password, not your second factor" in page
    rotated = browser.get_cookie("dd_remember").value
    assert rotated != remembered  # used once, replaced (a copied cookie is spent)

    wrong = browser.post(
        "/login/code",
        data={"csrf_token": csrf_token(page), "code": not_a_valid_code(factor["secret"])},
    )
    assert wrong.status_code == 401 and browser.get("/").status_code == 302
    done = browser.post(
        "/login/code", data={"csrf_token": csrf_token(page), "code": next(factor["codes"])}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/cases")
    assert browser.get("/cases").status_code == 200
    assert browser.get_cookie("dd_remember").value == rotated  # still remembered next time

    again = app.test_client()
    again.set_cookie("dd_remember", rotated)
    assert again.get("/").headers["Location"].endswith("/login/code")
    page = again.get("/login/code").get_data(as_text=True)
    recovery = again.post(
        "/login/code", data={"csrf_token": csrf_token(page), "code": factor["recovery"][0]}
    )
    assert recovery.status_code == 302 and again.get("/").status_code == 200


def test_the_code_page_without_a_password_step_goes_to_the_login(client):
    response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_portal_enrolment_shows_a_qr_code_and_turns_mfa_on(client, make_user, portal_login):
    user = make_user()
    portal_login(user, client)
    page = client.get("/account/mfa").get_data(as_text=True)
    svg = re.search(r"<svg.*?</svg>", page, flags=re.S).group(0)
    assert "style=" not in svg  # the Content-Security-Policy allows no inline style
    assert "data:" not in page  # no inline image either
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page).group(1)
    assert client.get("/account/mfa").get_data(as_text=True).count(secret) >= 1  # same secret
    token = csrf_token(page)
    wrong = client.post(
        "/account/mfa", data={"csrf_token": token, "code": not_a_valid_code(secret)}
    )
    assert wrong.status_code == 422
    done = client.post("/account/mfa", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(
        r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.get_data(as_text=True)
    )
    assert len(codes) == 10
    status = client.get("/account/mfa").get_data(as_text=True)
    assert "10 unused recovery codes left" in status and "<svg" not in status


def test_required_enrolment_comes_first_in_the_portal(make_app, app, make_user, portal_login):
    strict = make_app(MFA_REQUIRED_FOR="all")
    client = strict.test_client()
    user = make_user()
    portal_login(user, client)
    for path in ("/", "/cases/new"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/account/mfa")
    htmx = client.get("/", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].endswith("/account/mfa")
    page = client.get("/account/mfa").get_data(as_text=True)
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page).group(1)
    client.post(
        "/account/mfa", data={"csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).now()}
    )
    assert client.get("/").status_code == 200


def test_cli_mfa_reset_turns_it_off_and_revokes_everything(app, client, make_user, enrol):
    user = make_user()
    factor = enrol(user)
    token = api_login(client, user.email).get_json()["mfa_token"]
    tokens = second_step(client, token, next(factor["codes"])).get_json()
    result = app.test_cli_runner().invoke(
        args=["users", "mfa-reset", "--email", user.email.upper()]
    )
    assert result.exit_code == 0, result.output
    assert "is off" in result.output
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/users/me", headers=headers).status_code == 401
    assert api_login(client, user.email).status_code == 200  # no second step any more
    unknown = app.test_cli_runner().invoke(args=["users", "mfa-reset", "--email", "x@y.org"])
    assert unknown.exit_code != 0


def test_unknown_mfa_policy_refuses_to_start(make_app):
    with pytest.raises(RuntimeError, match="MFA_REQUIRED_FOR"):
        make_app(MFA_REQUIRED_FOR="sometimes")


def test_openapi_documents_the_second_step(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/api/auth/mfa" in paths
    assert "202" in paths["/api/auth/login"]["post"]["responses"]
