"""Load the reviewed cases a concordance query asks for, and compute its figures.

Filters: the reviewing physician (admins; a physician sees only their own reviews), the period
of the review (days, UTC, inclusive), body site, Fitzpatrick type and the model version of the
analysis. The analysis of a case is the one its current review read (``CaseReview.analysis_id``),
not a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from app.errors import PermissionDenied, ValidationFailed
from app.extensions import db
from app.models import Analysis, Case, CaseReview
from app.services import outcomes, policies
from app.services.clinical_terms import BODY_SITES, FITZPATRICK_TYPES
from app.services.stats.figures import Concordance, ReviewedCase, compute

#: Headline urgencies that are a referral (2-week pathway, emergency).
REFERRAL_URGENCIES = frozenset({"high", "emergency"})


@dataclass(frozen=True)
class Filters:
    """What to count; every field optional (``None``: no filter)."""

    physician_id: int | None = None
    since: date | None = None
    until: date | None = None
    body_site: str | None = None
    fitzpatrick_type: str | None = None
    model_version: str | None = None

    def check(self) -> None:
        """Raise ``ValidationFailed`` for unknown values or a period that ends before it starts."""
        problems: dict[str, str] = {}
        if self.body_site is not None and self.body_site not in BODY_SITES:
            problems["body_site"] = "Unknown body site."
        if self.fitzpatrick_type is not None and self.fitzpatrick_type not in FITZPATRICK_TYPES:
            problems["fitzpatrick_type"] = "Must be one of I, II, III, IV, V, VI."
        if self.since and self.until and self.until < self.since:
            problems["until"] = "The period ends before it starts."
        if problems:
            raise ValidationFailed(problems)

    def as_dict(self) -> dict[str, Any]:
        """The filters as JSON-friendly values (dates ISO), ``None`` left out."""
        values = {
            "physician_id": self.physician_id,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "body_site": self.body_site,
            "fitzpatrick_type": self.fitzpatrick_type,
            "model_version": self.model_version,
        }
        return {name: value for name, value in values.items() if value is not None}


def _cases_query(actor: Any, filters: Filters) -> Any:
    query = select(Case).where(Case.status == "reviewed")
    if actor is not None and not policies.can_list_all_cases(actor):
        if filters.physician_id not in (None, actor.id):
            raise PermissionDenied("Only admins see another physician's statistics.")
        query = query.where(Case.reviewed_by_id == actor.id)
    elif filters.physician_id is not None:
        query = query.where(Case.reviewed_by_id == filters.physician_id)
    if filters.since:
        query = query.where(Case.reviewed_at >= datetime.combine(filters.since, time.min, UTC))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time.min, UTC)
        query = query.where(Case.reviewed_at < end)
    if filters.body_site:
        query = query.where(Case.body_site == filters.body_site)
    if filters.fitzpatrick_type:
        query = query.where(Case.fitzpatrick_type == filters.fitzpatrick_type)
    return query.order_by(Case.reviewed_at)


def reviewed_cases(*, actor: Any, filters: Filters) -> list[ReviewedCase]:
    """The reviewed cases the filters select, with their analysis and histology outcome.

    ``actor`` ``None`` is the CLI (every case). Cases without a completed analysis are left
    out (nothing to compare).

    Raises:
        ValidationFailed: see :meth:`Filters.check`. PermissionDenied: a physician asking for
            another physician's reviews.
    """
    filters.check()
    rows = list(db.session.scalars(_cases_query(actor, filters)))
    ids = [row.id for row in rows]
    analyses = _reviewed_analyses(ids)
    found = outcomes.latest_outcomes(ids)
    selected = []
    for row in rows:
        analysis = analyses.get(row.id)
        if analysis is None:
            continue
        if filters.model_version and analysis.model_version != filters.model_version:
            continue
        outcome = found.get(row.id)
        selected.append(
            ReviewedCase(
                final_diagnosis=row.final_diagnosis or "",
                final_icd10=row.final_icd10,
                agreement=row.ai_agreement,
                predictions=list(analysis.predictions or []),
                ai_referred=analysis.urgency in REFERRAL_URGENCIES
                or bool(analysis.refer_to_specialist),
                fitzpatrick_type=row.fitzpatrick_type,
                histology_diagnosis=outcome.diagnosis if outcome else None,
                histology_icd10=outcome.icd10 if outcome else None,
            )
        )
    return selected


def _reviewed_analyses(case_ids: list[Any]) -> dict[Any, Analysis]:
    """``{case id: the completed analysis its current review names}`` (``CaseReview.analysis_id``
    of the newest review not reopened). A review without one (kept from before the review
    history, or of an analysis since deleted) falls back to the newest completed analysis."""
    if not case_ids:
        return {}
    named: dict[Any, Any] = {}
    for case_id, analysis_id in db.session.execute(
        select(CaseReview.case_id, CaseReview.analysis_id)
        .where(CaseReview.case_id.in_(case_ids), CaseReview.reopened_at.is_(None))
        .order_by(CaseReview.case_id, CaseReview.reviewed_at.desc())
    ):
        named.setdefault(case_id, analysis_id)
    newest: dict[Any, Analysis] = {}
    reviewed: dict[Any, Analysis] = {}
    for analysis in db.session.scalars(
        select(Analysis)
        .where(Analysis.case_id.in_(case_ids), Analysis.status == "completed")
        .order_by(Analysis.case_id, Analysis.created_at.desc())
    ):
        newest.setdefault(analysis.case_id, analysis)
        if analysis.id == named.get(analysis.case_id):
            reviewed[analysis.case_id] = analysis
    return newest | reviewed


def concordance(*, actor: Any, filters: Filters | None = None) -> Concordance:
    """The concordance figures of the reviewed cases the filters select (see
    :mod:`app.services.stats.figures` for every rule).

    Raises:
        ValidationFailed, PermissionDenied: see :func:`reviewed_cases`.
    """
    filters = filters or Filters()
    return compute(reviewed_cases(actor=actor, filters=filters), filters.as_dict())


def model_versions() -> list[str]:
    """Every model version that completed an analysis, for the filter's choices."""
    return list(
        db.session.scalars(
            select(Analysis.model_version)
            .where(Analysis.status == "completed", Analysis.model_version.is_not(None))
            .distinct()
            .order_by(Analysis.model_version)
        )
    )
