"""The worklist query: analysed, unreviewed cases by due time; counts per state; reassigning.

A physician's queue is the cases they own (``Case.owner_id``, the physician responsible for
the case: who may view and review it, :mod:`app.services.policies`); admins see every queue
and may hand a case to another physician, which moves its ownership (audited
``case.reassign`` with the physician before and after).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select

from app.errors import PermissionDenied, ValidationFailed
from app.extensions import db
from app.models import Analysis, Case, CaseImage, User
from app.models.base import utcnow
from app.services import audit, cases, policies
from app.services.clinical_record import history
from app.services.clinical_record.headline import action_for_urgency
from app.services.clinical_terms import URGENCIES
from app.services.lesions import records as lesion_records
from app.services.worklist.due import (
    DEFAULT_ROUTINE_DAYS,
    STATES,
    state_of,
    time_in_words,
    window,
)

#: Audit action of a reassignment (admins).
CASE_REASSIGN = "case.reassign"
#: Audit action of a worklist shown (portal or API): one per list, naming its cases and photos
#: (see :mod:`app.services.worklist.thumbnails`).
WORKLIST_VIEW = "worklist.view"
#: Most rows one worklist answer holds.
MAX_LIMIT = 500


@dataclass(frozen=True)
class WorkItem:
    """One row of the worklist: the case, its headline action, when it is due (aware UTC) and
    in words, its top diagnosis (``top_probability`` 0-1) and newest photo (``image_id``)."""

    case_id: uuid.UUID
    patient_reference: str
    body_site: str
    fitzpatrick_type: str | None
    urgency: str | None
    action: str | None
    action_text: str | None
    analysed_at: datetime
    due_at: datetime
    state: str
    due_in_words: str
    top_diagnosis: str | None
    top_probability: float | None
    image_id: uuid.UUID | None
    physician_id: int
    physician_name: str


def _routine_days() -> int:
    return int(current_app.config.get("WORKLIST_ROUTINE_DAYS", DEFAULT_ROUTINE_DAYS))


def _queue(actor: Any, physician_id: int | None) -> Select[Any]:
    """The select of (case, physician name, analysed_at) of the actor's analysed cases.

    The due time is added in Python (:func:`_rows`): interval arithmetic in SQL is
    PostgreSQL's own and ``make run`` serves SQLite.
    """
    first = (
        select(Analysis.case_id, func.min(Analysis.created_at).label("analysed_at"))
        .where(Analysis.status == "completed")
        .group_by(Analysis.case_id)
        .subquery()
    )
    query = (
        select(Case, User.full_name, first.c.analysed_at)
        .join(first, first.c.case_id == Case.id)
        .join(User, User.id == Case.owner_id)
        .where(Case.status == "analyzed")
    )
    if not policies.can_list_all_cases(actor):
        if physician_id not in (None, actor.id):
            raise PermissionDenied("Only admins see another physician's worklist.")
        query = query.where(Case.owner_id == actor.id)
    elif physician_id is not None:
        query = query.where(Case.owner_id == physician_id)
    return query


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rows(query: Select[Any], now: datetime) -> list[tuple[Any, str, datetime, datetime]]:
    """(case, physician name, analysed_at, due_at) rows, overdue first, then by due time,
    then oldest case first."""
    routine = _routine_days()
    rows = [
        (
            case_row,
            name,
            _aware(analysed_at),
            _aware(analysed_at) + window(case_row.urgency, routine),
        )
        for case_row, name, analysed_at in db.session.execute(query).all()
    ]
    rows.sort(key=lambda row: (row[3] >= now, row[3], _aware(row[0].created_at), str(row[0].id)))
    return rows


def _check(state: str | None, urgency: str | None, limit: int) -> None:
    problems: dict[str, str] = {}
    if state is not None and state not in STATES:
        problems["state"] = f"Must be one of: {', '.join(STATES)}."
    if urgency is not None and urgency not in URGENCIES:
        problems["urgency"] = f"Must be one of: {', '.join(URGENCIES)}."
    if not 1 <= limit <= MAX_LIMIT:
        problems["limit"] = f"limit must be between 1 and {MAX_LIMIT}."
    if problems:
        raise ValidationFailed(problems)


def worklist(
    *,
    actor: Any,
    physician_id: int | None = None,
    state: str | None = None,
    urgency: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[WorkItem]:
    """The actor's worklist (every physician's for admins, or ``physician_id``'s): overdue
    first, then by due time (earliest first), then oldest case first.

    Args:
        physician_id: only this physician's queue (admins; a physician may name only
            themselves).
        state: ``overdue`` | ``due_today`` | ``upcoming``; urgency: a headline urgency.
        limit: 1-500 rows. now: the moment "overdue" is measured against (default: now).

    Audited once as :data:`WORKLIST_VIEW` (filters, case ids, photo ids shown); the
    thumbnails of a portal worklist add no ``image.view`` of their own
    (:mod:`app.services.worklist.thumbnails`).

    Raises:
        ValidationFailed: unknown ``state``/``urgency``, ``limit`` out of range.
        PermissionDenied: a physician asking for another physician's queue.
    """
    _check(state, urgency, limit)
    now = now or utcnow()
    query = _queue(actor, physician_id)
    if urgency is not None:
        query = query.where(Case.urgency == urgency)
    rows = _rows(query, now)
    if state is not None:
        rows = [row for row in rows if state_of(row[3], now) == state]
    rows = rows[:limit]
    ids = [row[0].id for row in rows]
    latest, photos = history.latest_by_case(ids), _newest_images(ids)
    items = [_item(row, latest.get(row[0].id), photos.get(row[0].id), now) for row in rows]
    audit.record(
        actor,
        WORKLIST_VIEW,
        details={
            "filters": {"physician_id": physician_id, "state": state, "urgency": urgency},
            "cases": [str(item.case_id) for item in items],
            "images": [str(item.image_id) for item in items if item.image_id is not None],
        },
    )
    db.session.commit()
    return items


def _newest_images(case_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    found: dict[uuid.UUID, uuid.UUID] = {}
    if case_ids:
        rows = db.session.execute(
            select(CaseImage.case_id, CaseImage.id)
            .where(CaseImage.case_id.in_(case_ids))
            .order_by(CaseImage.case_id, CaseImage.created_at.desc())
        )
        for case_id, image_id in rows:
            found.setdefault(case_id, image_id)
    return found


def _item(
    row: Any, analysis: Analysis | None, image_id: uuid.UUID | None, now: datetime
) -> WorkItem:
    case_row, physician_name, analysed_at, due_at = row
    action = action_for_urgency(case_row.urgency)  # the headline action, as the due window
    top = ((analysis.predictions if analysis else None) or [{}])[0]
    return WorkItem(
        case_id=case_row.id,
        patient_reference=case_row.patient_reference,
        body_site=case_row.body_site,
        fitzpatrick_type=case_row.fitzpatrick_type,
        urgency=case_row.urgency,
        action=action[0] if action else None,
        action_text=action[1] if action else None,
        analysed_at=analysed_at,
        due_at=due_at,
        state=state_of(due_at, now),
        due_in_words=time_in_words(due_at, now),
        top_diagnosis=top.get("disease"),
        top_probability=top.get("probability"),
        image_id=image_id,
        physician_id=case_row.owner_id,
        physician_name=physician_name,
    )


def counts(
    *, actor: Any, physician_id: int | None = None, now: datetime | None = None
) -> dict[str, int]:
    """``{state: number of cases}`` of the actor's worklist (every state present, 0 if none).

    Raises:
        PermissionDenied: a physician asking for another physician's queue.
    """
    now = now or utcnow()
    found = dict.fromkeys(STATES, 0)
    for row in _rows(_queue(actor, physician_id), now):
        found[state_of(row[3], now)] += 1
    return found


def reassign_case(*, actor: Any, case_id: uuid.UUID, physician_id: int) -> Case:
    """Hand a case to another physician (admins only): it moves to their worklist and they
    become its owner, and it moves to their patient of the case's reference (created when
    needed; :func:`app.services.lesions.records.follow_reference`: its lesion goes along when the
    case is the lesion's only visit, otherwise the case starts a new lesion). Audited
    ``case.reassign`` with ``{"from", "to"}`` (user ids) and the ``patient_id`` / ``lesion_id``
    before and after.

    Raises:
        PermissionDenied: the actor is not an admin.
        NotFound: ``case_not_found``. Conflict: ``case_archived``.
        ValidationFailed: ``physician_id`` is no active user.
    """
    if not policies.is_admin(actor):
        raise PermissionDenied("Only admins reassign cases.")
    case_row = cases.require_case(actor=actor, case_id=case_id, for_edit=True)
    target = db.session.get(User, physician_id)
    if target is None or not target.is_active:
        raise ValidationFailed({"physician_id": "Choose an active physician."})
    before = case_row.owner_id
    if before != target.id:
        case_row.owner_id = target.id
        # The case joins the new owner's patient of its reference (issue #17), as when the
        # reference changes; else the former owner kept it in their lesion's timeline.
        moved = lesion_records.follow_reference(case_row)
        audit.record(
            actor,
            CASE_REASSIGN,
            case_id=case_row.id,
            details={"from": before, "to": target.id, **moved},
        )
    db.session.commit()
    return case_row


def physicians() -> list[User]:
    """Every active user a case can be assigned to, by name (admins pick from these)."""
    return list(
        db.session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.full_name))
    )


__all__ = [
    "CASE_REASSIGN",
    "MAX_LIMIT",
    "WorkItem",
    "counts",
    "physicians",
    "reassign_case",
    "worklist",
]
