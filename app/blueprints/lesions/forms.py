"""WTForms of the patient and lesion pages: a new lesion, a lesion's details and status, its
place on the body map, and the two visits to compare.

As with the case forms, the forms check what a form can know; the lesions service checks the
domain rules and its ``ValidationFailed`` details land on the fields they name
(:func:`app.blueprints.cases.forms.show_problems`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Form, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired

from app.blueprints.lesions import body_map
from app.services.clinical_record.words import BODY_SITE_LABELS, day
from app.services.clinical_terms import BODY_SITES

#: The lesion statuses in words (the vocabulary of ``clinical_terms.LESION_STATUSES``).
LESION_STATUS_WORDS: dict[str, str] = {
    "monitoring": "Monitoring",
    "excised": "Excised",
    "resolved": "Resolved",
}
#: Longest lesion label, characters (``Lesion.label`` is a String(120)).
MAX_LABEL = 120


def _stripped(value: str | None) -> str:
    return (value or "").strip()


class LesionForm(FlaskForm):
    """A lesion's label, body site and status (a new lesion, or changing one)."""

    label = StringField(
        "Label",
        filters=[_stripped],
        validators=[DataRequired("Give the lesion a label, e.g. “left scapula, 8 mm naevus”.")],
        render_kw={"maxlength": MAX_LABEL, "autocomplete": "off"},
    )
    body_site = SelectField(
        "Body site",
        choices=[SelectChoice("", "Choose…")]
        + [SelectChoice(site, BODY_SITE_LABELS[site]) for site in BODY_SITES],
        validators=[InputRequired("Choose where the lesion is.")],
    )
    status = SelectField(
        "Status",
        choices=[SelectChoice(code, words) for code, words in LESION_STATUS_WORDS.items()],
        default="monitoring",
        validate_choice=False,  # the lesions service checks it and names the allowed values
    )

    def changes(self) -> dict[str, Any]:
        """The fields as the lesions service takes them."""
        return {
            "label": self.label.data or "",
            "body_site": self.body_site.data or "",
            "status": self.status.data or "",
        }


def map_click(form: Mapping[str, str]) -> tuple[float, float] | None:
    """The ``map.x`` / ``map.y`` of a click on the body map (an ``<input type="image">``, or
    body-map.js's hidden fields), or ``None`` when they are missing or not numbers."""
    try:
        return float(form["map.x"]), float(form["map.y"])
    except (KeyError, ValueError):
        return None


def place_on_map(form: Mapping[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    """Turn a posted body-map form into the lesion's map changes, or a problem in words.

    Returns ``(changes, None)``: ``{"map_view", "map_x", "map_y"}`` (all ``None`` for "remove
    the dot"), or ``(None, message)``.
    """
    if form.get("clear"):
        return {"map_view": None, "map_x": None, "map_y": None}, None
    click = map_click(form)
    if click is None:
        return None, "Click on the body map where the lesion is."
    point = body_map.point_from_click(*click)
    if point is None:
        return None, "That point is not on the figure: click on the body where the lesion is."
    return {"map_view": point.view, "map_x": point.x, "map_y": point.y}, None


def default_pair(visits: Sequence[Any]) -> tuple[Any, Any] | None:
    """The two visits compared when none are chosen: the first and the latest visit with a
    photo, so that a new visit not photographed yet (or abandoned) does not take the latest
    visit's place; the first and the last visit when fewer than two have a photo. ``visits``
    are timeline entries, oldest first; ``None`` when there is none."""
    if not visits:
        return None
    photographed = [visit for visit in visits if visit.image_id is not None]
    if len(photographed) >= 2:
        return photographed[0], photographed[-1]
    return visits[0], visits[-1]


class CompareForm(Form):
    """The two visits to compare (a GET form: ``from`` and ``to`` are case ids)."""

    earlier = SelectField("Earlier visit", id="compare-from", name="from")
    later = SelectField("Later visit", id="compare-to", name="to")

    def __init__(self, formdata: Any, visits: Sequence[Any]) -> None:
        super().__init__(formdata)
        choices = [
            SelectChoice(str(v.case_id), f"Visit {v.visit_number} · {day(v.date)}") for v in visits
        ]
        self.earlier.choices = choices
        self.later.choices = choices
        pair = default_pair(visits)
        if pair and not self.earlier.data:
            self.earlier.data = str(pair[0].case_id)
        if pair and not self.later.data:
            self.later.data = str(pair[1].case_id)

    def case_ids(self) -> tuple[uuid.UUID, uuid.UUID] | None:
        """The two chosen case ids, or ``None`` when one is not a case id at all (the lesions
        service says when one is not a visit of the lesion)."""
        try:
            return uuid.UUID(self.earlier.data or ""), uuid.UUID(self.later.data or "")
        except ValueError:
            return None
