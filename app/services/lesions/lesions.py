"""Lesions: create, change and read one with its timeline (owner-or-admin, audited)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from app.errors import ValidationFailed
from app.extensions import db
from app.models import Case, Lesion
from app.services import audit, free_text
from app.services.clinical_record.headline import headline_of
from app.services.clinical_record.words import body_site_label
from app.services.clinical_terms import (
    BODY_MAP_VIEWS,
    BODY_SITES,
    LESION_STATUSES,
    MAX_LESION_LABEL,
)
from app.services.lesions import access, patients, timeline
from app.services.lesions.shapes import LesionRecord, LesionSummary

#: Fields ``update_lesion`` may change.
EDITABLE_FIELDS = ("label", "body_site", "map_x", "map_y", "map_view", "status")


def _label_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "A label is required (e.g. 'left scapula, 8 mm naevus')."
    if free_text.is_invisible(value):
        return free_text.invisible_problem("The label")
    if len(value.strip()) > MAX_LESION_LABEL:
        return f"The label may be at most {MAX_LESION_LABEL} characters."
    return None


def _one_of(values: tuple[str, ...]) -> Any:
    return lambda value: None if value in values else f"Must be one of: {', '.join(values)}."


def _coordinate_problem(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return "Must be a number from 0 to 1 (a share of the body map's width or height)."
    return None


_CHECKS = {
    "label": _label_problem,
    "body_site": _one_of(BODY_SITES),
    "status": _one_of(LESION_STATUSES),
    "map_x": _coordinate_problem,
    "map_y": _coordinate_problem,
    "map_view": lambda value: None if value is None else _one_of(BODY_MAP_VIEWS)(value),
}


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check and trim lesion fields; the body-map point is all three of ``map_x``, ``map_y``
    and ``map_view``, or none of them.

    Raises:
        ValidationFailed: ``details`` maps each bad field to a message.
    """
    problems = {name: "This field cannot be set." for name in values if name not in _CHECKS}
    for name, value in values.items():
        if name in _CHECKS and (why := _CHECKS[name](value)) is not None:
            problems[name] = why
    point = [values.get(name) for name in ("map_x", "map_y", "map_view")]
    if any(item is not None for item in point) and any(item is None for item in point):
        problems.setdefault(
            "map_view", "Give map_x, map_y and map_view together (or none of them)."
        )
    if problems:
        raise ValidationFailed(problems)
    cleaned = dict(values)
    if "label" in cleaned:
        cleaned["label"] = cleaned["label"].strip()
    return cleaned


def _newest_analyses(ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """``{lesion id: the newest completed analysis of its newest analysed visit}`` (archived
    visits left out; a new visit not analysed yet does not hide the last result)."""
    rows = db.session.execute(
        select(Case.lesion_id, Case.id)
        .where(Case.lesion_id.in_(ids), Case.status != "archived")
        .order_by(Case.lesion_id, Case.created_at.desc(), Case.id.desc())
    ).all()
    analyses = timeline.latest_completed([case_id for _, case_id in rows])
    newest: dict[uuid.UUID, Any] = {}
    for lesion_id, case_id in rows:
        if case_id in analyses:
            newest.setdefault(lesion_id, analyses[case_id])
    return newest


def lesion_summaries(lesions: list[Lesion]) -> list[LesionSummary]:
    """The lesions with their visit counts, first/last visit and latest headline urgency."""
    ids = [lesion.id for lesion in lesions]
    spans = {
        row[0]: (row[1], row[2], row[3])
        for row in db.session.execute(
            select(
                Case.lesion_id, func.count(), func.min(Case.created_at), func.max(Case.created_at)
            )
            .where(Case.lesion_id.in_(ids), Case.status != "archived")
            .group_by(Case.lesion_id)
        )
    }
    newest = _newest_analyses(ids)
    return [
        _summary(lesion, spans.get(lesion.id, (0, None, None)), newest.get(lesion.id))
        for lesion in lesions
    ]


def _summary(lesion: Lesion, span: tuple, analysis: Any) -> LesionSummary:
    count, first, last = span
    headline = headline_of(analysis)
    return LesionSummary(
        id=lesion.id,
        patient_id=lesion.patient_id,
        label=lesion.label,
        body_site=lesion.body_site,
        body_site_label=body_site_label(lesion.body_site),
        map_x=lesion.map_x,
        map_y=lesion.map_y,
        map_view=lesion.map_view,
        status=lesion.status,
        visit_count=count,
        first_visit_at=first,
        last_visit_at=last,
        latest_urgency=headline.urgency if headline else None,
        created_at=lesion.created_at,
        updated_at=lesion.updated_at,
    )


def create_lesion(
    *,
    actor: Any,
    patient_id: uuid.UUID,
    label: str,
    body_site: str,
    map_x: float | None = None,
    map_y: float | None = None,
    map_view: str | None = None,
    status: str = "monitoring",
) -> Lesion:
    """Add a lesion to a patient the actor may see (no visit yet: start one with
    :func:`app.services.lesions.visits.new_visit`).

    Raises:
        NotFound: ``patient_not_found``.
        ValidationFailed: a bad field (``details``: field → message).
    """
    fields = clean(
        {
            "label": label,
            "body_site": body_site,
            "map_x": map_x,
            "map_y": map_y,
            "map_view": map_view,
            "status": status,
        }
    )
    patient = access.require_patient(actor=actor, patient_id=patient_id)
    lesion = Lesion(id=uuid.uuid4(), patient_id=patient.id, **fields)
    db.session.add(lesion)
    audit.record(
        actor,
        access.LESION_CREATE,
        details={"patient_id": str(patient.id), "lesion_id": str(lesion.id)},
    )
    db.session.commit()
    return lesion


def update_lesion(*, actor: Any, lesion_id: uuid.UUID, changes: Mapping[str, Any]) -> Lesion:
    """Change a lesion's label, body site, body-map point or status; the audit keeps each
    changed field's value before and after.

    Raises:
        ValidationFailed: nothing to change or a bad field.
        NotFound: ``lesion_not_found``.
    """
    if not changes:
        raise ValidationFailed({"body": "Send at least one field to change."})
    lesion = access.require_lesion(actor=actor, lesion_id=lesion_id)
    wanted = dict(changes)
    point = ("map_x", "map_y", "map_view")
    if any(name in wanted for name in point):  # a moved dot is checked as a whole point
        wanted = {name: getattr(lesion, name) for name in point} | wanted
    cleaned = clean(wanted)
    changed = {
        name: {"before": getattr(lesion, name), "after": value}
        for name, value in cleaned.items()
        if getattr(lesion, name) != value
    }
    for name, change in changed.items():
        setattr(lesion, name, change["after"])
    audit.record(
        actor,
        access.LESION_UPDATE,
        details={"lesion_id": str(lesion.id), "fields": sorted(changed), "changes": changed},
    )
    db.session.commit()
    return lesion


def get_lesion(*, actor: Any, lesion_id: uuid.UUID) -> LesionRecord:
    """The lesion, its patient and every visit (oldest first); the read is audited.

    Raises:
        NotFound: ``lesion_not_found``.
    """
    lesion = access.require_lesion(actor=actor, lesion_id=lesion_id)
    visits = access.visits_of(lesion.id)
    audit.record(
        actor,
        access.LESION_READ,
        details={"lesion_id": str(lesion.id), "cases": [str(case.id) for case in visits]},
    )
    db.session.commit()
    return LesionRecord(
        lesion=lesion_summaries([lesion])[0],
        patient=patients.summaries([lesion.patient])[0],
        visits=timeline.timeline(visits),
    )
