"""In the browser, under CONSENT_POLICY=enforced: a new case waits for the patient's consent,
the consent form is at hand, and recording it opens the questionnaire (htmx, and JavaScript
off); a refused image storage holds the photo step. Screenshots at 1280 and 375 px."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import User
from app.services import consent
from tests.e2e.conftest import LiveServer
from tests.e2e.test_portal_flow import DESKTOP, PHONE, Shots, log_in, open_page
from tests.fixtures.portal import ready_for_photo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def _enforced_app(make_app, _migrated_app, reference_ai_url):
    return make_app(AI_SERVICE_URL=reference_ai_url, CONSENT_POLICY="enforced")


@pytest.fixture
def enforced_live(_enforced_app, app):
    with LiveServer(_enforced_app) as server:
        yield server


@pytest.mark.parametrize(
    ("javascript", "viewport", "name"),
    [(True, DESKTOP, "desktop"), (True, PHONE, "phone"), (False, DESKTOP, "no-js")],
)
def test_consent_opens_the_questionnaire(  # noqa: PLR0917 - fixtures
    browser, enforced_live, physician, make_case, screenshot_dir, javascript, viewport, name
):
    case_id = make_case(physician, patient_reference=f"PT-CONSENT-{name.upper()}")
    shots = Shots(screenshot_dir, f"consent-{name}")
    page = open_page(browser, javascript=javascript, viewport=viewport)
    log_in(page, enforced_live, physician.email)
    page.goto(f"{enforced_live.url}/cases/{case_id}")
    needed = page.locator("#consent-needed")
    assert "wait for the patient" in needed.inner_text()
    assert page.locator("form.consent-form").is_visible()  # the form at hand, open
    assert page.locator("input[name=photo]").count() == 0
    shots(page, "waiting")

    page.get_by_role("radio", name="Granted").first.check()
    page.get_by_role("button", name="Save consent").click()
    page.wait_for_selector("#questionnaire [name=answer]")
    assert page.locator("#consent-needed").count() == 0
    assert "Granted" in page.locator("#consent").inner_text()
    assert "Dr. Anna Meyer" in page.locator("#consent").inner_text()
    shots(page, "recorded")
    if javascript:
        assert re.search(rf"/cases/{case_id}$", page.url)  # swapped in place
    assert page.problems == []


def test_refused_image_storage_holds_the_photo_step(
    browser, enforced_live, _enforced_app, ai_app, physician, screenshot_dir
):
    case_id = ready_for_photo(ai_app, physician, patient_reference="PT-CONSENT-PHOTO")
    with _enforced_app.app_context():
        consent.record_consent(
            actor=db.session.get(User, physician.id),
            case_id=case_id,
            decisions={"ai_analysis": "granted", "image_storage": "refused"},
        )
        db.session.remove()
    shots = Shots(screenshot_dir, "consent-photo")
    page = open_page(browser, viewport=PHONE)
    log_in(page, enforced_live, physician.email)
    page.goto(f"{enforced_live.url}/cases/{case_id}")
    assert "The photo step waits" in page.locator("#consent-needed").inner_text()
    assert page.locator("input[name=photo]").count() == 0
    shots(page, "photo-held")
    page.locator("#consent-image_storage-0").check()
    page.get_by_role("button", name="Save consent").click()
    page.wait_for_selector("input[name=photo]", state="attached")
    shots(page, "photo-step")
    assert page.problems == []


def test_advisory_warns_with_the_form_folded(browser, live, physician, make_case, screenshot_dir):
    case_id = make_case(physician, patient_reference="PT-CONSENT-ADVISORY")
    shots = Shots(screenshot_dir, "consent-advisory")
    page = open_page(browser, viewport=DESKTOP)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    warning = page.locator("#consent .consent-warning")
    assert warning.inner_text() == "The patient's consent to AI analysis is not recorded."
    assert not page.locator("form.consent-form").is_visible()  # folded: advisory holds nothing
    assert page.locator("#questionnaire [name=answer]").count() > 0
    shots(page, "warning")
    page.get_by_text("Record the patient's consent").click()
    page.locator("#consent-ai_analysis-0").check()
    page.get_by_role("button", name="Save consent").click()
    page.wait_for_selector("#consent .consent-granted")
    assert page.locator("#consent .consent-warning").count() == 0
    shots(page, "granted")
    assert page.problems == []
