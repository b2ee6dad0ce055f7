"""Histology outcomes: after review, what the pathology report said the lesion was.

The outcome is the reference standard of the concordance statistics
(:mod:`app.services.stats`): histopathology is the reference for skin cancer diagnosis
(NICE NG14, *Melanoma: assessment and management*, 2015, recommendation 1.3; the reference
standard of the dermatology AI studies, e.g. Tschandl et al., Lancet Oncol 2019;20:938-947).

Append-only: recording an outcome again adds a row; the newest is the case's outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date
from typing import Any

from sqlalchemy import select

from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import CaseOutcome
from app.models.base import utcnow
from app.services import audit, cases, free_text
from app.services.clinical_terms import MAX_NOTES
from app.services.diagnosis import ICD10_PATTERN

#: Audit action of a recorded outcome.
CASE_OUTCOME = "case.outcome"


def _problems(diagnosis: str, code: str | None, when: date | None, notes: str | None) -> dict:
    problems: dict[str, str] = {}
    if not diagnosis:
        problems["diagnosis"] = "Enter the histology diagnosis."
    elif free_text.is_invisible(diagnosis):
        problems["diagnosis"] = free_text.invisible_problem("The histology diagnosis")
    elif len(diagnosis) > 255:
        problems["diagnosis"] = "The diagnosis may be at most 255 characters."
    if code is not None and not ICD10_PATTERN.match(code):
        problems["icd10"] = "Enter an ICD-10 code such as C43.9 or D22.5 (or leave it empty)."
    if when is None:
        problems["outcome_date"] = "Enter the date of the histology report."
    elif when > utcnow().date():
        problems["outcome_date"] = "The date of the report cannot be in the future."
    if notes is not None and len(notes) > MAX_NOTES:
        problems["notes"] = f"Notes may be at most {MAX_NOTES:,} characters."
    return problems


def visit_date(case: Any) -> date:
    """The day of the case's visit: the UTC day it was opened (``created_at``), the earliest
    day a histology report of its lesion may carry."""
    return case.created_at.astimezone(UTC).date()


def record_outcome(
    *,
    actor: Any,
    case_id: uuid.UUID,
    diagnosis: str,
    outcome_date: date | None,
    icd10: str | None = None,
    notes: str | None = None,
    excised: bool = False,
) -> CaseOutcome:
    """Record the histology outcome of a reviewed case (audited ``case.outcome``).

    Args:
        diagnosis: the pathologist's diagnosis; icd10: its code (WHO ICD-10 pattern, upper-cased);
        outcome_date: the date of the histology report (from the visit's day, not in the
        future); notes: free text; excised: whether the lesion was excised.

    Raises:
        ValidationFailed: empty or long diagnosis, malformed code, missing or future date, a
            date before the case's visit (:func:`visit_date`), long notes.
        NotFound: ``case_not_found``. Conflict: ``case_archived``, ``case_not_reviewed`` (an
            outcome follows the physician's review).
    """
    diagnosis = (diagnosis or "").strip()
    code = (icd10 or "").strip().upper() or None
    notes = (notes or "").strip() or None
    problems = _problems(diagnosis, code, outcome_date, notes)
    if problems:
        raise ValidationFailed(problems)
    case = cases.require_case(actor=actor, case_id=case_id)
    if case.status == "archived":
        raise Conflict("This case is archived.", code="case_archived")
    if case.status != "reviewed":
        raise Conflict(
            "Record the histology outcome after the physician's review.",
            code="case_not_reviewed",
        )
    visit = visit_date(case)
    if outcome_date < visit:
        raise ValidationFailed(
            {
                "outcome_date": f"The report date {outcome_date.isoformat()} is before the visit "
                f"on {visit.isoformat()}: a histology report follows the visit it is about."
            }
        )
    outcome = CaseOutcome(
        id=uuid.uuid4(),
        case_id=case.id,
        diagnosis=diagnosis,
        icd10=code,
        outcome_date=outcome_date,
        notes=notes,
        excised=bool(excised),
        recorded_by_id=getattr(actor, "id", None),
        recorded_at=utcnow(),
    )
    db.session.add(outcome)
    audit.record(
        actor,
        CASE_OUTCOME,
        case_id=case.id,
        details={"icd10": code, "outcome_date": outcome_date.isoformat(), "excised": excised},
    )
    db.session.commit()
    return outcome


def latest_outcomes(case_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, CaseOutcome]:
    """``{case id: its newest outcome}`` for the given cases, in one query (no access check:
    for services that loaded the cases through one)."""
    wanted = list(case_ids)
    found: dict[uuid.UUID, CaseOutcome] = {}
    if wanted:
        rows = db.session.scalars(
            select(CaseOutcome)
            .where(CaseOutcome.case_id.in_(wanted))
            .order_by(CaseOutcome.case_id, CaseOutcome.recorded_at.desc())
        )
        for outcome in rows:
            found.setdefault(outcome.case_id, outcome)
    return found


def outcome_of(case_id: uuid.UUID) -> CaseOutcome | None:
    """The case's newest outcome, or ``None``."""
    return latest_outcomes([case_id]).get(case_id)
