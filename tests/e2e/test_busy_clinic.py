"""The portal in a busy clinic, in Debian's Chromium: a saved review is seen where the page
lands (JavaScript on and off, 1280 and 375 px wide).

Screenshots go to the ``screenshot_dir`` fixture's folder, prefixed ``clinic-``.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from flask import Flask

from tests.e2e.test_portal_flow import (
    CASE_URL,
    DESKTOP,
    NEVUS,
    PHONE,
    Shots,
    log_in,
    open_page,
)
from tests.fixtures.portal import ready_for_photo

pytestmark = pytest.mark.browser


def analysed_case(app: Flask, user: Any, **case_fields: Any) -> uuid.UUID:
    """A case of ``user`` with its questionnaire answered and the nevus photo analysed."""
    from app.extensions import db
    from app.models import User
    from app.services import diagnosis

    case_id = ready_for_photo(app, user, **case_fields)
    with app.app_context():
        diagnosis.diagnose_upload(
            actor=db.session.get(User, user.id),
            upload=io.BytesIO(NEVUS.read_bytes()),
            anamnesis={"photo_taken": True},
            case_id=case_id,
        )
        db.session.remove()
    return case_id


def in_viewport(page: Any, selector: str) -> bool:
    """Whether the whole of the first element matching ``selector`` is inside the viewport."""
    return page.locator(selector).first.evaluate(
        """element => { const box = element.getBoundingClientRect();
             return box.height > 0 && box.top >= 0 && box.left >= 0
               && box.bottom <= window.innerHeight && box.right <= window.innerWidth; }"""
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_a_saved_review_is_confirmed_in_view_with_the_report_at_hand(  # noqa: PLR0917 - fixtures
    browser, live, ai_app, physician, screenshot_dir, javascript, viewport
):
    case_id = analysed_case(ai_app, physician)
    name = f"clinic-review-{'js' if javascript else 'nojs'}-{viewport['width']}"
    page = open_page(browser, javascript=javascript, viewport=viewport)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    page.fill("#final_diagnosis", "Melanocytic nevus")
    page.get_by_label("Yes, it agrees").check()
    page.get_by_role("button", name="Save the review").click()
    page.wait_for_selector(".review-saved")
    page.wait_for_timeout(300)  # let a smooth scroll settle, if any
    assert "Review saved" in page.locator(".review-saved").inner_text()
    assert "Melanocytic nevus" in page.locator(".panel.reviewed").inner_text()
    assert in_viewport(page, ".review-saved")
    assert in_viewport(page, ".panel.reviewed a:has-text('Open the printable report')")
    page.screenshot(path=screenshot_dir / f"{name}.png")
    Shots(screenshot_dir, name)(page, "saved-full")
    if javascript:
        focused = page.evaluate("document.activeElement.className")
        assert "review-saved" in focused
        assert page.problems == []


def count_cases(app: Flask) -> int:
    from app.extensions import db
    from app.models import Case

    with app.app_context():
        count = db.session.query(Case).count()
        db.session.remove()
    return count


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_double_click_on_open_case_opens_one_case(browser, live, ai_app, physician, javascript):
    page = open_page(browser, javascript=javascript)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/new")
    page.fill("#patient_reference", "PT-2026-0077")
    page.fill("#patient_age", "61")
    page.select_option("#patient_sex", "male")
    page.select_option("#body_site", "back")
    page.fill("#chief_complaint", "Changing mole on the back.")
    page.locator("button:has-text('Open case and start the questionnaire')").dblclick()
    page.wait_for_url(CASE_URL)
    page.wait_for_selector("#questionnaire")
    assert count_cases(ai_app) == 1
    if javascript:
        assert page.problems == []


def test_a_plain_form_disables_its_button_once_sent(browser, live, physician):
    page = open_page(browser)
    page.goto(f"{live.url}/login")
    page.fill("#email", physician.email)
    page.fill("#password", "wrong password, twice")
    # After app.js's own submit handler has run, note the button's state where the next page
    # can read it (the post then leaves this page).
    page.evaluate(
        """document.addEventListener("submit", () => setTimeout(() => {
             const button = document.querySelector("button[type=submit]");
             sessionStorage.setItem("sent", JSON.stringify([button.disabled, button.ariaBusy]));
           }, 0))"""
    )
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error")  # the wrong password: the form again, usable
    assert page.evaluate("sessionStorage.getItem('sent')") == '[true,"true"]'
    assert page.locator("button[type=submit]").is_enabled()
