"""The whole portal flow in Debian's Chromium, against a live server and the reference AI:
log in, open a case, walk the questionnaire, upload a photo, read the results, review,
print the report. With JavaScript (htmx) and without; a blurry photo; a 375 px phone.

Screenshots of every step go to the ``screenshot_dir`` fixture's folder. With
``PORTAL_DOCS_SCREENSHOTS=<folder>`` the flow also saves the README's three screenshots there
(cases list, a questionnaire step, results).
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STRONG_PASSWORD
from tests.e2e.conftest import LiveServer
from tests.fixtures.cases import BAD_IMAGES, SAMPLES
from tests.fixtures.portal import ready_for_photo

pytestmark = pytest.mark.browser

NEVUS = SAMPLES / "images" / "nv_ISIC_0032787.jpg"
BLURRY = BAD_IMAGES / "blurry_nv_ISIC_0026828.jpg"
CASE_URL = re.compile(r".*/cases/[0-9a-f-]{36}$")
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


#: What every page must have: unique ids, a label for every control, radio and checkbox
#: groups in a fieldset with a legend. Returns the problems found.
ACCESSIBILITY_BASICS = """() => {
  const problems = [];
  const seen = new Set();
  for (const element of document.querySelectorAll('[id]')) {
    if (seen.has(element.id)) problems.push('duplicate id ' + element.id);
    seen.add(element.id);
  }
  for (const control of document.querySelectorAll('input, select, textarea')) {
    if (control.type === 'hidden') continue;
    const named = control.labels.length || control.getAttribute('aria-label')
      || control.getAttribute('aria-labelledby');
    if (!named) problems.push('no label: ' + (control.name || control.outerHTML));
    if ((control.type === 'radio' || control.type === 'checkbox') && control.name === 'answer') {
      const group = control.closest('fieldset');
      if (!group || !group.querySelector('legend')) problems.push('no legend: ' + control.value);
    }
  }
  return problems;
}"""


class Shots:
    """Numbered full-page screenshots of one test; each step is also checked for the
    accessibility basics (:data:`ACCESSIBILITY_BASICS`)."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder, self.prefix, self.count = folder, prefix, 0

    def __call__(self, page: Any, step: str) -> None:
        assert page.evaluate(ACCESSIBILITY_BASICS) == [], step
        self.count += 1
        path = self.folder / f"{self.prefix}-{self.count:02d}-{step}.png"
        page.screenshot(path=path, full_page=True)


def open_page(browser: Any, *, javascript: bool = True, viewport: dict | None = None) -> Any:
    """A page of a fresh context that records console errors and CSP violations."""
    context = browser.new_context(java_script_enabled=javascript, viewport=viewport or DESKTOP)
    page = context.new_page()
    page.problems = []

    def on_console(message: Any) -> None:
        # A 422 (a form re-rendered with its errors) is an answer, not a problem.
        if message.type == "error" and "status of 422" not in message.text:
            page.problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    return page


