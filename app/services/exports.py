"""Case exports for admins: every case with its patient and lesion, anamnesis, every AI
analysis and re-analysis, and review, streamed.

Memory does not grow with the number of cases: cases are read through a server-side cursor in
batches of ``batch_size`` (``yield_per``), the analyses (and re-analyses) of each batch with one
``IN`` query each (:mod:`app.services.export_analyses`), and
every record is written out before the next batch is fetched. Only plain column rows are
selected, so no ORM object enters the session's identity map.

Pseudonymous by construction: the patient reference, never a name; the owner's and reviewer's
user ids, never their emails; image ids, never image bytes or storage keys.

A record (:func:`iter_case_records`)::

    {"case_id": "<uuid>", "owner_id": 3, "patient_reference": "PT-2026-0042",
     "patient_age": 54,                   # whole years, null when unknown
     "patient_sex": "female", "body_site": "back", "fitzpatrick_type": "II",
     "chief_complaint": "...", "status": "reviewed", "urgency": "high",
     "physician_notes": null,
     "created_at": "2026-12-01T09:30:00+00:00", "updated_at": "...",   # ISO 8601, UTC
     "anamnesis": {"<fieldName>": answer, ...},
     "analyses": [                        # every run, oldest first, none left out
        {"id", "image_id", "status": "completed" | "failed", "model_version", "tier",
         "confidence" (0-1), "top_diagnosis", "predictions": [{disease, probability, ...}],
         "red_flags": {...}, "urgency", "triage": {...}, "image_validity": {...},
         "accepted_low_quality", "analysed_despite_low_quality", "action", "action_text",
         "evidence", "inputs", "outdated", "outdated_fields", "error_code", "created_at",
         "completed_at",
         "current": true | false,         # the newest run (the one the case page shows)
         "superseded_by": null | "<id>", "superseded_at": null | "..."}],  # the next run
     "answer_order": ["<fieldName>", ...],   # the anamnesis keys in the order asked
     "review": null | {"final_diagnosis", "icd10", "agreement", "notes",
                       "reviewed_at", "reviewed_by_id"},
     "outcome": null | {"diagnosis", "icd10", "outcome_date", "excised", "notes",
                        "recorded_at", "recorded_by_id"},   # the newest histology outcome
     "consent": {"ai_analysis": "granted" | "refused" | null,   # the patient's current
                 "image_storage": ..., "teaching_research": ...},  # decisions; null: unknown
     "patient_id": "<uuid>",              # the patient record (null only for a case from
     "patient_record_reference": "PT-2026-0042",   # before patients existed); its reference
                                          # as recorded, which may differ in letter case from
                                          # the case's own patient_reference (as typed)
     "lesion_id": "<uuid>",               # the lesion this case is a visit of
     "reanalyses": [                      # the photo analysed again by a newer model to
        {"id", "original_analysis_id",    # compare visits; never the visit's own record:
         "image_id", "model_version", "tier", "confidence", "top_diagnosis", "predictions",
         "red_flags", "urgency", "triage", "image_validity", "accepted_low_quality",
         "analysed_despite_low_quality", "inputs", "requested_by_id",
         "status": "completed", "current": false, "created_at"}]}   # oldest first

Older fields keep their names and meaning; the newer ones were added (patient, lesion,
``current``/``superseded_*``, re-analyses) so that nothing the AI said is lost from an export.

Purposes (:data:`PURPOSES`): ``records`` (every case: the clinical record, for archiving or a
transfer, whatever the consent) and ``teaching`` (only the cases whose patient's current
decision for ``teaching_research`` is ``granted``: a case never asked, refused or withdrawn is
left out).

Formats (:func:`export_cases`):

* ``json``: one JSON array (a valid JSON document), written as it is read: ``[`` on the first
  line, then one case object per line, each but the last followed by ``,``, and ``]`` last.
* ``csv``: a header row, then one row per case (RFC 4180, ``\\r\\n``); scalars as they are
  (empty for null, ``true``/``false`` for booleans), ``anamnesis``, ``analyses`` and
  ``reanalyses`` as JSON text, the review, the outcome and the consent as flat ``review_*``,
  ``outcome_*`` and ``consent_*`` columns; ``patient_id``, ``patient_record_reference``,
  ``lesion_id`` and ``reanalyses`` come after the older columns, which keep their order. A
  text cell that
  would start a spreadsheet formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) gets a
  leading ``'`` (OWASP "CSV Injection"); the JSON export keeps the text as stored.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, TextIO

from sqlalchemy import bindparam, or_, select

from app.errors import ValidationFailed
from app.extensions import db
from app.models import Analysis, Case, CaseImage, CaseOutcome, Patient, Reanalysis
from app.services import audit, consent
from app.services.clinical_record.answers import ordered_keys
from app.services.clinical_record.inputs import newest_image_after, outdated_fields
from app.services.export_analyses import analyses_of, iso, reanalyses_of

#: The formats :func:`export_cases` writes.
FORMATS = ("json", "csv")
#: What an export is for: every case, or only those whose patient granted teaching/research use.
PURPOSES = ("records", "teaching")
#: Cases fetched per round trip (and whose analyses are fetched together).
DEFAULT_BATCH_SIZE = 500

_CASE_COLUMNS = (
    Case.id,
    Case.owner_id,
    Case.patient_reference,
    Case.patient_age,
    Case.patient_sex,
    Case.body_site,
    Case.fitzpatrick_type,
    Case.chief_complaint,
    Case.status,
    Case.urgency,
    Case.physician_notes,
    Case.created_at,
    Case.updated_at,
    Case.anamnesis,
    Case.answer_order,
    Case.final_diagnosis,
    Case.final_icd10,
    Case.ai_agreement,
    Case.review_notes,
    Case.reviewed_at,
    Case.reviewed_by_id,
    Case.patient_id,
    Case.lesion_id,
    Patient.reference.label("patient_record_reference"),
)
#: CSV columns, in order.
CSV_COLUMNS = (
    "case_id",
    "owner_id",
    "patient_reference",
    "patient_age",
    "patient_sex",
    "body_site",
    "fitzpatrick_type",
    "chief_complaint",
    "status",
    "urgency",
    "physician_notes",
    "created_at",
    "updated_at",
    "anamnesis",
    "analyses",
    "review_final_diagnosis",
    "review_icd10",
    "review_agreement",
    "review_notes",
    "review_reviewed_at",
    "review_reviewed_by_id",
    "outcome_diagnosis",
    "outcome_icd10",
    "outcome_outcome_date",
    "outcome_excised",
    "outcome_notes",
    "outcome_recorded_at",
    "outcome_recorded_by_id",
    "consent_ai_analysis",
    "consent_image_storage",
    "consent_teaching_research",
    # added with patients, lesions and re-analyses (after the older columns, which keep their
    # places)
    "patient_id",
    "patient_record_reference",
    "lesion_id",
    "reanalyses",
)


def _outcome_record(row: Any | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "diagnosis": row.diagnosis,
        "icd10": row.icd10,
        "outcome_date": row.outcome_date.isoformat(),
        "excised": row.excised,
        "notes": row.notes,
        "recorded_at": iso(row.recorded_at),
        "recorded_by_id": row.recorded_by_id,
    }


def _case_record(
    row: Any,
    analyses: list[dict[str, Any]],
    outcome: Any | None = None,
    uploads: list[tuple[uuid.UUID, datetime]] | None = None,
    reanalyses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    review = None
    if row.reviewed_at is not None:
        review = {
            "final_diagnosis": row.final_diagnosis,
            "icd10": row.final_icd10,
            "agreement": row.ai_agreement,
            "notes": row.review_notes,
            "reviewed_at": iso(row.reviewed_at),
            "reviewed_by_id": row.reviewed_by_id,
        }
    return {
        "case_id": str(row.id),
        "owner_id": row.owner_id,
        "patient_reference": row.patient_reference,
        "patient_age": row.patient_age,
        "patient_sex": row.patient_sex,
        "body_site": row.body_site,
        "fitzpatrick_type": row.fitzpatrick_type,
        "chief_complaint": row.chief_complaint,
        "status": row.status,
        "urgency": row.urgency,
        "physician_notes": row.physician_notes,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "anamnesis": row.anamnesis or {},
        "answer_order": ordered_keys(row.anamnesis, row.answer_order),
        "analyses": [_with_outdated(analysis, row, uploads or []) for analysis in analyses],
        "review": review,
        "outcome": _outcome_record(outcome),
        "patient_id": str(row.patient_id) if row.patient_id is not None else None,
        "patient_record_reference": row.patient_record_reference,
        "lesion_id": str(row.lesion_id) if row.lesion_id is not None else None,
        "reanalyses": reanalyses or [],
    }


def _with_outdated(
    analysis: dict[str, Any], case_row: Any, uploads: list[tuple[uuid.UUID, datetime]]
) -> dict[str, Any]:
    """Mark an analysis record ``outdated`` when the case's answers or fields changed since, or
    a photo was uploaded after it: the same rule, and names, as the API and the case page
    (:func:`app.services.clinical_record.history.changes_since`)."""
    changed: list[str] = []
    if analysis["status"] == "completed":
        made = datetime.fromisoformat(analysis["created_at"])
        newer = newest_image_after(uploads, made)
        changed = outdated_fields(analysis["inputs"], case_row, newer)
    return {**analysis, "outdated": bool(changed), "outdated_fields": changed}


# The photos of each case with their upload times (oldest first).
_IMAGES_OF_CASES = (
    select(CaseImage.case_id, CaseImage.id, CaseImage.created_at)
    .where(CaseImage.case_id.in_(bindparam("case_ids", expanding=True)))
    .order_by(CaseImage.case_id, CaseImage.created_at)
)


def _uploads_of(case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[tuple[uuid.UUID, Any]]]:
    """``{case id: [(photo id, uploaded at), ...]}`` for those of ``case_ids`` with photos."""
    uploads: dict[uuid.UUID, list[tuple[uuid.UUID, Any]]] = {}
    for case_id, image_id, uploaded in db.session.execute(
        _IMAGES_OF_CASES, {"case_ids": list(case_ids)}
    ):
        uploads.setdefault(case_id, []).append((image_id, uploaded))
    return uploads


def _outcomes_of(case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The newest outcome row (plain columns) of each of ``case_ids`` that has one."""
    newest: dict[uuid.UUID, Any] = {}
    rows = db.session.execute(
        select(*CaseOutcome.__table__.columns)
        .where(CaseOutcome.case_id.in_(list(case_ids)))
        .order_by(CaseOutcome.case_id, CaseOutcome.recorded_at.desc())
    )
    for row in rows:
        newest.setdefault(row.case_id, row)
    return newest


