"""What a case report says, in the order a physician reads it: pure functions, no I/O.

Shared by the HTML report page, the PDF and the FHIR mapping, so that all three list the same
answers and the same shortened differential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.services.clinical_record.answers import ordered_answers
from app.services.clinical_record.headline import Headline, headline_for_results

#: Anamnesis keys that record the questionnaire's photo step (the contract's ``camera``
#: question is answered ``true``), not a clinical finding: the photo itself is in the record.
PHOTO_STEP_FIELDS = frozenset({"photo_taken"})

#: How many rows of the differential a report lists.
TOP_DIAGNOSES = 5
#: Rows below this probability are only counted ("N others below 1 %").
MINOR_PROBABILITY = 0.01


def answers_as_asked(
    anamnesis: Mapping[str, Any] | None, order: Sequence[str] | None = None
) -> list[tuple[str, Any]]:
    """The clinical answers as ``(fieldName, answer)`` pairs in the order asked (``order``:
    ``Case.answer_order`` or an analysis's ``inputs["answer_order"]``), without the photo step."""
    pairs = ordered_answers(anamnesis, order)
    return [pair for pair in pairs if pair[0] not in PHOTO_STEP_FIELDS]


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


def headline(analysis: Any) -> Headline | None:
    """The headline urgency and action of a completed analysis (an ORM object or a row with the
    ``analyses`` columns), by :func:`app.services.clinical_record.headline.headline_action`;
    ``None`` without one."""
    if analysis is None or analysis.status != "completed":
        return None
    overridden = bool(analysis.accepted_low_quality) and (
        (analysis.image_validity or {}).get("isValid") is False
    )
    return headline_for_results(
        red_flags=analysis.red_flags,
        triage=analysis.triage,
        tier=analysis.tier,
        refer_to_specialist=analysis.refer_to_specialist,
        low_quality_override=overridden,
    )


# --- the report of a case ------------------------------------------------------------------


def report_state(case: Any, *, reopened: bool = False) -> str:
    """``final`` (reviewed), ``amended`` (changed after a review: re-analysed, or reopened,
    whether reviewed again or not; ``reopened``: a review of the case was reopened),
    ``preliminary`` (analysed, not reviewed) or ``draft`` (no completed analysis yet).

    FHIR R4 ``DiagnosticReportStatus``: "amended: subsequent to being final, the report has
    been modified".
    """
    if reopened or (case.reviewed_at is not None and case.status != "reviewed"):
        return "amended"
    if case.status == "reviewed":
        return "final"
    return "preliminary" if case.status in ("analyzed", "archived") else "draft"


@dataclass(frozen=True)
class Report:
    """Everything a report shows, in reading order: the conclusion (``state``, the case's
    review, ``headline``), the red flags, the photo and AI result of ``analysis`` (the newest
    completed one, or ``None``), ``differential``, then the patient ``facts`` and ``answers``.

    With an analysis that kept its inputs, ``facts`` and ``answers`` are those it was computed
    from (``as_analysed``), never today's; ``outdated`` names what changed since.
    """

    case: Any
    analysis: Any | None
    state: str
    headline: Headline | None
    differential: ShortDifferential
    facts: Mapping[str, Any]
    answers: list[tuple[str, Any]]
    reviewer: str
    author: str
    as_analysed: bool = False
    reconstructed: bool = False
    outdated: list[str] = field(default_factory=list)

    @property
    def flags(self) -> list[dict[str, Any]]:
        """The red flags of the analysis (``[]`` without one)."""
        return list(((self.analysis.red_flags or {}) if self.analysis else {}).get("flags") or [])

    @property
    def triage(self) -> dict[str, Any]:
        """The triage of the analysis (``{}`` without one)."""
        return dict((self.analysis.triage or {}) if self.analysis else {})


#: The patient facts a report prints (``inputs["case"]`` of an analysis has the same names).
FACT_FIELDS = ("patient_age", "patient_sex", "body_site", "fitzpatrick_type", "chief_complaint")


def build_report(record: Any, *, author: str, reopened: bool = False) -> Report:
    """The :class:`Report` of a :class:`~app.services.case_record.CaseRecord`; ``author`` is the
    name of the person the report is made for (printed in its footer); ``reopened``: a review
    of the case was reopened (the report is then ``amended``)."""
    case = record.case
    analysis = record.analysis
    if analysis is not None and analysis.status != "completed":
        analysis = None
    inputs = (analysis.inputs or {}) if analysis is not None else {}
    facts = {name: getattr(case, name) for name in FACT_FIELDS}
    facts.update({k: v for k, v in (inputs.get("case") or {}).items() if k in FACT_FIELDS})
    if inputs:
        answers = answers_as_asked(inputs.get("anamnesis"), inputs.get("answer_order"))
    else:
        answers = answers_as_asked(case.anamnesis, case.answer_order)
    return Report(
        case=case,
        analysis=analysis,
        state=report_state(case, reopened=reopened) if analysis is not None else "draft",
        headline=headline(analysis),
        differential=short_differential(analysis.predictions if analysis else None),
        facts=facts,
        answers=answers,
        reviewer=record.name(case.reviewed_by_id),
        author=author,
        as_analysed=bool(inputs),
        reconstructed=bool(inputs.get("reconstructed")),
        outdated=list(getattr(record, "outdated_fields", []) or []),
    )
