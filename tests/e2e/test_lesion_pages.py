"""Lesions over time in Chromium (issue #17): a second visit of a lesion from its page, the
timeline, the two photos side by side, the slider overlay (pointer and keys), the full-size
viewer, the body map (with and without JavaScript), and the model-change comparison; every page
at 1280 and 375 px, screenshots in ``screenshot_dir`` (``lesions-*.png``); with
``PORTAL_DOCS_SCREENSHOTS=<folder>`` the README's lesion screenshots too.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.extensions import db
from app.models import Lesion
from tests.e2e.test_busy_clinic import SMALL_TAP_TARGETS
from tests.e2e.test_portal_flow import (
    ACCESSIBILITY_BASICS,
    DESKTOP,
    NEVUS,
    PHONE,
    Shots,
    log_in,
    open_page,
    shrink_png,
    upload_photo,
    walk_questionnaire,
)
from tests.lesion_visits import seen_three_times

pytestmark = pytest.mark.browser

LESION_URL = re.compile(r".*/lesions/[0-9a-f-]{36}$")
CASE_URL = re.compile(r".*/cases/[0-9a-f-]{36}$")


def _seen(ai_app: Any, physician: Any, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A lesion of ``physician`` seen ``count`` times, analysed by the reference AI."""
    from tests.conftest import STRONG_PASSWORD

    client = ai_app.test_client()
    tokens = client.post(
        "/api/auth/login", json={"email": physician.email, "password": STRONG_PASSWORD}
    ).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    return seen_three_times(ai_app, client, headers, physician, count=count)


def _reveal(page: Any) -> float:
    """Where the overlay's line is, as a share of the overlay's width (0..1)."""
    return page.evaluate(
        """() => { const o = document.querySelector('[data-overlay]').getBoundingClientRect();
                   const l = document.querySelector('[data-overlay-line]').getBoundingClientRect();
                   return (l.left + l.width / 2 - o.left) / o.width; }"""
    )