def since_start(since: date) -> datetime:
    """Return the start of ``since`` (00:00 UTC) as an aware ``datetime``."""
    return datetime.combine(since, time.min, tzinfo=UTC)


def iter_case_records(
    *, since: date | None = None, batch_size: int = DEFAULT_BATCH_SIZE, purpose: str = "records"
) -> Iterator[dict[str, Any]]:
    """Yield every case (all owners, archived included) as an export record, oldest first.

    Args:
        since: only cases created or changed on or after this day (00:00 UTC); a new analysis
            or re-analysis counts as a change even when it left the case's own columns as they
            were.
        batch_size: cases per fetch from the server-side cursor (memory grows with this, not
            with the number of cases).
        purpose: ``teaching`` keeps only the cases whose teaching/research consent is
            currently granted (see :data:`PURPOSES`).

    Holds one read transaction while the generator runs; the caller ends it (commit or
    rollback) afterwards. The record shape is in the module docstring.
    """
    stmt = (
        select(*_CASE_COLUMNS)
        .outerjoin(Patient, Patient.id == Case.patient_id)
        .order_by(Case.created_at, Case.id)
    )
    if since is not None:
        start = since_start(since)
        analysed_since = select(Analysis.case_id).where(Analysis.created_at >= start)
        reanalysed_since = select(Reanalysis.case_id).where(Reanalysis.created_at >= start)
        stmt = stmt.where(
            or_(
                Case.updated_at >= start,
                Case.id.in_(analysed_since),
                Case.id.in_(reanalysed_since),
            )
        )
    if purpose == "teaching":
        stmt = stmt.where(Case.id.in_(consent.cases_granting("teaching_research")))
    result = db.session.execute(stmt.execution_options(yield_per=batch_size))
    for batch in result.partitions():
        ids = [row.id for row in batch]
        analyses, outcomes, images = analyses_of(ids), _outcomes_of(ids), _uploads_of(ids)
        reanalyses, consents = reanalyses_of(ids), consent.current_decisions(ids)
        for row in batch:
            record = _case_record(
                row,
                analyses.pop(row.id, []),
                outcomes.pop(row.id, None),
                images.pop(row.id, None),
                reanalyses.pop(row.id, []),
            )
            yield record | {"consent": consents.pop(row.id)}


