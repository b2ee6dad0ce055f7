"""The analyses of a case over time: every run kept, the newest shown, each marked outdated
when the case has changed since it was computed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select

from app.extensions import db
from app.models import Analysis, Case
from app.services.clinical_record.inputs import newest_image_after, outdated_fields


def analyses_of(case_id: uuid.UUID) -> list[Analysis]:
    """Every analysis of the case, newest first (completed and failed)."""
    return list(
        db.session.scalars(
            select(Analysis)
            .where(Analysis.case_id == case_id)
            .order_by(Analysis.created_at.desc(), Analysis.id.desc())
        )
    )


def latest_by_case(case_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Analysis]:
    """``{case id: its newest analysis}`` for the given cases, in one query."""
    wanted = list(case_ids)
    if not wanted:
        return {}
    latest: dict[uuid.UUID, Analysis] = {}
    rows = db.session.scalars(
        select(Analysis)
        .where(Analysis.case_id.in_(wanted))
        .order_by(Analysis.case_id, Analysis.created_at.desc(), Analysis.id.desc())
    )
    for analysis in rows:
        latest.setdefault(analysis.case_id, analysis)
    return latest


def changes_since(analysis: Analysis | None, case: Case) -> list[str]:
    """What changed on the case since ``analysis`` (see :func:`outdated_fields`); ``[]`` for
    no analysis or a failed one."""
    if analysis is None or analysis.status != "completed":
        return []
    uploads = [(image.id, image.created_at) for image in case.images]
    return outdated_fields(analysis.inputs, case, newest_image_after(uploads, analysis.created_at))
