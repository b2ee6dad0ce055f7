"""What a case's FHIR resources are made from, loaded in batches as plain column rows.

One loader for the API (one case, after the access check) and the export (every case, streamed):
both give :class:`CaseSource` objects, so ``GET /api/cases/<id>/fhir`` and
``flask cases export --format fhir`` map exactly the same facts. Rows carry the models' column
names as attributes (``row.patient_reference``), like the ORM objects, but never enter the
session's identity map, so memory is bounded by the batch (see :mod:`app.services.exports`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import bindparam, or_, select

from app.extensions import db
from app.models import Analysis, AnalysisStatus, Case, CaseImage, CaseOutcome, Patient, User
from app.services import consent
from app.services.exports import since_start
from app.services.report.content import answers_as_asked
from app.services.report.records import reopened_case_ids

#: Cases fetched per round trip by :func:`iter_case_sources`.
DEFAULT_BATCH_SIZE = 200


@dataclass(frozen=True)
class CaseSource:
    """One case and everything its resources need.

    ``case``, ``analysis`` and ``images`` are rows with the columns of ``cases``, ``analyses``
    and ``case_images``; ``analysis`` is the newest *completed* analysis (the one the portal
    shows), or ``None``. ``people`` maps the user ids named by the case to full names.
    ``base_url`` (e.g. ``https://gateway.example.org``, no trailing slash; empty: relative
    URLs) prefixes the photo URLs. ``reopened``: a review of the case was reopened.
    ``outcome``: the newest histology outcome (a ``case_outcomes`` row), or ``None``.
    ``consents``: the current consent record of each recorded scope (``case_consents`` rows,
    in scope order; empty when none is recorded).
    """

    case: Any
    analysis: Any | None
    images: Sequence[Any]
    people: dict[int, str] = field(default_factory=dict)
    base_url: str = ""
    reopened: bool = False
    outcome: Any | None = None
    consents: Sequence[Any] = ()

    @property
    def answers(self) -> list[tuple[str, Any]]:
        """The clinical answers as ``(fieldName, answer)`` pairs, as asked (no photo step)."""
        return answers_as_asked(self.case.anamnesis, self.case.answer_order)


# Grouped by patient, patients in the order they were recorded (the NDJSON export writes each
# patient's ``Patient`` once, remembering only the last one), then in the order of the visits.
# ``patient_record_reference``: the reference the patient record was made with, which names the
# ``Patient`` (a visit's own ``patient_reference`` may differ from it in letter case).
_CASES = (
    select(*Case.__table__.columns, Patient.reference.label("patient_record_reference"))
    .outerjoin(Patient, Patient.id == Case.patient_id)
    .order_by(Patient.created_at, Case.patient_id, Case.created_at, Case.id)
)
_COMPLETED_ANALYSES = (
    select(*Analysis.__table__.columns)
    .where(
        Analysis.case_id.in_(bindparam("case_ids", expanding=True)),
        Analysis.status == AnalysisStatus.COMPLETED,
    )
    .order_by(Analysis.case_id, Analysis.created_at.desc(), Analysis.id)
)
_IMAGES = (
    select(*CaseImage.__table__.columns)
    .where(CaseImage.case_id.in_(bindparam("case_ids", expanding=True)))
    .order_by(CaseImage.case_id, CaseImage.created_at, CaseImage.id)
)
_OUTCOMES = (
    select(*CaseOutcome.__table__.columns)
    .where(CaseOutcome.case_id.in_(bindparam("case_ids", expanding=True)))
    .order_by(CaseOutcome.case_id, CaseOutcome.recorded_at.desc())
)
_NAMES = select(User.id, User.full_name).where(User.id.in_(bindparam("ids", expanding=True)))


def _newest(stmt: Any, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The first row per case of ``stmt`` (ordered by case, newest first)."""
    newest: dict[uuid.UUID, Any] = {}
    for row in db.session.execute(stmt, {"case_ids": case_ids}):
        newest.setdefault(row.case_id, row)
    return newest


def _images(case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = {}
    for row in db.session.execute(_IMAGES, {"case_ids": case_ids}):
        grouped.setdefault(row.case_id, []).append(row)
    return grouped


def _names(
    rows: Sequence[Any], analyses: dict[uuid.UUID, Any], consents: dict[uuid.UUID, list[Any]]
) -> dict[int, str]:
    ids = {row.owner_id for row in rows} | {row.reviewed_by_id for row in rows}
    ids |= {analysis.requested_by_id for analysis in analyses.values()}
    ids |= {record.recorded_by_id for records in consents.values() for record in records}
    ids.discard(None)
    if not ids:
        return {}
    rows = db.session.execute(_NAMES, {"ids": sorted(ids)})
    return {user_id: name for user_id, name in rows}  # noqa: C416 - rows are Row objects


def _sources(rows: Sequence[Any], base_url: str) -> Iterator[CaseSource]:
    case_ids = [row.id for row in rows]
    analyses = _newest(_COMPLETED_ANALYSES, case_ids)
    images = _images(case_ids)
    consents = consent.current_rows(case_ids)
    people = _names(rows, analyses, consents)
    reopened = reopened_case_ids(case_ids)
    outcomes = _newest(_OUTCOMES, case_ids)
    for row in rows:
        analysis = analyses.get(row.id)
        wanted = {row.owner_id, row.reviewed_by_id, getattr(analysis, "requested_by_id", None)}
        wanted |= {record.recorded_by_id for record in consents.get(row.id, [])}
        names = {user_id: name for user_id, name in people.items() if user_id in wanted}
        yield CaseSource(
            row,
            analysis,
            images.get(row.id, []),
            names,
            base_url,
            row.id in reopened,
            outcomes.get(row.id),
            consents.get(row.id, []),
        )


def load_case_source(case_id: uuid.UUID, *, base_url: str = "") -> CaseSource | None:
    """Return the source of one case (no access check: the caller has done it), or ``None``."""
    row = db.session.execute(_CASES.where(Case.id == case_id)).first()
    return next(_sources([row], base_url)) if row is not None else None


def iter_case_sources(
    *,
    since: date | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    base_url: str = "",
    purpose: str = "records",
) -> Iterator[CaseSource]:
    """Yield every case (all owners, archived included) as a :class:`CaseSource`: grouped by
    patient (patients oldest first), each patient's visits oldest first.

    ``since`` keeps the cases created or changed (a new analysis included) on or after that day,
    as :func:`app.services.exports.iter_case_records` does, and so does ``purpose``
    (``teaching``: only the cases whose teaching/research consent is granted). Holds one read
    transaction while it runs; the caller ends it.
    """
    stmt = _CASES
    if since is not None:
        start = since_start(since)
        analysed_since = select(Analysis.case_id).where(Analysis.created_at >= start)
        stmt = stmt.where(or_(Case.updated_at >= start, Case.id.in_(analysed_since)))
    if purpose == "teaching":
        stmt = stmt.where(Case.id.in_(consent.cases_granting("teaching_research")))
    result = db.session.execute(stmt.execution_options(yield_per=batch_size))
    for batch in result.partitions():
        yield from _sources(batch, base_url)