def write_json(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write ``records`` as one JSON array, one record per line; return how many were written.

    Layout: ``[`` alone on the first line; each record on its own line, ending in ``,`` except
    the last; ``]`` alone on the last line. Non-ASCII text is written as it is
    (UTF-8 output). An export without records is ``[\\n]``.
    """
    out.write("[\n")
    count = 0
    for record in records:
        if count:
            out.write(",\n")
        out.write(json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection":
#: equals, plus, minus, at, tab, carriage return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """Return ``text`` with a leading apostrophe when it would start a spreadsheet formula
    (:data:`FORMULA_STARTS`), else unchanged; spreadsheets show such a cell as text.

    The OWASP Cheat Sheet Series' "CSV Injection" remedy. Only text cells are changed: a number
    such as ``-1`` is data, and the JSON columns start with ``{`` or ``[``.
    """
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return neutralise_formula(value)
    return "" if value is None else value


def csv_row(record: dict[str, Any]) -> list[Any]:
    """Return the CSV cells of one export record, in :data:`CSV_COLUMNS` order."""
    review, outcome = record["review"] or {}, record.get("outcome") or {}
    flat = {**record, **{f"review_{name}": value for name, value in review.items()}}
    flat |= {f"outcome_{name}": value for name, value in outcome.items()}
    flat |= {f"consent_{name}": value for name, value in (record.get("consent") or {}).items()}
    return [_cell(flat.get(column)) for column in CSV_COLUMNS]


def write_csv(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write a header and one CSV row per record (see :func:`csv_row`); return the row count.

    ``out`` should be opened with ``newline=""`` (the writer emits ``\\r\\n`` itself).
    """
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        writer.writerow(csv_row(record))
        count += 1
    return count


def export_cases(
    out: TextIO,
    *,
    fmt: str,
    since: date | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    purpose: str = "records",
) -> int:
    """Stream every case (see :func:`iter_case_records`) to ``out`` as ``fmt``; return the count.

    One audit event ``case.export`` (actor ``None``: the CLI) records the format, the
    purpose, the ``since`` day, how many cases were written and whether the export completed.

    Raises:
        ValidationFailed: ``fmt`` is not one of :data:`FORMATS`, or ``purpose`` not one of
            :data:`PURPOSES` (nothing written).
        OSError: ``out`` could not be written (the audit event says ``completed: false``).
    """
    if fmt not in FORMATS:
        raise ValidationFailed({"format": f"Must be one of: {', '.join(FORMATS)}."})
    check_purpose(purpose)
    writer = write_json if fmt == "json" else write_csv
    records = iter_case_records(since=since, batch_size=batch_size, purpose=purpose)
    counted = _Counter(records)
    completed = False
    try:
        count = writer(counted, out)
        completed = True
    finally:
        db.session.rollback()  # end the long read transaction before writing the audit event
        audit.record(
            None,
            audit.CASE_EXPORT,
            details={
                "format": fmt,
                "purpose": purpose,
                "since": since.isoformat() if since else None,
                "cases": counted.count,
                "completed": completed,
            },
        )
        db.session.commit()
    return count


def check_purpose(purpose: str) -> None:
    """Raise ``ValidationFailed`` unless ``purpose`` is one of :data:`PURPOSES`."""
    if purpose not in PURPOSES:
        raise ValidationFailed({"purpose": f"Must be one of: {', '.join(PURPOSES)}."})


class _Counter:
    """Iterate ``records`` and count them (so a failed export still audits how far it got)."""

    def __init__(self, records: Iterator[dict[str, Any]]) -> None:
        self._records = records
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for record in self._records:
            self.count += 1
            yield record
