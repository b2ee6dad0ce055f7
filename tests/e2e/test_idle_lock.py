"""The idle lock in Debian's Chromium: a physician types a review and walks away; the page
warns, then blanks the patient data and asks for the password; after the login the review is
back in the form as it was typed. The idle time is a few seconds here (PORTAL_IDLE_MINUTES)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app.extensions import db
from app.models import User
from app.services import diagnosis
from tests.conftest import STRONG_PASSWORD
from tests.e2e.conftest import LiveServer
from tests.e2e.test_portal_flow import NEVUS, Shots, log_in, open_page
from tests.fixtures.portal import ready_for_photo
from tests.test_portal_diagnosis import WORRYING

pytestmark = pytest.mark.browser

IDLE_SECONDS = 12
WARNING_SECONDS = 6
NOTES = "Dermoscopy: atypical network at 3 o'clock. Excise; call the patient on Monday."


@pytest.fixture(scope="session")
def _idle_app(make_app, _migrated_app: Flask, reference_ai_url: str) -> Flask:
    return make_app(
        AI_SERVICE_URL=reference_ai_url,
        PORTAL_IDLE_MINUTES=IDLE_SECONDS / 60,
        PORTAL_IDLE_WARNING_SECONDS=WARNING_SECONDS,
    )


@pytest.fixture
def live(_idle_app: Flask, app: Flask) -> Iterator[LiveServer]:
    with LiveServer(_idle_app) as server:
        yield server


@pytest.fixture
def analysed_case(_idle_app: Flask, make_user) -> tuple[Any, str]:
    physician = make_user(email="dr.idle@example.org", full_name="Dr. Ida Idle")
    case_id = ready_for_photo(_idle_app, physician, WORRYING, patient_reference="PT-IDLE-7")
    with _idle_app.app_context(), NEVUS.open("rb") as photo:
        actor = db.session.get(User, physician.id)
        diagnosis.diagnose_upload(actor=actor, upload=photo, anamnesis={}, case_id=case_id)
        db.session.remove()
    return physician, str(case_id)


def test_the_idle_lock_blanks_the_page_and_the_typed_review_comes_back(
    browser, live, analysed_case, screenshot_dir
):
    physician, case_id = analysed_case
    shots = Shots(screenshot_dir, "idle-lock")
    page = open_page(browser)
    log_in(page, live, physician.email)
    case_url = f"{live.url}/cases/{case_id}"
    page.goto(case_url)
    assert page.get_by_text("PT-IDLE-7").first.is_visible()
    page.fill("#final_diagnosis", "Melanoma in situ")
    page.fill("#notes", NOTES)

    # A warning first; any activity takes it away.
    warning = page.locator("#idle-warning")
    warning.wait_for(state="visible", timeout=(IDLE_SECONDS + 10) * 1000)
    assert re.search(r"locks in \d+ seconds", warning.inner_text())
    shots(page, "warning")
    page.mouse.move(200, 300)
    page.mouse.move(220, 320)
    warning.wait_for(state="hidden", timeout=3000)

    # Then the lock: patient data gone, the login page asks for the password (email filled in).
    page.wait_for_url(re.compile(r".*/login\?next="), timeout=(IDLE_SECONDS + 15) * 1000)
    html = page.content()
    assert "PT-IDLE-7" not in html and NOTES not in html
    assert "locked after 0.2 minutes without activity" in page.inner_text("main")
    assert page.input_value("#email") == physician.email
    assert page.evaluate("document.activeElement.id") == "password"
    shots(page, "locked")

    # The server ended the session too: the case page needs the login.
    other_tab = page.context.new_page()
    other_tab.goto(case_url)
    assert "/login" in other_tab.url
    other_tab.close()

    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(case_url)
    assert "What you sent after the page locked was kept: your review" in page.inner_text("main")
    assert page.input_value("#notes") == NOTES
    assert page.input_value("#final_diagnosis") == "Melanoma in situ"
    shots(page, "restored")

    # Walking away again from the restored review, untouched: it is kept again.
    page.wait_for_url(re.compile(r".*/login\?next="), timeout=(IDLE_SECONDS + 15) * 1000)
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(case_url)
    assert page.input_value("#notes") == NOTES
    assert [p for p in page.problems if "status of 401" not in p] == []


def test_the_warning_and_the_lock_are_not_hidden_behind_the_full_size_photo(
    browser, live, analysed_case
):
    """The full-size viewer is a modal dialog (the top layer): the warning must not stay behind
    it, and the lock must not leave the photo on screen while it ends the session."""
    physician, case_id = analysed_case
    page = open_page(browser)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    page.locator("a.photo-zoom[data-viewer]").first.click()
    page.wait_for_selector("dialog.photo-viewer[open]")

    warning = page.locator("#idle-warning")
    warning.wait_for(state="visible", timeout=(IDLE_SECONDS + 10) * 1000)
    on_top = page.evaluate(
        """() => { const r = document.querySelector('#idle-warning').getBoundingClientRect();
                   const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                   return !!(e && e.closest('#idle-warning')); }"""
    )
    assert on_top, "the idle warning is behind the photo viewer"

    # Hold the lock request: the photo must be gone before the login page comes.
    held = []
    page.route("**/session/lock", lambda route: held.append(route))  # noqa: PLW0108 - a builtin is refused
    page.wait_for_selector("#main", state="hidden", timeout=(IDLE_SECONDS + 10) * 1000)
    assert page.locator("dialog[open]").count() == 0
    assert not page.locator("dialog.photo-viewer img").is_visible()
    for route in held:
        route.continue_()
    page.wait_for_url(re.compile(r".*/login\?next="), timeout=10_000)
