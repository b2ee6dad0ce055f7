"""In the browser: an answer changed after the analysis marks the results outdated, and one
click analyses again (#12). Chromium through Playwright, the reference AI over real HTTP."""

from __future__ import annotations

import pytest

from tests.e2e.test_portal_flow import NEVUS, Shots, log_in, open_page, upload_photo
from tests.fixtures.portal import ready_for_photo


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_changed_answer_marks_the_results_outdated_and_one_click_analyses_again(  # noqa: PLR0917
    browser, live, ai_app, physician, screenshot_dir, javascript
):
    shots = Shots(screenshot_dir, f"outdated-{'js' if javascript else 'nojs'}")
    case_id = ready_for_photo(ai_app, physician)
    page = open_page(browser, javascript=javascript)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    upload_photo(page, shots, NEVUS)
    results = page.locator("#results")
    assert results.locator("article.headline").is_visible()
    assert page.locator("#outdated").count() == 0

    # Change the age: the question comes back with the earlier answer filled in.
    page.locator("#answers summary").click()
    page.get_by_role("button", name="Change the answer “Age”").click()
    page.wait_for_selector("#questionnaire")
    assert "Change an answer" in page.locator("#questionnaire").inner_text()
    age = page.locator("#answer-input")
    assert age.input_value() == "54"
    shots(page, "change-age")
    age.fill("81")
    page.get_by_role("button", name="Save and continue").click()

    # The results stay, computed from age 54, and say that they are outdated.
    page.wait_for_selector("#outdated")
    banner = page.locator("#outdated").inner_text()
    assert "These results are outdated" in banner and "Age" in banner
    inputs = page.locator("details.analysis-inputs")
    assert inputs.get_attribute("open") is not None
    assert "54 years" in inputs.inner_text()
    shots(page, "outdated")

    # One click: a new analysis from the current answers; the old one stays in the history.
    page.get_by_role("button", name="Analyse again with the current answers").click()
    page.wait_for_selector("details.analysis-history")
    assert page.locator("#outdated").count() == 0
    assert "Earlier analyses (1)" in page.locator("details.analysis-history").inner_text()
    page.locator("details.analysis-inputs summary").click()
    # One age per case: the answered age moved the case's age too, and both were sent.
    sent = page.locator("details.analysis-inputs").inner_text()
    assert "81 years" in sent and "54 years" not in sent
    assert "81" in page.locator("details.analysis-inputs table").inner_text()  # the answer
    shots(page, "analysed-again")
    if javascript:
        assert page.problems == []
