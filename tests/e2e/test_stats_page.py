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


def test_the_statistics_page_on_the_demo_data(browser: Any, live: Any, ai_app: Any, screenshot_dir):
    result = ai_app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    page = open_page(browser, viewport={"width": 1200, "height": 1500})
    page.goto(f"{live.url}/login")
    page.fill("#email", DEMO_EMAIL)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")
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
