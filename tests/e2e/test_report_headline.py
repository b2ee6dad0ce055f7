"""In the browser: the report's headline action is readable whatever the urgency (its text was
painted in the urgency's colour on a band of the same colour for high and emergency)."""

from __future__ import annotations

import pytest

from tests.e2e.test_portal_flow import log_in, open_page
from tests.fixtures.analysed import analysed_case, differential

#: WCAG 2.x contrast ratio of the text's colour on the band's background (alpha ignored: the
#: band's background is opaque or transparent on the white report).
CONTRAST = """el => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const band = el.closest('.headline');
  let bg = rgb(getComputedStyle(band).backgroundColor);
  if (bg.length === 4 && bg[3] === 0) bg = [255, 255, 255];
  const fg = rgb(getComputedStyle(el).color);
  const lum = c => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.mark.parametrize("priority", ["routine", "soon", "urgent", "emergency"])
def test_the_report_headline_action_is_readable(browser, live, ai_app, physician, priority):
    with ai_app.app_context():
        case_id = analysed_case(
            physician,
            predictions=differential(
                ("Melanoma", "C43.9", 0.8), ("Melanocytic nevus", "D22.9", 0.2)
            ),
            priority=priority,
        )
    page = open_page(browser)
    log_in(page, live, physician.email)
    page.goto(f"{live.url}/cases/{case_id}/report")
    action = page.locator("article.report .headline dd strong")
    assert action.inner_text().strip()
    ratio = action.evaluate(CONTRAST)
    assert ratio >= 4.5, f"{priority}: contrast {ratio:.2f}"
