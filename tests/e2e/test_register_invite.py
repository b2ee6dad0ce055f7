"""Registering with an invitation in Debian's Chromium (REGISTRATION=invite): the link made by
``flask users invite`` opens the form, a typo is said inline, the account logs in; without the
invitation the page says why and shows no form. At 1280 px and 375 px, with JavaScript on and off.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import STRONG_PASSWORD
from tests.e2e.conftest import LiveServer
from tests.e2e.test_portal_flow import PHONE, Shots, open_page
from tests.test_registration import invite

pytestmark = pytest.mark.browser


@pytest.fixture
def invite_live(make_app, app) -> Iterator[tuple[LiveServer, object]]:
    invite_app = make_app(REGISTRATION="invite")
    with LiveServer(invite_app) as server:
        yield server, invite_app


@pytest.mark.parametrize(("javascript", "viewport"), [(True, None), (False, PHONE)])
def test_register_from_an_invitation_link_then_log_in(
    browser, invite_live, screenshot_dir, javascript, viewport
):
    live, invite_app = invite_live
    token = invite(invite_app, "dr.weber@example.org")
    shots = Shots(screenshot_dir, f"register-{'js' if javascript else 'nojs'}")
    page = open_page(browser, javascript=javascript, viewport=viewport)

    page.goto(f"{live.url}/register")
    assert "Registration needs an invitation" in page.content()
    assert page.locator("#email").count() == 0
    shots(page, "no-invitation")

    page.goto(f"{live.url}/register?invite={token}")
    assert page.locator("#invite-note").is_visible()
    page.fill("#email", "dr.weber@example.org")
    page.fill("#full_name", "Dr. Lena Weber")
    page.fill("#password", STRONG_PASSWORD)
    page.fill("#confirm", STRONG_PASSWORD + "x")
    page.click("button[type=submit]")
    assert page.locator("#confirm-error").text_content() == "The two passwords differ."
    assert page.locator("#email").input_value() == "dr.weber@example.org"  # nothing typed lost
    shots(page, "typo")

    page.fill("#password", STRONG_PASSWORD)
    page.fill("#confirm", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/login$"))
    assert "Your account is ready" in page.content()
    shots(page, "ready")

    page.fill("#email", "dr.weber@example.org")
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    assert "Welcome, Dr. Lena Weber." in page.content()
    # No console error or CSP violation but the 403 of the page without an invitation (an answer).
    assert [problem for problem in page.problems if "status of 403" not in problem] == []
