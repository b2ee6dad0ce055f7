"""Static checks of the portal's templates: rules that every page must keep."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

TEMPLATES = REPO_ROOT / "app" / "templates"
#: An opening tag that sends a request through htmx (its attributes may span lines).
HTMX_REQUEST_TAG = re.compile(r"<[a-z]+\b[^>]*\bhx-(?:post|put|patch|delete)=[^>]*>", re.DOTALL)


def test_every_htmx_submit_disables_its_buttons_while_it_runs():
    """No duplicates: a second click while a request runs cannot send it again."""
    tags = [
        (path.relative_to(TEMPLATES), tag)
        for path in TEMPLATES.rglob("*.html")
        for tag in HTMX_REQUEST_TAG.findall(path.read_text())
    ]
    assert len(tags) >= 7  # new case, answer, change, photo (x2), analysis, review
    missing = [f"{path}: {tag[:80]}" for path, tag in tags if "hx-disabled-elt=" not in tag]
    assert missing == []