def _docs_shot(target: Any, path: Path) -> None:
    """A README screenshot (``PORTAL_DOCS_SCREENSHOTS``): the viewport or one element."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=path)
    shrink_png(path)


def _drag_the_line_by_touch(page: Any) -> None:
    """One finger across the overlay moves the line with it (touch, as on a phone)."""
    page.locator("[data-overlay]").scroll_into_view_if_needed()
    box = page.locator("[data-overlay]").bounding_box()
    y = box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, share: float | None) -> None:
        points = [] if share is None else [{"x": box["x"] + box["width"] * share, "y": y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 0.5)
    for share in (0.6, 0.7, 0.8):
        touch("touchMove", share)
    touch("touchEnd", None)
    assert abs(_reveal(page) - 0.8) < 0.03
    assert page.locator("#reveal").input_value() == "80"


def _fits_the_phone(page: Any, name: str) -> list[str]:
    problems = [f"{name}: {small}" for small in page.evaluate(SMALL_TAP_TARGETS)]
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{name}: {width} px wide")
    return problems


def test_a_second_visit_from_the_lesion_page_then_the_comparison(
    browser, live, ai_app, physician, screenshot_dir
):
    lesion_id, (first,) = _seen(ai_app, physician, 1)
    shots = Shots(screenshot_dir, "lesions")
    page = open_page(browser, viewport=DESKTOP)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/lesions/{lesion_id}")
    assert page.locator("ol.timeline li.visit").count() == 1
    shots(page, "one-visit")

    # New visit: a case of this lesion, the questionnaire asked again, then photo and results
    page.get_by_role("button", name="New visit").click()
    page.wait_for_url(CASE_URL)
    assert "Visit 2 of 2 of the lesion" in page.locator(".visit-of").inner_text()
    assert page.locator(".case-header").get_by_text("Back").count()  # the site, carried over
    walk_questionnaire(page, shots, javascript=True)
    upload_photo(page, shots, NEVUS)
    assert page.locator("#results").count()

    # back to the lesion: two visits in the timeline, newest last
    page.locator(".visit-of a").first.click()
    page.wait_for_url(LESION_URL)
    visits = page.locator("ol.timeline li.visit")
    assert visits.count() == 2
    second = visits.nth(1).inner_text()
    assert "Visit 2" in second and "AI's top diagnosis" in second and "urgency" in second
    assert page.locator("ol.timeline img").evaluate_all(
        "images => images.every(i => i.complete && i.naturalWidth > 0)"
    )
    shots(page, "two-visits")

    # side by side at the same size, and the slider
    page.get_by_role("link", name="Compare the first and the latest visit").click()
    page.wait_for_selector(".photo-pair")
    boxes = [page.locator(".pair-box").nth(i).bounding_box() for i in (0, 1)]
    assert boxes[0]["width"] == boxes[1]["width"] and boxes[0]["height"] == boxes[1]["height"]
    assert boxes[0]["width"] > 500  # not a thumbnail
    assert page.locator(".pair-box img").evaluate_all(
        "images => images.every(i => i.complete && i.naturalWidth > 0)"
    )
    assert "What changed" in page.locator(".compare-words").text_content()
    shots(page, "compare")
    assert abs(_reveal(page) - 0.5) < 0.02
    page.locator("[data-overlay]").scroll_into_view_if_needed()
    overlay = page.locator("[data-overlay]").bounding_box()
    page.mouse.move(overlay["x"] + overlay["width"] * 0.5, overlay["y"] + 50)
    page.mouse.down()
    page.mouse.move(overlay["x"] + overlay["width"] * 0.2, overlay["y"] + 60, steps=5)
    page.mouse.up()
    assert abs(_reveal(page) - 0.2) < 0.02  # dragged
    page.locator("#reveal").focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert abs(_reveal(page) - 0.3) < 0.02  # ten steps of 1 %
    page.keyboard.press("End")
    assert abs(_reveal(page) - 1.0) < 0.02
    clip = page.locator("[data-overlay-top]").evaluate("i => getComputedStyle(i).clipPath")
    assert clip == "inset(0px 0px 0px 100%)"  # the later photo entirely hidden
    page.keyboard.press("Home")
    page.locator("#overlay").scroll_into_view_if_needed()
    page.keyboard.press("ArrowRight")
    shots(page, "slider")

    # the full-size viewer of one photo: zoom with a key, close with Escape
    page.locator(".pair-box").nth(1).click()
    page.wait_for_selector("dialog.photo-viewer[open]")
    page.keyboard.press("+")
    assert float(page.locator("dialog.photo-viewer").get_attribute("data-scale")) > 1
    shots(page, "viewer")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog.photo-viewer", state="detached", timeout=3000)
    _both_photos_zoom_together(page, screenshot_dir / "lesions-08-viewer-pair.png")
    assert page.problems == []


def _both_photos_zoom_together(page: Any, shot: Any) -> None:
    """The pair viewer: both photos at full size, one zoom and pan for both."""
    page.get_by_role("link", name="Both at full size, zoomed together").click()
    viewer = page.wait_for_selector("dialog.photo-viewer[open]")
    images = page.locator("dialog.photo-viewer .viewer-pane img")
    assert images.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('dialog .viewer-pane img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    page.keyboard.press("+")
    page.keyboard.press("+")
    page.keyboard.press("ArrowLeft")
    transforms = images.evaluate_all("all => all.map(i => i.style.transform)")
    assert transforms[0] == transforms[1] and "scale(1.5625)" in transforms[0]
    assert "translate(60px, 0px)" in transforms[0]
    boxes = [images.nth(i).bounding_box() for i in (0, 1)]
    assert boxes[0]["width"] > 100 and boxes[1]["width"] > 100
    assert viewer.get_attribute("aria-label").startswith("Two photos")
    page.screenshot(path=shot)
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog.photo-viewer", state="detached", timeout=3000)


def test_the_body_map_with_and_without_javascript(browser, live, ai_app, physician):
    lesion_id, _ = _seen(ai_app, physician, 1)
    # without JavaScript: the image input posts where it was clicked
    page = open_page(browser, javascript=False)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/lesions/{lesion_id}")
    box = page.locator("input[data-body-map]").bounding_box()
    assert (box["width"], box["height"]) == (300, 300)
    page.mouse.click(box["x"] + 75, box["y"] + 100)  # the front's chest: the form posts
    page.wait_for_url(re.compile(r".*#body-map$"))
    with ai_app.app_context():
        lesion = db.session.get(Lesion, lesion_id)
        assert (lesion.map_view, round(lesion.map_x, 2), round(lesion.map_y, 2)) == (
            "front",
            0.5,
            0.33,
        )
        db.session.remove()
    assert "Placed on the front" in page.locator(".body-map-status").inner_text()
    box = page.locator("input[data-body-map]").bounding_box()  # scrolled to #body-map
    page.mouse.click(box["x"] + 5, box["y"] + 290)  # beside the figure
    page.wait_for_selector("#body-map-error")
    assert "not on the figure" in page.locator("#body-map-error").inner_text()

    # with JavaScript: the dot moves at once and is saved through htmx, no page load
    page = open_page(browser)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/lesions/{lesion_id}")
    page.evaluate("window.notReloaded = true")
    box = page.locator("input[data-body-map]").bounding_box()
    page.mouse.click(box["x"] + 225, box["y"] + 100)  # the back
    page.wait_for_selector(".body-map-status:has-text('back')")
    assert page.evaluate("window.notReloaded") is True
    circle = page.locator(".body-map-dot circle")
    assert (float(circle.get_attribute("cx")), float(circle.get_attribute("cy"))) == (225, 100)
    # the keys: arrows move the dot, Enter saves
    page.locator("input[data-body-map]").focus()
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector(".body-map-dot circle:not(.pending)")  # the saved map swapped in
    with ai_app.app_context():
        lesion = db.session.get(Lesion, lesion_id)
        assert lesion.map_view == "back" and round(lesion.map_y * 300) == 115
        db.session.remove()
    assert page.problems == []


def test_the_lesion_pages_at_1280_and_375_px(browser, live, ai_app, physician, screenshot_dir):
    lesion_id, case_ids = _seen(ai_app, physician, 3)
    with ai_app.app_context():
        patient_id = db.session.get(Lesion, lesion_id).patient_id
        db.session.remove()
    pages = {
        "patients": "/patients",
        "patient": f"/patients/{patient_id}",
        "lesion": f"/lesions/{lesion_id}",
        "compare": f"/lesions/{lesion_id}/compare",
        "case": f"/cases/{case_ids[2]}",
    }
    problems: list[str] = []
    for viewport in (DESKTOP, PHONE):
        page = open_page(browser, viewport=viewport)
        log_in(page, live, physician.email)
        for name, path in pages.items():
            page.goto(f"{live.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(
                path=screenshot_dir / f"lesions-{viewport['width']}-{name}.png", full_page=True
            )
            problems += [f"{name}: {p}" for p in page.evaluate(ACCESSIBILITY_BASICS)]
            if viewport is PHONE:
                problems += _fits_the_phone(page, name)
        assert page.problems == []
    assert problems == []


def test_the_demo_lesion_from_the_patient_to_the_first_and_last_photos(
    browser, live, ai_app, screenshot_dir
):
    """The issue's "done when": open the demo patient, see the lesion's three visits in a
    timeline, put the first and the last photos side by side, read what changed."""
    from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD

    result = ai_app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    for viewport in (DESKTOP, PHONE):
        width = viewport["width"]
        page = open_page(browser, viewport=viewport)
        page.goto(f"{live.url}/login")
        page.fill("#email", DEMO_EMAIL)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live.url}/")
        page.goto(f"{live.url}/patients")
        page.fill("#patient-q", "DEMO-LESION")  # the live search
        page.wait_for_url(re.compile(r".*\?q=DEMO-LESION$"))
        page.get_by_role("link", name="DEMO-LESION-1").click()
        page.get_by_role("link", name="Left scapula, pigmented naevus", exact=True).click()
        page.wait_for_url(LESION_URL)
        visits = page.locator("ol.timeline li.visit")
        assert visits.count() == 3
        assert "Routine care" in visits.nth(0).inner_text()
        assert "2-week suspected-cancer pathway" in visits.nth(2).inner_text()
        page.screenshot(path=screenshot_dir / f"lesions-demo-{width}-lesion.png", full_page=True)
        docs = os.environ.get("PORTAL_DOCS_SCREENSHOTS")
        if docs and viewport is DESKTOP:
            _docs_shot(page, Path(docs) / "lesion-timeline.png")
        page.get_by_role("link", name="Compare the first and the latest visit").click()
        page.wait_for_selector(".photo-pair")
        words = page.locator(".compare-words").inner_text()
        assert "Diameter 5 → 9 mm" in words
        assert re.search(r"Melanoma [\d.]+ % → [\d.]+ %", words)
        assert "Routine care → Refer on the 2-week suspected-cancer pathway" in words
        assert page.locator(".pair-box img").evaluate_all(
            "images => images.every(i => i.complete && i.naturalWidth > 0)"
        )
        page.screenshot(path=screenshot_dir / f"lesions-demo-{width}-compare.png", full_page=True)
        if docs and viewport is DESKTOP:
            _docs_shot(page, Path(docs) / "lesion-compare.png")
            _docs_shot(page.locator(".compare-words"), Path(docs) / "lesion-changes.png")
        if viewport is PHONE:
            assert _fits_the_phone(page, "demo compare") == []
            _drag_the_line_by_touch(page)
            _both_photos_zoom_together(page, screenshot_dir / "lesions-demo-375-viewer-pair.png")
        assert page.problems == []
        page.context.close()


def test_the_model_change_comparison(  # noqa: PLR0917 - fixtures
    browser, live, ai_app, older_ai_app, physician, screenshot_dir
):
    """Visit 1 analysed by the older model, visit 2 by the current one: the page offers the
    re-analysis, and afterwards shows both changes side by side."""
    from app.models import User
    from app.services.lesions import visits
    from tests.conftest import STRONG_PASSWORD
    from tests.lesion_visits import VISITS, diagnose

    client = ai_app.test_client()
    token = client.post(
        "/api/auth/login", json={"email": physician.email, "password": STRONG_PASSWORD}
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    older = older_ai_app.test_client()
    lesion_id, (first,) = seen_three_times(older_ai_app, older, headers, physician, count=1)
    with ai_app.app_context():
        actor = db.session.get(User, physician.id)
        second = visits.new_visit(actor=actor, lesion_id=lesion_id).id
        db.session.remove()
    diagnose(client, headers, second, *VISITS[2])

    page = open_page(browser, viewport=DESKTOP)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/lesions/{lesion_id}/compare?from={first}&to={second}")
    section = page.locator("#same-model")
    assert "reference-0.9" in section.inner_text() and "reference-1.0" in section.inner_text()
    page.get_by_role("button", name=re.compile("Re-analyse visit 1's photo")).click()
    page.wait_for_selector(".delta-pair")
    assert page.url.endswith("#same-model")
    lead = page.locator(".same-model-lead").inner_text()
    assert re.fullmatch(r"With the same model \(reference-1\.0\), .+ [<\d.]+ % → [<\d.]+ %\.", lead)
    assert "The model change alone" in page.locator(".same-model-more").last.inner_text()
    columns = page.locator(".delta-col")
    assert columns.count() == 2
    left, right = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert abs(left["y"] - right["y"]) < 2 and right["x"] > left["x"]  # side by side
    section.screenshot(path=screenshot_dir / "lesions-model-change-1280.png")
    page.screenshot(path=screenshot_dir / "lesions-model-change-1280-page.png", full_page=True)
    assert page.problems == []

    phone = open_page(browser, viewport=PHONE)
    log_in(phone, live, physician.email)
    phone.goto(f"{live.url}/lesions/{lesion_id}/compare?from={first}&to={second}#same-model")
    phone.screenshot(path=screenshot_dir / "lesions-model-change-375.png", full_page=True)
    assert _fits_the_phone(phone, "model change") == []
    assert phone.problems == []


def test_a_vertical_swipe_on_the_overlay_scrolls_the_phone_page(browser, live, ai_app, physician):
    """On a phone the overlay is a third of the screen: a finger moving up over it scrolls the
    page and leaves the line where it was; a finger moving sideways still moves the line."""
    lesion_id, _ = _seen(ai_app, physician, 2)
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/lesions/{lesion_id}/compare")
    page.locator("[data-overlay]").scroll_into_view_if_needed()
    box = page.locator("[data-overlay]").bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.8
    cdp = context.new_cdp_session(page)
    before = page.evaluate("scrollY")
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 10):
        point = {"x": x, "y": y - step * 20}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    # the page scrolled with the finger
    page.wait_for_function("before => window.scrollY > before + 50", arg=before, timeout=3000)
    assert page.locator("#reveal").input_value() == "50"  # and the line stayed
    assert abs(_reveal(page) - 0.5) < 0.02
    _drag_the_line_by_touch(page)  # sideways: the line follows the finger
    context.close()
