"""The body map of the lesion page: a front and a back outline side by side, 300 × 300 px.

The picture is ``static/img/body-map.svg``; this module holds its geometry, so that the server
turns a click on it into the lesion's ``(map_view, map_x, map_y)`` and back into a dot.

A click reaches the server as the ``map.x`` / ``map.y`` of an ``<input type="image">`` (the
HTML form's own click coordinates, so placing a dot works without JavaScript): CSS pixels from
the image's top left corner, the image being shown at exactly :data:`SIZE` × :data:`SIZE` CSS
pixels. The left half (x < 150) is the front, the right half the back; the lesion keeps
``map_x`` (0..1 from the left edge of that half) and ``map_y`` (0..1 from the top), as the
lesion model and ``PATCH /api/lesions/<id>`` describe them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Width and height of the body map as shown, CSS pixels (the SVG's viewBox too).
SIZE = 300
#: Width of one view (front or back).
HALF = SIZE // 2
#: The views from left to right.
VIEWS: tuple[str, ...] = ("front", "back")

#: The right half of one standing figure, as ``(x offset from its centre line, y)`` from the
#: neck down to the crotch; the outline is these points and their mirror image. The head is a
#: circle. The SVG file draws exactly this (``tests/test_portal_lesions.py`` checks it).
_RIGHT_HALF: tuple[tuple[int, int], ...] = (
    (6, 44), (7, 53), (22, 57), (33, 62), (38, 70), (41, 92), (44, 118), (48, 146),
    (52, 166), (53, 178), (48, 181), (44, 172), (38, 148), (33, 122), (30, 100), (28, 118),
    (27, 140), (29, 160), (27, 200), (24, 240), (22, 272), (26, 283), (24, 288), (10, 288),
    (9, 274), (8, 240), (6, 200), (3, 170), (0, 166),
)  # fmt: skip
_HEAD_Y, _HEAD_R = 28, 16


@dataclass(frozen=True)
class MapPoint:
    """A point on the body map: the view and its 0..1 coordinates within that view."""

    view: str
    x: float
    y: float

    @property
    def svg_x(self) -> float:
        """The point's x on the whole 300 px map."""
        return VIEWS.index(self.view) * HALF + self.x * HALF

    @property
    def svg_y(self) -> float:
        """The point's y on the whole 300 px map."""
        return self.y * SIZE


def outline(centre: float) -> list[tuple[float, float]]:
    """The figure's outline (without the head) as a closed polygon around ``centre``."""
    right = [(centre + dx, y) for dx, y in _RIGHT_HALF]
    left = [(centre - dx, y) for dx, y in reversed(_RIGHT_HALF[:-1])]
    return right + left


def outline_path(centre: float) -> str:
    """The outline as an SVG path ``d`` (how ``body-map.svg`` draws it)."""
    return "M" + " L".join(f"{x:g},{y:g}" for x, y in outline(centre)) + " Z"


def _inside(polygon: list[tuple[float, float]], x: float, y: float) -> bool:
    """Even-odd ray casting: whether ``(x, y)`` lies inside ``polygon``."""
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def on_figure(x: float, y: float) -> bool:
    """Whether the map pixel ``(x, y)`` lies on the front or back figure (head included)."""
    centre = HALF / 2 + (HALF if x >= HALF else 0)
    if (x - centre) ** 2 + (y - _HEAD_Y) ** 2 <= _HEAD_R**2:
        return True
    return _inside(outline(centre), x, y)


def point_from_click(x: float, y: float) -> MapPoint | None:
    """The lesion's map point for a click at map pixel ``(x, y)``; ``None`` off the figures."""
    if not (0 <= x < SIZE and 0 <= y <= SIZE) or not on_figure(x, y):
        return None
    view = VIEWS[int(x // HALF)]
    local = x - VIEWS.index(view) * HALF
    return MapPoint(view=view, x=round(local / HALF, 4), y=round(y / SIZE, 4))


def point_of(view: str | None, x: float | None, y: float | None) -> MapPoint | None:
    """The stored ``(map_view, map_x, map_y)`` as a point, or ``None`` when not placed."""
    if view not in VIEWS or x is None or y is None:
        return None
    return MapPoint(view=view, x=x, y=y)
