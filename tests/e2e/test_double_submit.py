"""A double click without JavaScript, in Debian's Chromium: "Upload and analyse" clicked twice
posts the photo form twice (the browser abandons the first answer, the server still finishes
it); the case keeps one photo and one analysis, and the page shows the results. Also: a stale
review form posted to a signed case shows the inline message beside "Reopen the case"; with
JavaScript, a click on a questionnaire choice greys out every choice until its answer is saved.

Screenshots go to the ``screenshot_dir`` fixture's folder, prefixed ``twice-``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.test_busy_clinic import analysed_case
from tests.e2e.test_portal_flow import NEVUS, log_in, open_case, open_page
from tests.fixtures.portal import ready_for_photo

pytestmark = pytest.mark.browser


def _counts(app: Any, case_id: Any) -> tuple[int, int]:
    from app.extensions import db
    from app.models import Analysis, CaseImage

    with app.app_context():
        images = db.session.query(CaseImage).filter_by(case_id=case_id).count()
        analyses = db.session.query(Analysis).filter_by(case_id=case_id).count()
        db.session.remove()
    return images, analyses


def test_upload_and_analyse_clicked_twice_without_javascript_stores_one_photo(  # noqa: PLR0917
    browser, live, ai_app, physician, screenshot_dir, monkeypatch
):
    case_id = ready_for_photo(ai_app, physician)
    posts: list[str] = []
    inner = ai_app.wsgi_app

    def counting(environ: dict, start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/photo"):
            posts.append(environ["PATH_INFO"])
            if len(posts) == 1:
                time.sleep(2.0)  # a slow network: the page is still there for the second click
        return inner(environ, start_response)

    monkeypatch.setattr(ai_app, "wsgi_app", counting)
    page = open_page(browser, javascript=False)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    page.set_input_files("input[type=file]", str(NEVUS))
    button = page.get_by_role("button", name="Upload and analyse")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    while not posts:  # the first post is at the server (held there for a while)
        time.sleep(0.05)
    page.mouse.click(x, y)  # a second click before the answer: the same form posted again
    # The first navigation is abandoned for the second (net::ERR_ABORTED): wait for what the
    # page shows, not for one navigation.
    page.locator("text=AI results").first.wait_for(timeout=60_000)
    assert page.url == f"{live.url}/cases/{case_id}#results"
    deadline = time.monotonic() + 30
    while _counts(ai_app, case_id)[1] < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # time for a second post to store anything, had it run
    assert len(posts) == 2  # the browser did post the form twice
    assert _counts(ai_app, case_id) == (1, 1)
    page.screenshot(path=screenshot_dir / "twice-01-photo-results.png", full_page=True)


def test_a_stale_review_form_on_a_signed_case_says_so_without_javascript(
    browser, live, ai_app, physician, screenshot_dir
):
    case_id = analysed_case(ai_app, physician)
    first = open_page(browser, javascript=False)
    log_in(first, live, physician.email)
    first.goto(f"{live.url}/cases/{case_id}")
    stale = open_page(browser, javascript=False)  # a second tab, opened before the review
    log_in(stale, live, physician.email)
    stale.goto(f"{live.url}/cases/{case_id}")
    first.fill("#final_diagnosis", "Melanocytic nevus")
    first.get_by_role("button", name="Save the review").click()
    first.wait_for_selector(".review-saved")
    assert first.locator("form[action$='/review']").count() == 0  # signed: only "Reopen"
    stale.fill("#final_diagnosis", "Melanoma")
    stale.get_by_role("button", name="Save the review").click()
    stale.wait_for_selector("text=already reviewed and signed")
    assert stale.locator("details.reopen").get_attribute("open") is not None
    assert "Melanocytic nevus" in stale.locator(".panel.reviewed").inner_text()
    stale.locator("#review").screenshot(path=screenshot_dir / "twice-02-stale-review.png")


def test_the_worklist_thumbnails_load_and_are_not_image_views(
    browser, live, ai_app, physician, screenshot_dir
):
    """The worklist's photos come through their own route (CSP 'self', no console error) and
    the audit holds one worklist.view for the page, no image.view per thumbnail."""
    from app.extensions import db
    from app.models import AuditEvent

    analysed_case(ai_app, physician)
    analysed_case(ai_app, physician)
    page = open_page(browser)
    log_in(page, live, physician.email)  # the worklist is the home page
    page.wait_for_load_state("networkidle")
    thumbs = page.locator("img.work-thumb")
    assert thumbs.count() == 2
    for index in range(2):
        assert thumbs.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.problems == []
    page.locator("ol.worklist").screenshot(path=screenshot_dir / "twice-03-worklist.png")
    with ai_app.app_context():
        actions = [event.action for event in db.session.query(AuditEvent).all()]
        db.session.remove()
    assert actions.count("image.view") == 0
    assert actions.count("worklist.view") == 1


def test_a_choice_click_disables_every_choice_while_its_answer_is_saved(
    browser, live, ai_app, physician, monkeypatch
):
    """With JavaScript, one click on a choice greys out all the choices (and the form's other
    buttons) until the answer is saved, not only the first choice; the clicked one is saved."""
    inner = ai_app.wsgi_app

    def slow_answers(environ: dict, start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/answers"):
            time.sleep(0.5)  # long enough to look at the form while the answer is in flight
        return inner(environ, start_response)

    monkeypatch.setattr(ai_app, "wsgi_app", slow_answers)
    page = open_page(browser)
    log_in(page, live, physician.email)
    open_case(page, lambda *_: None)
    page.wait_for_selector("form.question-form button.choice")
    # Note every button's state as htmx sends the request (after it disabled what it disables).
    page.evaluate(
        """document.body.addEventListener("htmx:beforeSend", () => {
             window.__sent = [...document.querySelectorAll("form.question-form button")]
               .map(button => button.matches(":disabled"));
           })"""
    )
    form = page.locator("form.question-form")
    question = form.locator(".question-text").first.inner_text()
    choices = form.locator("button.choice")
    assert choices.count() >= 2
    clicked = choices.nth(1).get_attribute("value")
    choices.nth(1).click()
    page.wait_for_function(
        "q => !document.querySelector('form.question-form .question-text')"
        "?.innerText.startsWith(q)",
        arg=question[:40],
    )
    states = page.evaluate("window.__sent")
    assert states and all(states), states
    assert _last_answer(ai_app) == clicked
    assert page.problems == []


def _last_answer(app: Any) -> str:
    """The value of the newest answer of the only case (as the portal's button sends it)."""
    from app.extensions import db
    from app.models import Case

    with app.app_context():
        case = db.session.query(Case).one()
        value = case.anamnesis[case.answer_order[-1]]
        db.session.remove()
    return {True: "yes", False: "no"}.get(value, str(value))
