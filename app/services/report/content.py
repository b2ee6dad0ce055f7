"""What a case report says, in the order a physician reads it: pure functions, no I/O.

Shared by the HTML report page, the PDF and the FHIR mapping, so that all three list the same
answers and the same shortened differential.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.blueprints.cases.display import answers_in_order

#: Anamnesis keys that record the questionnaire's photo step (the contract's ``camera``
#: question is answered ``true``), not a clinical finding: the photo itself is in the record.
PHOTO_STEP_FIELDS = frozenset({"photo_taken"})

#: How many rows of the differential a report lists.
TOP_DIAGNOSES = 5
#: Rows below this probability are only counted ("N others below 1 %").
MINOR_PROBABILITY = 0.01


def answers_as_asked(anamnesis: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The clinical answers as ``(fieldName, answer)`` pairs, in the record's order, without
    the photo step."""
    # TODO(#12): the stored order of asking, once answers keep it.
    return [pair for pair in answers_in_order(anamnesis) if pair[0] not in PHOTO_STEP_FIELDS]


@dataclass(frozen=True)
class ShortDifferential:
    """The differential as a report lists it: ``shown`` rows, then ``others``: how many rows
    are left out, all of them below ``MINOR_PROBABILITY``."""

    shown: list[dict[str, Any]]
    others: int


def short_differential(
    predictions: Sequence[dict[str, Any]] | None, *, top: int = TOP_DIAGNOSES
) -> ShortDifferential:
    """The first ``top`` diagnoses, plus every further one at or above 1 % (never hide a
    diagnosis that matters), and how many others (below 1 %) are left out."""
    rows = list(predictions or [])
    shown = rows[:top] + [
        row for row in rows[top:] if (row.get("probability") or 0) >= MINOR_PROBABILITY
    ]
    others = len(rows) - len(shown)
    return ShortDifferential(shown, others)


# --- the headline action ------------------------------------------------------------------
# TODO(#12): replace with the one headline urgency/action function of the clinical record.

#: Priorities from least to most urgent, with the action each one asks for (triage codes of the
#: contract, ../shared/ai-service-contract.md).
_PRIORITIES = ("routine", "soon", "urgent", "emergency")
_ACTIONS = {
    "routine": "routine_dermatology_review",
    "soon": "physician_review_within_24h",
    "urgent": "urgent_dermatology_referral_2_weeks",
    "emergency": "emergency_referral_now",
}
#: Red-flag urgency → the triage priority it asks for at least.
_FLAG_PRIORITY = {"low": "routine", "medium": "soon", "high": "urgent", "emergency": "emergency"}


@dataclass(frozen=True)
class Headline:
    """The one action a report opens with: ``priority`` (routine … emergency) and the
    ``action`` code (``ACTION_WORDS`` in :mod:`app.blueprints.cases.display` says it in words)."""

    priority: str
    action: str


def headline(analysis: Any) -> Headline | None:
    """The most urgent of the triage, the red flags and the tier (``refer`` is never routine);
    ``None`` without a completed analysis."""
    if analysis is None:
        return None
    triage = analysis.triage or {}
    flags = analysis.red_flags or {}
    candidates = [triage.get("priority"), _FLAG_PRIORITY.get(flags.get("urgency") or "")]
    if analysis.tier == "refer":
        candidates.append("soon")
    ranks = [_PRIORITIES.index(c) for c in candidates if c in _PRIORITIES] or [0]
    priority = _PRIORITIES[max(ranks)]
    action = triage.get("recommendedAction") if triage.get("priority") == priority else None
    return Headline(priority, action or _ACTIONS[priority])


# --- the report of a case ------------------------------------------------------------------


def report_state(case: Any) -> str:
    """``final`` (reviewed), ``amended`` (changed after a review: re-analysed or reopened),
    ``preliminary`` (analysed, not reviewed) or ``draft`` (no completed analysis yet)."""
    # TODO(#12): "amended" also for a case reviewed again after a reopen (review history).
    if case.reviewed_at is not None and case.status != "reviewed":
        return "amended"
    if case.status == "reviewed":
        return "final"
    return "preliminary" if case.status in ("analyzed", "archived") else "draft"


@dataclass(frozen=True)
class Report:
    """Everything a report shows, in reading order: the conclusion (``state``, the case's
    review, ``headline``), the red flags, the photo and AI result of ``analysis`` (the newest
    completed one, or ``None``), ``differential``, then the patient facts and ``answers``."""

    case: Any
    analysis: Any | None
    state: str
    headline: Headline | None
    differential: ShortDifferential
    answers: list[tuple[str, Any]]
    reviewer: str
    author: str

    @property
    def flags(self) -> list[dict[str, Any]]:
        """The red flags of the analysis (``[]`` without one)."""
        return list(((self.analysis.red_flags or {}) if self.analysis else {}).get("flags") or [])

    @property
    def triage(self) -> dict[str, Any]:
        """The triage of the analysis (``{}`` without one)."""
        return dict((self.analysis.triage or {}) if self.analysis else {})


def build_report(record: Any, *, author: str) -> Report:
    """The :class:`Report` of a :class:`~app.services.case_record.CaseRecord`; ``author`` is the
    name of the person the report is made for (printed in its footer)."""
    case = record.case
    analysis = record.analysis
    if analysis is not None and analysis.status != "completed":
        analysis = None
    # TODO(#12): the analysis's own inputs (answers as sent to the AI), not today's answers.
    return Report(
        case=case,
        analysis=analysis,
        state=report_state(case) if analysis is not None else "draft",
        headline=headline(analysis),
        differential=short_differential(analysis.predictions if analysis else None),
        answers=answers_as_asked(case.anamnesis),
        reviewer=record.name(case.reviewed_by_id),
        author=author,
    )
