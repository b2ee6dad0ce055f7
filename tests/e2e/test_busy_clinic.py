"""The portal in a busy clinic, in Debian's Chromium: a saved review is seen where the page
lands (JavaScript on and off, 1280 and 375 px wide).

Screenshots go to the ``screenshot_dir`` fixture's folder, prefixed ``clinic-``.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from pathlib import Path
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
from tests.fixtures.cases import MELANOMA
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


# --- the melanoma visit, counted --------------------------------------------------------------

#: A melanoma visit as a physician answers it: question (its start) → the clicks that answer it.
#: A string is one choice button; a list is the boxes ticked then the save button; a number
#: is typed into the field (keyboard) then saved with a click.
MELANOMA_VISIT: dict[str, Any] = {
    "How long has it been present?": "3-12 months",
    "What does it look like?": "Pigmented spot or mole",
    "Is the lesion raised": "Raised, firm",
    "Which colours does the lesion show?": ["Dark brown", "Black"],
    "Which of these describe the pigmented lesion?": ["Asymmetric shape", "Irregular or blurred"],
    "What is the largest diameter": 9,
    "Has the lesion changed recently?": "Yes",
    "What has changed?": ["Size", "Colour"],
    "How itchy is it?": "1",
    "Is it painful or tender?": "No",
    "Does the lesion bleed without being injured?": "Yes",
    "Which of these describe the lesion's surface?": [],
    "Does the patient have a fever or feel unwell?": "No",
    "Is the patient immunosuppressed?": "No",
    "Has a first-degree relative had melanoma?": "Yes",
}

#: Counts every click and key press the page receives, kept across page loads of the tab.
COUNT_INPUT = """() => {
  if (window.__counting) return;
  window.__counting = true;
  for (const type of ["click", "keydown"]) {
    document.addEventListener(type, event => {
      if (!event.isTrusted) return;  // app.js's own .click() for a key is not a click
      const key = "count-" + type;
      sessionStorage.setItem(key, String(Number(sessionStorage.getItem(key) || 0) + 1));
    }, true);
  }
}"""


def answer_as_in_the_visit(page: Any) -> None:
    form = page.locator("form.question-form")
    text = form.locator(".question-text").first.inner_text()
    plan = next(value for start, value in MELANOMA_VISIT.items() if text.startswith(start))
    if isinstance(plan, str):
        form.locator("button.choice").filter(has_text=plan).first.click()
        return
    if isinstance(plan, list):
        for label in plan:
            form.get_by_label(label).click()
    else:
        page.keyboard.type(str(plan))  # the field has the focus after the swap
    form.locator("button.save-answer").click()


def test_the_melanoma_visit_takes_at_most_22_clicks(browser, live, ai_app, physician):
    from app.extensions import db
    from app.models import Case
    from app.services import questionnaire
    from tests.fixtures.cases import case_payload

    with ai_app.app_context():
        from app.models import User

        actor = db.session.get(User, physician.id)
        fields = case_payload(patient_reference="PT-2026-0090", patient_age=67)
        case_id = questionnaire.open_case(actor=actor, **fields).id
        db.session.remove()
    page = open_page(browser)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    page.wait_for_selector("#questionnaire")
    page.evaluate(COUNT_INPUT)
    started = time.monotonic()
    for _ in range(len(MELANOMA_VISIT) + 1):
        page.wait_for_selector("#questionnaire .question-text, #photo-step")
        if page.locator("#photo-step").count():
            break
        label = page.locator("#progress-label").inner_text()
        answer_as_in_the_visit(page)
        page.wait_for_function(
            "label => { const l = document.querySelector('#progress-label');"
            " return !l || l.innerText !== label; }",
            arg=label,
        )
    with page.expect_file_chooser() as chooser:
        page.get_by_label("Take or choose a photo").click()
    chooser.value.set_files(str(MELANOMA))  # the upload starts by itself
    page.wait_for_selector("#results", timeout=60_000)
    seconds = time.monotonic() - started
    clicks = int(page.evaluate("sessionStorage.getItem('count-click')"))
    keys = int(page.evaluate("sessionStorage.getItem('count-keydown') || 0"))
    print(f"melanoma visit: {clicks} clicks, {keys} key presses, {seconds:.1f} s")
    with ai_app.app_context():
        anamnesis = db.session.get(Case, case_id).anamnesis
    assert anamnesis["changed_recently"] is True and anamnesis["diameter_mm"] == 9
    assert anamnesis["itch.scale_0_to_5"] == 1 and anamnesis["color"] == ["dark brown", "black"]
    assert clicks <= 22
    assert seconds <= 90
    assert page.problems == []


# --- photos from phones -----------------------------------------------------------------------


def phone_photo(folder: Path) -> Path:
    """A 12 MP phone photo: 4000×3000 pixels as stored, EXIF orientation 6 (the phone was held
    upright, so it shows as 3000×4000)."""
    from PIL import Image

    path = folder / "phone-4000x3000-orientation6.jpg"
    if not path.exists():
        with Image.open(NEVUS) as sample:
            photo = sample.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
        photo.save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path


def stored_images(app: Flask, case_id: uuid.UUID) -> list[tuple[int, int, int]]:
    from app.extensions import db
    from app.models import CaseImage

    with app.app_context():
        rows = db.session.query(CaseImage).filter_by(case_id=case_id).all()
        sizes = [(row.width, row.height, row.size_bytes) for row in rows]
        db.session.remove()
    return sizes


#: Records the upload progress bar's value at every progress event (after photo-upload.js).
RECORD_PROGRESS = """() => {
  window.__bars = [];
  document.addEventListener("htmx:xhr:progress", () => {
    const bar = document.querySelector("#photo-progress progress");
    if (bar && bar.hasAttribute("value")) window.__bars.push(bar.value);
  });
}"""


def test_a_phone_photo_is_downscaled_upright_in_the_browser_with_a_progress_bar(
    browser, live, ai_app, physician, screenshot_dir
):
    photo = phone_photo(screenshot_dir.parent)
    case_id = ready_for_photo(ai_app, physician)
    page = open_page(browser)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    assert page.locator("input[type=file][data-max-side='2048']").count() == 1
    page.evaluate(RECORD_PROGRESS)
    # A slow clinic Wi-Fi (about 2 Mbit/s up), so that the upload takes a moment.
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 250_000},
    )
    page.set_input_files("input[type=file][name=photo]", str(photo))
    page.wait_for_selector("#photo-progress:not([hidden])")
    page.wait_for_function(
        "() => (window.__bars || []).some(value => value > 0 && value < 100)", timeout=30_000
    )
    Shots(screenshot_dir, "clinic-phone-photo")(page, "uploading")
    page.wait_for_selector("#results, #rejected-title", timeout=60_000)
    bars = page.evaluate("window.__bars")
    assert bars == sorted(bars) and bars[-1] == 100  # a real bar: it only moves forward
    [(width, height, _size)] = stored_images(ai_app, case_id)
    assert (width, height) == (1536, 2048)  # upright, longest side 2048
    assert page.problems == []


def test_without_javascript_the_full_photo_is_sent(
    browser, live, ai_app, physician, screenshot_dir
):
    photo = phone_photo(screenshot_dir.parent)
    case_id = ready_for_photo(ai_app, physician)
    page = open_page(browser, javascript=False)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    page.set_input_files("input[type=file][name=photo]", str(photo))
    page.get_by_role("button", name="Upload and analyse").click()
    page.wait_for_selector("#results, #rejected-title", timeout=60_000)
    [(width, height, _size)] = stored_images(ai_app, case_id)
    assert (width, height) == (3000, 4000)  # the server applied the orientation itself


# --- the full-size photo viewer ---------------------------------------------------------------


def transform(page: Any) -> str:
    return page.locator("dialog.photo-viewer img").evaluate("img => img.style.transform")


def test_the_photo_opens_full_size_and_zooms_pans_by_keys_mouse_and_pinch(
    browser, live, ai_app, physician, screenshot_dir
):
    case_id = analysed_case(ai_app, physician)
    [(width, _height, _size)] = stored_images(ai_app, case_id)
    context = browser.new_context(viewport=PHONE, has_touch=True)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    # At 375 px the photo comes before the differential.
    photo_top = page.locator(".results-photo").bounding_box()["y"]
    assert photo_top < page.locator("table.differential").first.bounding_box()["y"]
    page.locator("a[data-viewer]").click()
    viewer = page.locator("dialog.photo-viewer[open]")
    viewer.wait_for()
    image = viewer.locator("img")
    page.wait_for_function(
        "() => document.querySelector('dialog.photo-viewer img').naturalWidth > 0"
    )
    assert image.evaluate("img => img.naturalWidth") == width  # the stored photo, full size
    page.screenshot(path=screenshot_dir / "clinic-viewer-375-open.png")
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert viewer.get_attribute("data-scale") == "1.5625"
    page.keyboard.press("ArrowLeft")
    assert "translate(60px, 0px)" in transform(page)
    page.keyboard.press("0")
    assert viewer.get_attribute("data-scale") == "1"
    # Pinch: two fingers moving apart double the zoom.
    cdp = context.new_cdp_session(page)
    box = viewer.locator(".viewer-stage").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def touch(kind: str, spread: float) -> None:
        points = [{"x": cx - spread, "y": cy, "id": 1}, {"x": cx + spread, "y": cy, "id": 2}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 40)
    for spread in (50, 60, 70, 80):
        touch("touchMove", spread)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert abs(float(viewer.get_attribute("data-scale")) - 2.0) < 0.05
    # Drag to pan the zoomed photo (one finger).
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": cx, "y": cy}]}
    )
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": cx + 30, "y": cy}]}
    )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert "translate(30px, 0px)" in transform(page)
    page.screenshot(path=screenshot_dir / "clinic-viewer-375-zoomed.png")
    page.keyboard.press("Escape")
    assert page.locator("dialog.photo-viewer").count() == 0
    assert page.problems == []
    context.close()


def test_the_viewer_fills_the_screen_and_a_zoomed_photo_uses_all_of_it(
    browser, live, ai_app, physician, screenshot_dir
):
    """At 1280 x 800 the viewer's stage is as wide as the screen, "Fit" shows the photo as large
    as the stage allows (a 600 px photo is enlarged, not left at its own size), and zoomed in it
    covers the whole stage instead of a strip as wide as the photo."""
    case_id = analysed_case(ai_app, physician)
    page = open_page(browser, viewport=DESKTOP)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    page.locator("a[data-viewer]").click()
    viewer = page.locator("dialog.photo-viewer[open]")
    viewer.wait_for()
    page.wait_for_function(
        "() => document.querySelector('dialog.photo-viewer img').naturalWidth > 0"
    )
    natural = page.locator("dialog.photo-viewer img").evaluate(
        "img => [img.naturalWidth, img.naturalHeight]"
    )
    stage = viewer.locator(".viewer-stage").bounding_box()
    assert stage["width"] == DESKTOP["width"]
    shown = page.locator("dialog.photo-viewer img").evaluate(
        """img => { const box = img.getBoundingClientRect();
             const ratio = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
             return [img.naturalWidth * ratio, img.naturalHeight * ratio]; }"""
    )
    # Fit: the photo as shown (object-fit: contain) touches two opposite edges of the stage.
    assert max(shown[0] / stage["width"], shown[1] / stage["height"]) > 0.99, (natural, shown)
    page.keyboard.press("+")
    page.keyboard.press("+")
    page.keyboard.press("+")
    scale = float(viewer.get_attribute("data-scale"))
    assert scale > 1.9
    assert shown[0] * scale >= stage["width"] and shown[1] * scale >= stage["height"]
    page.screenshot(path=screenshot_dir / "clinic-viewer-1280-zoomed.png")
    assert page.problems == []


def test_without_javascript_the_photo_link_shows_the_file(browser, live, ai_app, physician):
    case_id = analysed_case(ai_app, physician)
    page = open_page(browser, javascript=False)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}")
    with page.expect_navigation():
        page.locator("a[data-viewer]").click()
    assert re.search(r"/cases/[0-9a-f-]{36}/images/[0-9a-f-]{36}$", page.url)


# --- every page on a phone and a desktop ------------------------------------------------------

#: Controls smaller than 44 × 44 CSS px at the phone width (WCAG 2.5.5), as "page: control".
#: A checkbox or radio counts by its label; links inside running text are exempt (2.5.8).
SMALL_TAP_TARGETS = """() => {
  const small = [];
  const controls = document.querySelectorAll(
    "button, select, summary, textarea, nav a, .pagination a,"
    + " input:not([type=hidden]):not([type=checkbox]):not([type=radio]),"
    + " label:has(> input[type=checkbox]), label:has(> input[type=radio])");
  for (const control of controls) {
    const box = control.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;  // not shown
    if (control.closest("[hidden], .visually-hidden, .skip-link")) continue;
    const name = (control.innerText || control.name || "").trim().slice(0, 30);
    if (box.height < 43.5) small.push(control.tagName + " " + name + " " + Math.round(box.height));
  }
  return small;
}"""


def test_every_page_at_375_and_1280_px(browser, live, ai_app, physician, screenshot_dir):
    """Screenshots of every page at both widths; on the phone one header row with a menu,
    readable filters, no sideways scrolling, and tap targets of at least 44 px."""
    analysed = analysed_case(ai_app, physician, patient_reference="PT-2026-0101")
    at_photo = ready_for_photo(ai_app, physician, patient_reference="PT-2026-0102")
    from app.extensions import db
    from app.models import User
    from app.services import questionnaire
    from tests.fixtures.cases import case_payload

    with ai_app.app_context():
        actor = db.session.get(User, physician.id)
        fields = case_payload(patient_reference="PT-2026-0103")
        at_question = questionnaire.open_case(actor=actor, **fields).id
        db.session.remove()
    pages = {
        "worklist": "/",
        "list": "/cases",
        "new-case": "/cases/new",
        "question": f"/cases/{at_question}",
        "photo": f"/cases/{at_photo}",
        "results": f"/cases/{analysed}",
        "report": f"/cases/{analysed}/report",
    }
    problems: list[str] = []
    for viewport in (PHONE, DESKTOP):
        page = open_page(browser, viewport=viewport)
        page.goto(f"{live.url}/login")
        page.screenshot(
            path=screenshot_dir / f"pages-{viewport['width']}-login.png", full_page=True
        )
        log_in(page, live, physician.email)
        for name, path in pages.items():
            page.goto(f"{live.url}{path}")
            page.screenshot(
                path=screenshot_dir / f"pages-{viewport['width']}-{name}.png", full_page=True
            )
            if page.evaluate("document.documentElement.scrollWidth") > viewport["width"]:
                problems.append(f"{name}: wider than {viewport['width']} px")
            if viewport is PHONE:
                header = page.locator(".site-header").bounding_box()["height"]
                brand = page.locator(".site-header .brand").bounding_box()
                menu = page.locator(".phone-menu summary").bounding_box()
                one_row = abs((brand["y"] + brand["height"] / 2) - (menu["y"] + menu["height"] / 2))
                if header > 100 or one_row > 10:
                    problems.append(f"{name}: header {header:.0f} px high, not one row")
                problems += [f"{name}: {small}" for small in page.evaluate(SMALL_TAP_TARGETS)]
        if viewport is PHONE:
            page.goto(f"{live.url}/cases")
            assert page.locator(".site-menu").is_hidden()
            page.locator(".phone-menu summary").click()
            assert (
                page.locator(".phone-menu")
                .get_by_role("button", name="Log out", exact=True)
                .is_visible()
            )
            page.screenshot(path=screenshot_dir / "pages-375-menu-open.png")
            status = page.locator("#status")
            assert status.evaluate("s => s.scrollWidth <= s.clientWidth + 1")  # not cut off
        else:
            page.goto(f"{live.url}/cases")
            filters = page.locator(".case-filters").bounding_box()
            table = page.locator("table.case-table").bounding_box()
            assert abs((filters["x"] + filters["width"]) - (table["x"] + table["width"])) < 2
        assert page.problems == []
        page.context.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", [1024, 1100, 1200, 1280, 1440, 1536])
def test_the_menu_is_one_row_down_to_1024_px(browser, live, ai_app, physician, width):
    """With the worklist counts (overdue and due today) and a long name, the menu is one row:
    beside the brand from 1280 px (at 1440 px the name wrapped it), under it below."""
    from datetime import timedelta

    from app.extensions import db
    from app.models import Analysis, User
    from app.models.base import utcnow

    overdue = analysed_case(ai_app, physician)
    analysed_case(ai_app, physician, patient_reference="PT-2026-0002")
    with ai_app.app_context():  # analysed weeks ago: overdue
        db.session.query(Analysis).filter_by(case_id=overdue).update(
            {"created_at": utcnow() - timedelta(days=60)}
        )
        db.session.get(User, physician.id).full_name = "Dr. Annemarie Lindqvist-Okonkwo"
        db.session.commit()
        db.session.remove()
    page = open_page(browser, viewport={"width": width, "height": 800})
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/stats")
    page.evaluate("document.documentElement.style.overflowY = 'scroll'")  # a long page's bar
    centre = "e => { const r = e.getBoundingClientRect(); return Math.round(r.y + r.height / 2); }"
    brand = page.locator(".site-header .brand").evaluate(centre)
    rows = page.evaluate(
        f"""() => [...document.querySelectorAll('.site-menu > li')]
          .filter(e => e.offsetParent !== null).map({centre})"""
    )
    assert len(rows) >= 8
    menu = page.locator(".site-menu").inner_text()
    assert "overdue" in menu and "due today" in menu, menu
    assert max(rows) - min(rows) <= 8, f"{width} px: menu rows at {sorted(set(rows))}"
    if width >= 1280:
        assert abs(rows[0] - brand) <= 8, f"{width} px: menu under the brand"
