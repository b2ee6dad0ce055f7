"""MFA in Debian's Chromium: a physician sets up the authenticator app from the QR code page,
keeps the recovery codes, logs out, and logs in with the password and then a code."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.conftest import STRONG_PASSWORD
from tests.e2e.test_portal_flow import Shots, log_in, open_page
from tests.fixtures.mfa import codes_after_enrolment, enrolment_code

pytestmark = pytest.mark.browser


def test_enrol_then_log_in_with_a_code(browser, live, physician, screenshot_dir):
    shots = Shots(screenshot_dir, "mfa")
    page = open_page(browser)
    log_in(page, live, physician.email)
    page.get_by_role("link", name="Two-factor").click()
    page.wait_for_url(f"{live.url}/account/mfa")
    assert page.locator(".mfa-qr svg").is_visible()
    shots(page, "enrol")
    secret = page.locator("#mfa-secret").text_content().strip()
    assert pyotp.TOTP(secret).provisioning_uri(name="x")  # a valid base32 secret
    page.fill("#code", enrolment_code(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    codes = page.locator("#recovery-codes code")
    codes.first.wait_for()
    assert codes.count() == 10
    shots(page, "recovery-codes")

    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url(re.compile(r".*/login$"))
    page.fill("#email", physician.email)
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/login/code")
    shots(page, "code")
    page.fill("#code", next(codes_after_enrolment(secret)))
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    assert "Welcome, Dr. Anna Meyer." in page.content()
    assert page.problems == []  # no console error, no CSP violation
