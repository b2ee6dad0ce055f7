"""Unarchiving a case archived by mistake: back to the status it had, with a reason, audited.

``DELETE /api/cases/<id>`` archives (nothing is deleted) and an archived case is read-only, so
a case archived by mistake could never be changed, reviewed or given its histology outcome
again. Its status before archiving is read from its latest ``case.archive`` audit event
(``details["from"]``, written since the first archive); a case without one returns to
``analyzed`` when it has a completed analysis (``analysis_failed``, ``questionnaire``,
``draft`` by what it has), and is never made
``reviewed`` by guessing.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import AuditEvent, Case
from app.services import audit, free_text, policies
from app.services.clinical_record import history
from app.services.clinical_terms import CASE_STATUSES

#: Longest reason for unarchiving, characters (as for reopening).
MAX_REASON = 2000


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "Say why the archived case is restored."})
    if free_text.is_invisible(reason):
        raise ValidationFailed({"reason": free_text.invisible_problem("The reason")})
    if len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": f"The reason may be at most {MAX_REASON} characters."})
    return reason


def _status_before_archiving(case: Case) -> str:
    before = db.session.scalar(
        select(AuditEvent.details)
        .where(AuditEvent.case_id == case.id, AuditEvent.action == audit.CASE_ARCHIVE)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )
    status = (before or {}).get("from")
    if status in CASE_STATUSES and status != "archived":
        return str(status)
    analyses = history.analyses_of(case.id)
    if any(analysis.status == "completed" for analysis in analyses):
        return "analyzed"
    if analyses:
        return "analysis_failed"
    return "questionnaire" if case.anamnesis else "draft"


def unarchive_case(*, actor: Any, case_id: uuid.UUID, reason: str) -> Case:
    """Return an archived case to the status it had before archiving (a reviewed case comes
    back signed), with a reason; the audit (``case.unarchive``) records the reason and the
    status before and after (``details["changes"]["status"]``).

    ``actor`` is the case's owner or an admin (``None``: the admin CLI).

    Raises:
        ValidationFailed: ``reason`` missing, invisible or over 2,000 characters.
        NotFound: ``case_not_found`` (also a case the actor may not change).
        Conflict: ``case_not_archived``.
    """
    reason = _reason(reason)
    case = db.session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None or (actor is not None and not policies.can_edit_case(actor, case)):
        raise NotFound("Case not found.", code="case_not_found")
    if case.status != "archived":
        raise Conflict("Only an archived case can be unarchived.", code="case_not_archived")
    status = _status_before_archiving(case)
    case.status = status  # the workflow has no move out of archived; this is its one door
    audit.record(
        actor,
        audit.CASE_UNARCHIVE,
        case_id=case.id,
        details={"reason": reason, "changes": {"status": {"before": "archived", "after": status}}},
    )
    db.session.commit()
    return case