def log_in(page: Any, live: LiveServer, email: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#email", email)
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")


def open_case(page: Any, shots: Shots) -> None:
    page.get_by_role("link", name="New case").first.click()
    page.wait_for_url(re.compile(r".*/cases/new$"))
    page.fill("#patient_reference", "PT-2026-0042")
    page.fill("#patient_age", "54")
    page.select_option("#patient_sex", "female")
    page.select_option("#body_site", "back")
    page.select_option("#fitzpatrick_type", "II")
    page.fill("#chief_complaint", "Mole on the back that darkened over three months.")
    shots(page, "new-case")
    page.click("button:has-text('Open case and start the questionnaire')")
    page.wait_for_url(CASE_URL)


#: Answers that lead the reference AI to red flags (a changing, bleeding pigmented lesion).
WORRYING = {
    "What does it look like?": "Pigmented spot or mole",
    "Has the lesion changed recently?": "Yes",
    "Does the lesion bleed without being injured?": "Yes",
}


def answer_current_question(page: Any) -> None:
    """Answer the question on the page like a physician would (worrying answers first): a
    single choice is one click on its button; other questions are filled in and saved."""
    form = page.locator("form.question-form")
    text = form.locator(".question-text").first.inner_text()
    choices = form.locator("button.choice")
    for question, choice in WORRYING.items():
        if text.startswith(question):
            choices.filter(has_text=choice).first.click()
            return
    if form.locator("button.choice[value=no]").count():
        form.locator("button.choice[value=no]").click()
        return
    if choices.count():
        choices.nth(min(1, choices.count() - 1)).click()  # an itch of 1, the 2nd option
        return
    if form.locator("input[type=number]").count():
        number = form.locator("input[type=number]")
        top = float(number.get_attribute("max") or 100)
        number.fill("8" if top >= 8 else f"{top // 2:g}")
    elif form.locator("input[type=checkbox]").count():
        form.locator("input[type=checkbox]").first.check()
    else:
        form.locator("textarea").fill("No further details.")
    form.locator("button.save-answer").click()


def walk_questionnaire(page: Any, shots: Shots, javascript: bool) -> int:
    """Answer every question until the photo step; return how many were answered."""
    for answered in range(30):
        page.wait_for_selector("#questionnaire, #photo-step")
        if page.locator("#photo-step").count():
            return answered
        label = page.locator("#progress-label").inner_text()
        if answered in (0, 3):
            shots(page, f"question-{answered + 1}")
        answer_current_question(page)
        if javascript:  # htmx swaps the region: wait for the next question
            page.wait_for_function(
                "label => { const l = document.querySelector('#progress-label');"
                " return !l || l.innerText !== label; }",
                arg=label,
            )
        else:
            page.wait_for_load_state()
    raise AssertionError("the questionnaire did not reach the photo")


def upload_photo(page: Any, shots: Shots, path: Path) -> None:
    """Choose the photo; with JavaScript its upload starts by itself, without it takes a click."""
    page.set_input_files("input[type=file][name=photo]", str(path))
    if not page.locator("html.js").count():
        shots(page, "photo-chosen")
        page.get_by_role("button", name="Upload and analyse").click()
    page.wait_for_selector("#results, #rejected-title", timeout=30_000)


def review_and_report(page: Any, shots: Shots, live: LiveServer) -> None:
    page.fill("#final_diagnosis", "Melanocytic nevus")
    page.fill("#icd10", "D22.5")
    page.get_by_label("Differs from the AI's suggestions").check()
    page.fill("#notes", "Dermoscopy benign; the AI's red flags noted. Follow up in 3 months.")
    page.get_by_role("button", name="Save the review").click()
    page.wait_for_selector(".panel.reviewed")
    assert "Melanocytic nevus" in page.locator(".panel.reviewed").inner_text()
    shots(page, "reviewed")
    page.get_by_role("link", name="Open the printable report").click()
    page.wait_for_url(re.compile(r".*/report$"))
    report = page.locator("article.report").text_content()
    for expected in (
        "PT-2026-0042",
        "Anamnesis",
        "reference-",
        "Red flags",
        "Triage",
        "Melanocytic nevus",
        "Dr. Anna Meyer",
    ):
        assert expected in report, expected
    assert page.locator("img.report-photo").evaluate("img => img.naturalWidth") > 0
    assert report.index("Conclusion") < report.index("Red flags") < report.index("Anamnesis")
    shots(page, "report")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    shots(page, "report-print")
    page.emulate_media(media="screen")


def check_results(page: Any) -> None:
    results = page.locator("#results")
    assert results.locator("table.differential").first.is_visible()
    assert results.locator("table.differential tbody tr").count() >= 5
    text = results.text_content()  # as written (headings are upper-cased by CSS)
    assert re.search(r"\b[A-Z]\d\d(\.\d+)?\b", text)  # ICD-10 codes
    assert "Red flags" in text and "Rule:" in text
    headline = results.locator("article.headline")
    assert re.search(r"(Medium|High|Emergency) urgency", headline.inner_text())
    # One voice: the header badge names the same action as the headline.
    action = headline.locator(".headline-action").inner_text()
    assert action in page.locator(".case-header .badges").inner_text()
    assert "Triage" in text and "Time window" in text
    assert "Photo quality" in text
    assert page.locator("img.case-photo").evaluate("img => img.naturalWidth") > 0


def test_the_whole_flow_with_javascript(browser, live, physician, screenshot_dir):
    shots = Shots(screenshot_dir, "js")
    page = open_page(browser)
    log_in(page, live, physician.email)
    assert page.get_by_text("Nothing waiting").is_visible()  # the worklist, the home page
    shots(page, "empty-list")
    open_case(page, shots)
    assert page.locator("#questionnaire legend, #questionnaire label.question-text").count()
    answered = walk_questionnaire(page, shots, javascript=True)
    assert answered >= 8
    assert page.locator("input[type=file][capture=environment]").count() == 1
    shots(page, "photo-step")
    upload_photo(page, shots, NEVUS)
    assert page.locator(".preview img").count() == 0  # replaced by the results region
    check_results(page)
    shots(page, "results")
    review_and_report(page, shots, live)

    # The list, its live search, and the back button after a pushed search.
    page.goto(f"{live.url}/cases")
    page.fill("#q", "0042")
    page.wait_for_url(re.compile(r".*\?.*q=0042"))
    assert page.locator("table.case-table tbody tr").count() == 1
    page.fill("#q", "nothing-like-this")
    page.wait_for_selector("text=No matching cases")
    page.go_back()
    page.wait_for_url(re.compile(r".*q=0042"))
    page.wait_for_selector("table.case-table")
    assert page.locator("#q").input_value() == "0042"
    shots(page, "list")
    assert page.problems == []


def test_the_whole_flow_without_javascript(browser, live, physician, screenshot_dir):
    shots = Shots(screenshot_dir, "nojs")
    page = open_page(browser, javascript=False)
    log_in(page, live, physician.email)
    open_case(page, shots)
    walk_questionnaire(page, shots, javascript=False)
    shots(page, "photo-step")
    upload_photo(page, shots, NEVUS)
    check_results(page)
    shots(page, "results")
    review_and_report(page, shots, live)
    # Without JavaScript the filters are a plain GET form with an Apply button.
    page.goto(f"{live.url}/cases")
    page.fill("#q", "0042")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*\?q=0042"))
    assert page.locator("table.case-table tbody tr").count() == 1
    shots(page, "list")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_blurry_photo_asks_for_a_retake(  # noqa: PLR0917 - fixtures
    browser, live, ai_app, physician, screenshot_dir, javascript
):
    shots = Shots(screenshot_dir, f"blurry-{'js' if javascript else 'nojs'}")
    case_id = ready_for_photo(ai_app, physician)
    page = open_page(browser, javascript=javascript)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    upload_photo(page, shots, BLURRY)
    rejected = page.locator("article.rejected")
    assert "Please retake the photo" in rejected.inner_text()
    assert "Image is too blurry" in rejected.inner_text()
    assert rejected.get_by_role("button", name="Analyse this photo anyway").is_visible()
    assert page.get_by_label("Take or choose a new photo").count() == 1
    shots(page, "retake")
    rejected.get_by_role("button", name="Analyse this photo anyway").click()
    page.wait_for_selector("#results")
    assert "analysed despite low photo quality" in page.locator("#results").inner_text()
    shots(page, "analysed-anyway")
    if javascript:
        assert page.problems == []


def test_a_photo_of_too_many_pixels_is_refused_before_the_browser_decodes_it(  # noqa: PLR0917
    browser, live, ai_app, physician, screenshot_dir, monkeypatch
):
    """With JavaScript, a 20000 x 20000 PNG (a decompression bomb of 400 megapixels, 0.4 MB) is
    refused on the page with its size, as the server would refuse it (422 image_too_large),
    instead of being decoded and downscaled by the browser and sent; nothing is posted."""
    posts: list[str] = []
    inner = ai_app.wsgi_app

    def counting(environ: dict, start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/photo"):
            posts.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    monkeypatch.setattr(ai_app, "wsgi_app", counting)
    case_id = ready_for_photo(ai_app, physician)
    page = open_page(browser)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    page.set_input_files("input[type=file]", str(BAD_IMAGES / "bomb_20000x20000.png"))
    file_input = page.locator("input[type=file]")
    page.wait_for_function(
        "input => input.validationMessage !== ''", arg=file_input.element_handle()
    )
    message = file_input.evaluate("input => input.validationMessage")
    assert message.startswith("The photo has 20000 × 20000 pixels, more than the 40 megapixels")
    assert page.get_by_role("button", name="Upload and analyse").is_enabled()
    assert page.locator("#photo-preview img").count() == 0
    Shots(screenshot_dir, "bomb-js")(page, "refused")
    time.sleep(0.5)
    assert posts == []
    assert page.problems == []


def no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: {width}px wide"


def test_every_step_fits_a_375px_phone(browser, live, ai_app, physician, screenshot_dir):
    shots = Shots(screenshot_dir, "phone")
    questionnaire_case = ready_for_photo(ai_app, physician)  # photo step
    page = open_page(browser, viewport=PHONE)
    log_in(page, live, physician.email)
    open_case(page, shots)
    no_horizontal_scroll(page)
    shots(page, "question")
    answer_current_question(page)
    page.wait_for_selector("#questionnaire")
    no_horizontal_scroll(page)
    page.goto(f"{live.url}/cases/{questionnaire_case}")
    no_horizontal_scroll(page)
    shots(page, "photo-step")
    upload_photo(page, shots, NEVUS)
    no_horizontal_scroll(page)
    shots(page, "results")
    page.goto(f"{live.url}/cases/{questionnaire_case}/report")
    no_horizontal_scroll(page)
    page.goto(f"{live.url}/cases")
    no_horizontal_scroll(page)
    page.goto(f"{live.url}/")  # the worklist
    no_horizontal_scroll(page)
    shots(page, "list")
    assert page.problems == []


# --- the README's screenshots -----------------------------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("PORTAL_DOCS_SCREENSHOTS"), reason="set PORTAL_DOCS_SCREENSHOTS=<folder>"
)
def test_readme_screenshots(browser, live, ai_app, physician):
    """Save the README's screenshots: a list with a few analysed cases, a question, results."""
    from app.extensions import db
    from app.models import User
    from app.services import diagnosis

    folder = Path(os.environ["PORTAL_DOCS_SCREENSHOTS"])
    folder.mkdir(parents=True, exist_ok=True)
    samples = [
        ("PT-2026-0031", "face", "akiec_ISIC_0026388.jpg", {}),
        ("PT-2026-0035", "chest", "bcc_ISIC_0028059.jpg", {}),
        ("PT-2026-0038", "lower_leg", "mel_ISIC_0033454.jpg", {"bleeding": True}),
        ("PT-2026-0040", "back", "df_ISIC_0030021.jpg", {}),
    ]
    for reference, site, image, answers in samples:
        case_id = ready_for_photo(
            ai_app, physician, answers, patient_reference=reference, body_site=site
        )
        with ai_app.app_context():
            diagnosis.diagnose_upload(
                actor=db.session.get(User, physician.id),
                upload=io.BytesIO((SAMPLES / "images" / image).read_bytes()),
                anamnesis={"photo_taken": True},
                case_id=case_id,
            )
    with ai_app.app_context():  # one reviewed, one still in the questionnaire
        diagnosis.review_case(
            actor=db.session.get(User, physician.id),
            case_id=case_id,
            final_diagnosis="Dermatofibroma",
            agreement="top1",
            icd10="D23.5",
        )
    ready_for_photo(ai_app, physician, patient_reference="PT-2026-0041", body_site="forearm")
    page = open_page(browser, viewport={"width": 1100, "height": 900})
    log_in(page, live, physician.email)
    open_case(page, Shots(folder, "unused"))
    record_consent(page, ai_analysis="granted", image_storage="granted")
    answer_current_question(page)  # the duration; next: what does it look like?
    page.wait_for_selector("text=What does it look like?")
    # Tall enough for the case, its consent and the question (README: "A questionnaire step").
    page.set_viewport_size({"width": 1100, "height": 1280})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=folder / "questionnaire.png")
    page.set_viewport_size({"width": 1100, "height": 900})
    walk_questionnaire(page, Shots(folder, "unused"), javascript=True)
    upload_photo(page, Shots(folder, "unused"), NEVUS)
    page.locator("#results").screenshot(path=folder / "results.png")
    page.set_viewport_size({"width": 1100, "height": 760})  # the header, filters, five rows
    page.goto(f"{live.url}/cases")
    page.screenshot(path=folder / "cases-list.png")
    for leftover in folder.glob("unused-*.png"):
        leftover.unlink()
    for name in ("questionnaire.png", "results.png", "cases-list.png"):
        shrink_png(folder / name)


def record_consent(page: Any, **decisions: str) -> None:
    """Record the patient's consent on the case page: ``scope="granted"|"refused"``."""
    page.get_by_text("Record the patient's consent").click()
    for scope, decision in decisions.items():
        page.check(f"#consent input[name={scope}][value={decision}]")
    page.get_by_role("button", name="Save consent").click()
    page.wait_for_selector("#consent .consent-granted, #consent .consent-refused")


def shrink_png(path: Path) -> None:
    """Store a screenshot as a 256-colour PNG (a third of the size; the README's images)."""
    from PIL import Image

    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(colors=256, dither=Image.Dither.FLOYDSTEINBERG)
    palette.save(path, optimize=True)
