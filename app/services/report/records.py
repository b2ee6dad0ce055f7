"""What the report and the FHIR export read about a case's reviews."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import bindparam, select

from app.extensions import db
from app.models import CaseReview

_REOPENED = (
    select(CaseReview.case_id)
    .where(
        CaseReview.case_id.in_(bindparam("case_ids", expanding=True)),
        CaseReview.reopened_at.is_not(None),
    )
    .distinct()
)


def reopened_case_ids(case_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The cases among ``case_ids`` with a review that was reopened (their report is then
    ``amended``, whether reviewed again or not)."""
    wanted = list(case_ids)
    if not wanted:
        return set()
    return set(db.session.scalars(_REOPENED, {"case_ids": wanted}))
