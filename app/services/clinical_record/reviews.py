"""The physician's review of a case, its history, and reopening a reviewed (signed) case.

A reviewed case is signed: its answers, case fields, images and analyses answer 409
``case_reviewed`` (:func:`app.services.cases.require_case`) until it is reopened with a reason.
Every review is kept as a ``CaseReview`` row; the case's own review columns hold the current
one (also after a reopen, until the next review); the row is marked with who reopened it,
when and why.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select

from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import Case, CaseReview
from app.models.base import utcnow
from app.services import audit, cases, free_text
from app.services.clinical_record import coding, history
from app.services.clinical_record.agreement import settle_agreement

#: ICD-10 code as WHO writes it: letter, two digits, optional dot and up to 4 characters.
ICD10_PATTERN = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
#: Longest reason for reopening, characters.
MAX_REASON = 2000


def _review_problems(final_diagnosis: str, code: str | None, notes: str | None) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not final_diagnosis:
        problems["final_diagnosis"] = "Enter the final diagnosis."
    elif free_text.is_invisible(final_diagnosis):
        problems["final_diagnosis"] = free_text.invisible_problem("The final diagnosis")
    elif len(final_diagnosis) > 255:
        problems["final_diagnosis"] = "The final diagnosis may be at most 255 characters."
    if code is not None and not ICD10_PATTERN.match(code):
        problems["icd10"] = "Enter an ICD-10 code such as C43.9 or L40.0 (or leave it empty)."
    if notes is not None and len(notes) > 10_000:
        problems["notes"] = "Notes may be at most 10,000 characters."
    return problems


def review_case(
    *,
    actor: Any,
    case_id: uuid.UUID,
    final_diagnosis: str,
    agreement: str | None = None,
    icd10: str | None = None,
    notes: str | None = None,
    confirm_icd10: bool = False,
) -> Case:
    """Record the physician's final diagnosis; the case becomes ``reviewed`` (signed, audited).

    A code contradicting a known diagnosis ("Melanoma" with ``D22.9``: see
    :mod:`app.services.clinical_record.coding`) is refused unless ``confirm_icd10``; a
    confirmed one is kept, the audit records the diagnosis's own code beside it, and the
    agreement is the physician's answer (never derived from a name and code that disagree).

    ``icd10`` is checked against the WHO ICD-10 code pattern (e.g. ``C43.9``, ``L40.0``).
    ``agreement`` (``top1`` | ``in_differential`` | ``differs``) is derived when the diagnosis
    is in the latest analysis's differential, which also fills an empty ``icd10`` with the
    entry's code; otherwise the physician's ``agreement`` is required
    (:func:`app.services.clinical_record.agreement.settle_agreement`). The review is added to
    the case's review history with the analysis it was about. A reviewed case is signed, its
    review included: a new review needs a reopen (with a reason) first.

    Raises:
        ValidationFailed: empty diagnosis, malformed ICD-10 code, notes over 10,000 characters,
            ``agreement`` missing when the diagnosis is not in the differential (or its code
            was a confirmed contradiction); ``icd10_mismatch`` (``details``: ``icd10``
            message, ``expected_icd10``) for an unconfirmed contradiction.
        NotFound: ``case_not_found``. Conflict: ``case_archived``, ``case_reviewed`` (signed:
            reopen it first), ``case_not_analyzed`` (a review needs a completed analysis).
    """
    final_diagnosis = (final_diagnosis or "").strip()
    code = (icd10 or "").strip().upper() or None
    notes = (notes or "").strip() or None
    problems = _review_problems(final_diagnosis, code, notes)
    if problems:
        raise ValidationFailed(problems)
    case = cases.require_case(actor=actor, case_id=case_id, for_edit=True)
    if case.status != "analyzed":
        raise Conflict(
            "This case has no completed analysis to review yet.", code="case_not_analyzed"
        )
    analyses = history.analyses_of(case.id)
    predictions = analyses[0].predictions if analyses else None
    mismatch = coding.contradiction(final_diagnosis, code, predictions)
    if mismatch is not None and not confirm_icd10:
        message = mismatch.message(final_diagnosis)
        raise ValidationFailed(
            {"icd10": message, "expected_icd10": mismatch.expected_icd10},
            message=message,
            code="icd10_mismatch",
        )
    agreement, code, problem = settle_agreement(
        final_diagnosis=final_diagnosis,
        icd10=code,
        given=agreement,
        predictions=predictions,
        contradicted=mismatch is not None,
    )
    if problem:
        raise ValidationFailed({"agreement": problem})
    cases.transition(case, "reviewed")
    now, reviewer = utcnow(), getattr(actor, "id", None)
    case.final_diagnosis = final_diagnosis
    case.final_icd10 = code
    case.ai_agreement = agreement
    case.review_notes = notes
    case.reviewed_at = now
    case.reviewed_by_id = reviewer
    db.session.add(
        CaseReview(
            id=uuid.uuid4(),
            case_id=case.id,
            analysis_id=analyses[0].id if analyses else None,
            final_diagnosis=final_diagnosis,
            final_icd10=code,
            ai_agreement=agreement,
            notes=notes,
            reviewed_at=now,
            reviewed_by_id=reviewer,
        )
    )
    audit.record(
        actor,
        audit.CASE_REVIEW,
        case_id=case.id,
        details={
            "final_icd10": code,
            "ai_agreement": agreement,
            **(
                {"icd10_confirmed": {"expected_icd10": mismatch.expected_icd10}}
                if mismatch is not None
                else {}
            ),
        },
    )
    db.session.commit()
    return case


def reopen_case(*, actor: Any, case_id: uuid.UUID, reason: str) -> Case:
    """Reopen a reviewed case with a reason: it returns to ``analyzed``, so that its answers,
    fields and photo may change and it can be analysed and reviewed again.

    The current review stays in the history (marked reopened, by whom, when and why) and on
    the case as its latest review (a case ``analyzed`` with a review is one reopened or
    re-analysed after its review: it awaits a new review). The audit records the reason and
    the review reopened.

    Raises:
        ValidationFailed: ``reason`` missing or over 2,000 characters.
        NotFound: ``case_not_found``. Conflict: ``case_archived``, ``case_not_reviewed``.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "Say why the reviewed case is reopened."})
    if free_text.is_invisible(reason):
        raise ValidationFailed({"reason": free_text.invisible_problem("The reason")})
    if len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": f"The reason may be at most {MAX_REASON} characters."})
    case = cases.require_case(actor=actor, case_id=case_id, for_edit=True, signed_ok=True)
    if case.status != "reviewed":
        raise Conflict("Only a reviewed case can be reopened.", code="case_not_reviewed")
    current = db.session.scalars(
        select(CaseReview)
        .where(CaseReview.case_id == case.id, CaseReview.reopened_at.is_(None))
        .order_by(CaseReview.reviewed_at.desc())
    ).all()
    now = utcnow()
    for review in current:
        review.reopened_at = now
        review.reopened_by_id = getattr(actor, "id", None)
        review.reopen_reason = reason
    reopened = {
        "final_diagnosis": case.final_diagnosis,
        "final_icd10": case.final_icd10,
        "ai_agreement": case.ai_agreement,
        "reviewed_at": case.reviewed_at.isoformat() if case.reviewed_at else None,
        "reviewed_by_id": case.reviewed_by_id,
    }
    cases.transition(case, "analyzed")
    audit.record(
        actor,
        audit.CASE_REOPEN,
        case_id=case.id,
        details={"reason": reason, "from": "reviewed", "to": "analyzed", "review": reopened},
    )
    db.session.commit()
    return case


def review_history(case_id: uuid.UUID) -> list[CaseReview]:
    """Every review of the case, newest first (reopened ones included)."""
    return list(
        db.session.scalars(
            select(CaseReview)
            .where(CaseReview.case_id == case_id)
            .order_by(CaseReview.reviewed_at.desc())
        )
    )
