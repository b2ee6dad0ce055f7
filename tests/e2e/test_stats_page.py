"""The statistics page in a browser, on the demo data: the plot loads, the tables are there,
no CSP violation or console error; its screenshot is the README's (``PORTAL_DOCS_SCREENSHOTS``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from app.extensions import db
from app.services import stats
from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.e2e.test_portal_flow import open_page, shrink_png

pytestmark = pytest.mark.browser


def _demo_physician(browser: Any, live: Any, ai_app: Any, viewport: dict) -> Any:
    """A page logged in as the demo physician, after ``flask demo seed``, at ``viewport``."""
    result = ai_app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    page = open_page(browser, viewport=viewport)
    page.goto(f"{live.url}/login")
    page.fill("#email", DEMO_EMAIL)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    return page


def test_the_statistics_page_on_the_demo_data(browser: Any, live: Any, ai_app: Any, screenshot_dir):
    page = _demo_physician(browser, live, ai_app, {"width": 1200, "height": 1500})
    assert page.locator("ol.worklist li").count() >= 1  # the unreviewed demo cases
    page.get_by_role("link", name="Statistics").click()
    page.wait_for_url(f"{live.url}/stats")
    page.wait_for_function(
        "document.querySelector('.calibration-pair img').complete"
        " && document.querySelector('.calibration-pair img').naturalWidth > 0"
    )
    text = page.locator("main").inner_text()
    with ai_app.app_context():
        figures = stats.concordance(actor=None)
        db.session.remove()
    assert figures.reviewed >= 41
    assert f"{figures.reviewed} reviewed cases, {figures.with_histology} with histology" in text
    assert "invented" in text and "Type VI" in text and "Sensitivity" in text
    assert page.problems == []  # no CSP violation, no failed resource
    page.screenshot(path=screenshot_dir / "stats-page.png", full_page=True)
    folder = os.environ.get("PORTAL_DOCS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / "statistics.png", full_page=True)
        shrink_png(Path(folder) / "statistics.png")


def test_the_statistics_page_fits_a_390px_phone(
    browser: Any, live: Any, ai_app: Any, screenshot_dir: Any
):
    """At 390 px (a phone held upright) the page scrolls only vertically: its wide tables scroll
    inside their own box, and the header's overdue badge does not cover the menu button."""
    page = _demo_physician(browser, live, ai_app, {"width": 390, "height": 844})
    page.goto(f"{live.url}/stats")
    page.screenshot(path=screenshot_dir / "stats-page-390.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    overlaps = page.evaluate(
        """() => {
             const boxes = [...document.querySelectorAll("header a, header button, header summary,"
               + " header .badge")].filter(e => e.offsetParent !== null)
               .map(e => [e.textContent.trim(), e.getBoundingClientRect()]);
             const hits = [];
             for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
               const [na, a] = boxes[i], [nb, b] = boxes[j];
               const apart = a.right <= b.left || b.right <= a.left
                 || a.bottom <= b.top || b.bottom <= a.top;
               const nested = boxes[i][0].includes(nb) || nb.includes(na);
               if (!apart && !nested) hits.push(na + " / " + nb);
             }
             return hits;
           }"""
    )
    assert overlaps == []
    assert page.problems == []
