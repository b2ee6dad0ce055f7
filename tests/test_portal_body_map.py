"""The body map's geometry: the SVG draws the outline the server tests clicks against, and a
click becomes the lesion's (view, x, y) — and back into the dot's place."""

from __future__ import annotations

import re

import pytest

from app.blueprints.lesions import body_map
from app.blueprints.lesions.forms import place_on_map
from tests.conftest import REPO_ROOT

SVG = REPO_ROOT / "app" / "static" / "img" / "body-map.svg"


def test_the_svg_draws_the_outline_the_server_checks_clicks_against():
    text = SVG.read_text()
    paths = re.findall(r'<path d="([^"]+)"/>', text)
    assert paths == [body_map.outline_path(75), body_map.outline_path(225)]
    assert 'viewBox="0 0 300 300"' in text
    assert text.count('r="16"') == 2  # the heads


@pytest.mark.parametrize(
    ("x", "y", "view", "local_x", "local_y"),
    [
        (75, 100, "front", 0.5, 0.3333),  # the front's chest
        (225, 100, "back", 0.5, 0.3333),  # the back, between the shoulder blades
        (75, 28, "front", 0.5, 0.0933),  # the head
        (195, 90, "back", 0.3, 0.3),  # the back's left shoulder blade (viewer's left)
        (118, 150, "front", 0.7867, 0.5),  # the front's left forearm
    ],
)
def test_a_click_on_a_figure_is_a_point_of_that_view(x, y, view, local_x, local_y):
    point = body_map.point_from_click(x, y)
    assert point == body_map.MapPoint(view=view, x=local_x, y=local_y)
    assert (round(point.svg_x), round(point.svg_y)) == (x, y)  # the dot lands where clicked


@pytest.mark.parametrize(
    ("x", "y"),
    [(0, 0), (10, 150), (150, 150), (75, 295), (290, 10), (75, 167), (-3, 50), (300, 50)],
)
def test_a_click_beside_the_figures_is_no_point(x, y):
    assert body_map.point_from_click(x, y) is None


def test_the_posted_map_form_becomes_the_lesions_changes_or_a_problem():
    assert place_on_map({"map.x": "225", "map.y": "100"}) == (
        {"map_view": "back", "map_x": 0.5, "map_y": 0.3333},
        None,
    )
    assert place_on_map({"clear": "1", "map.x": "225", "map.y": "100"}) == (
        {"map_view": None, "map_x": None, "map_y": None},
        None,
    )
    changes, problem = place_on_map({"map.x": "0", "map.y": "0"})  # Enter on the image input
    assert changes is None and "not on the figure" in problem
    changes, problem = place_on_map({})
    assert changes is None and problem == "Click on the body map where the lesion is."
    changes, problem = place_on_map({"map.x": "abc", "map.y": "4"})
    assert changes is None and problem == "Click on the body map where the lesion is."


def test_a_stored_point_is_shown_only_when_complete():
    assert body_map.point_of(None, None, None) is None
    assert body_map.point_of("front", 0.5, None) is None
    assert body_map.point_of("side", 0.5, 0.5) is None
    assert body_map.point_of("back", 0.2, 0.3) == body_map.MapPoint("back", 0.2, 0.3)
