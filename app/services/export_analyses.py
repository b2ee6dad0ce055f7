"""What the AI said about each exported case: every analysis and every re-analysis, as records
of :mod:`app.services.exports` (read in batches, plain column rows, oldest first).

* ``analyses``: every run of the pipeline on the case (completed and failed). The newest is
  ``current`` (the one the case page and ``GET /api/cases/<id>`` show as the latest analysis);
  each earlier one is superseded by the next run: ``superseded_by`` (its id) and
  ``superseded_at`` (when it was made). Nothing is dropped: a superseded result is exported as
  it was computed, with its model version and timestamps.
* ``reanalyses``: the case's photo analysed again by a newer model to tell a change of model
  from a change of the lesion (:class:`app.models.Reanalysis`, issue #17). They never replace
  the visit's own record, so each is ``current: false``; ``original_analysis_id`` names the
  analysis it repeats.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select

from app.extensions import db
from app.models import Analysis, Reanalysis
from app.services.clinical_record.headline import action_for_urgency

_ANALYSIS_COLUMNS = (
    Analysis.case_id,
    Analysis.id,
    Analysis.image_id,
    Analysis.status,
    Analysis.model_version,
    Analysis.tier,
    Analysis.confidence,
    Analysis.predictions,
    Analysis.red_flags,
    Analysis.urgency,
    Analysis.triage,
    Analysis.image_validity,
    Analysis.accepted_low_quality,
    Analysis.error_code,
    Analysis.created_at,
    Analysis.completed_at,
    Analysis.inputs,
    Analysis.evidence,
)
_REANALYSIS_COLUMNS = (
    Reanalysis.case_id,
    Reanalysis.id,
    Reanalysis.original_analysis_id,
    Reanalysis.image_id,
    Reanalysis.requested_by_id,
    Reanalysis.model_version,
    Reanalysis.tier,
    Reanalysis.confidence,
    Reanalysis.predictions,
    Reanalysis.red_flags,
    Reanalysis.urgency,
    Reanalysis.triage,
    Reanalysis.image_validity,
    Reanalysis.accepted_low_quality,
    Reanalysis.inputs,
    Reanalysis.created_at,
)

# Built once, the ids passed as a parameter: a statement built per batch around its list of ids
# is cyclic garbage (bind parameters refer to themselves), which the collector frees only late,
# so the ids of every batch would pile up between collections.
_ANALYSES_OF_CASES = (
    select(*_ANALYSIS_COLUMNS)
    .where(Analysis.case_id.in_(bindparam("case_ids", expanding=True)))
    .order_by(Analysis.case_id, Analysis.created_at, Analysis.id)
)
_REANALYSES_OF_CASES = (
    select(*_REANALYSIS_COLUMNS)
    .where(Reanalysis.case_id.in_(bindparam("case_ids", expanding=True)))
    .order_by(Reanalysis.case_id, Reanalysis.created_at, Reanalysis.id)
)


def iso(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 in UTC, or ``None``."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _result(row: Any) -> dict[str, Any]:
    """The AI's result, as analyses and re-analyses both have it."""
    predictions = row.predictions
    return {
        "id": _id(row.id),
        "image_id": _id(row.image_id),
        "model_version": row.model_version,
        "tier": row.tier,
        "confidence": row.confidence,
        "top_diagnosis": predictions[0].get("disease") if predictions else None,
        "predictions": predictions,
        "red_flags": row.red_flags,
        "urgency": row.urgency,
        "triage": row.triage,
        "image_validity": row.image_validity,
        "accepted_low_quality": row.accepted_low_quality,
        "analysed_despite_low_quality": bool(row.accepted_low_quality)
        and (row.image_validity or {}).get("isValid") is False,
        "inputs": row.inputs,
    }


def analysis_record(row: Any) -> dict[str, Any]:
    """One analysis as exported (without ``current``/``superseded_*``, added by
    :func:`analyses_of`, nor ``outdated``, added by the export)."""
    action = action_for_urgency(row.urgency) if row.status == "completed" else None
    return {
        **_result(row),
        "status": row.status,
        "action": action[0] if action else None,
        "action_text": action[1] if action else None,
        "evidence": row.evidence,
        "error_code": row.error_code,
        "created_at": iso(row.created_at),
        "completed_at": iso(row.completed_at),
    }


def _marked(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark the newest of a case's analyses (oldest first) ``current``, each other superseded
    by the next one."""
    following = [*records[1:], None]
    return [
        {
            **record,
            "current": after is None,
            "superseded_by": after["id"] if after else None,
            "superseded_at": after["created_at"] if after else None,
        }
        for record, after in zip(records, following, strict=True)
    ]


def analyses_of(case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """``{case id: its analyses as records, oldest first}``, each marked current or superseded
    (see the module docstring); cases without one are left out."""
    grouped: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in db.session.execute(_ANALYSES_OF_CASES, {"case_ids": list(case_ids)}):
        grouped.setdefault(row.case_id, []).append(analysis_record(row))
    return {case_id: _marked(records) for case_id, records in grouped.items()}


def reanalyses_of(case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """``{case id: its re-analyses as records, oldest first}`` (``current`` always false);
    cases without one are left out."""
    grouped: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in db.session.execute(_REANALYSES_OF_CASES, {"case_ids": list(case_ids)}):
        grouped.setdefault(row.case_id, []).append(
            {
                **_result(row),
                "original_analysis_id": _id(row.original_analysis_id),
                "requested_by_id": row.requested_by_id,
                "status": "completed",
                "current": False,
                "created_at": iso(row.created_at),
            }
        )
    return grouped
