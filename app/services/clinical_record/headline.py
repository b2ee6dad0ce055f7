"""One headline urgency and action for a case, derived from red flags, triage and tier together.

Pure functions, no I/O: the portal (page header, list badge, report), the JSON API, the FHIR
export, the worklist and the patient portal all call :func:`headline_action`, so a case never
shows two different urgencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Headline urgencies, least to most urgent (the vocabulary of ``clinical_terms.URGENCIES``).
LEVELS: tuple[str, ...] = ("low", "medium", "high", "emergency")

#: Headline urgency → (action code, the action in plain words).
ACTIONS: dict[str, tuple[str, str]] = {
    "emergency": ("emergency_referral_now", "Refer as an emergency, now"),
    "high": ("suspected_cancer_pathway_2_weeks", "Refer on the 2-week suspected-cancer pathway"),
    "medium": ("physician_review_within_24h", "Physician review within 24 hours"),
    "low": ("routine_care", "Routine care"),
}

#: Triage ``priority`` (contract) → headline urgency.
TRIAGE_LEVELS: dict[str, str] = {
    "routine": "low",
    "soon": "medium",
    "urgent": "high",
    "emergency": "emergency",
}

#: Tiers that count as certain enough to allow "routine"; any other tier (``refer``, unknown)
#: is uncertain.
CERTAIN_TIERS = frozenset({"confident", "possible"})


@dataclass(frozen=True)
class Headline:
    """The case's one urgency (``LEVELS``), its action code and words, and why.

    ``reasons`` name every input that asked for this urgency (the most urgent ones), in words.
    """

    urgency: str
    action: str
    action_text: str
    reasons: tuple[str, ...]


def _level(value: str | None) -> int:
    return LEVELS.index(value) if value in LEVELS else 0


def headline_action(
    *,
    red_flag_urgency: str | None,
    triage_priority: str | None,
    tier: str | None,
    refer_to_specialist: bool = False,
    low_quality_override: bool = False,
) -> Headline:
    """Derive the case's headline urgency and action: the most urgent input wins.

    Rule (each input gives a floor; the headline is the highest floor):

    - red-flag ``urgency`` (``low``/``medium``/``high``/``emergency``) as it is;
    - triage ``priority``: routine → low, soon → medium, urgent → high, emergency → emergency;
    - tier: an uncertain tier (``refer``, or none/unknown) is at least medium, never routine;
    - the AI's ``refer_to_specialist``, and a photo analysed despite low quality: at least
      medium (a physician must look before anything is called routine).

    Actions: emergency → "Refer as an emergency, now"; high → "Refer on the 2-week
    suspected-cancer pathway" (NICE NG12, *Suspected cancer: recognition and referral*,
    2015, updated 2023, recommendations 1.7.1-1.7.3: suspected melanoma or squamous cell
    carcinoma → suspected-cancer pathway referral within 2 weeks); medium → "Physician review
    within 24 hours" (the contract's ``physician_review_within_24h``); low → "Routine care".
    The tier rule is the contract's (../shared/ai-service-contract.md: ``refer`` below 0.444).

    Args:
        red_flag_urgency: ``RedFlags.urgency``; ``None`` when unknown (counts as low).
        triage_priority: ``Triage.priority``; ``None`` when unknown (counts as routine).
        tier: the prediction tier; ``None`` or an unknown value counts as uncertain.
        refer_to_specialist: the prediction's ``refer_to_specialist``.
        low_quality_override: the photo was analysed despite the AI judging it unusable.

    Returns:
        The :class:`Headline`; every combination gives exactly one.
    """
    floors: list[tuple[int, str]] = [
        (_level(red_flag_urgency), f"red flags: {red_flag_urgency or 'none'}"),
        (
            _level(TRIAGE_LEVELS.get(triage_priority or "", "low")),
            f"triage: {triage_priority or 'not given'}",
        ),
        (
            0 if tier in CERTAIN_TIERS else 1,
            f"AI confidence: {tier or 'unknown'}",
        ),
    ]
    if refer_to_specialist:
        floors.append((1, "the AI recommends a specialist's opinion"))
    if low_quality_override:
        floors.append((1, "photo analysed despite low quality"))
    top = max(level for level, _ in floors)
    urgency = LEVELS[top]
    action, text = ACTIONS[urgency]
    reasons = tuple(reason for level, reason in floors if level == top)
    return Headline(urgency=urgency, action=action, action_text=text, reasons=reasons)


def headline_for_results(
    *,
    red_flags: Mapping[str, Any] | None,
    triage: Mapping[str, Any] | None,
    tier: str | None,
    refer_to_specialist: bool | None,
    low_quality_override: bool,
) -> Headline:
    """:func:`headline_action` for the stored objects of an analysis (``red_flags`` and
    ``triage`` as the contract's camelCase objects)."""
    return headline_action(
        red_flag_urgency=(red_flags or {}).get("urgency"),
        triage_priority=(triage or {}).get("priority"),
        tier=tier,
        refer_to_specialist=bool(refer_to_specialist),
        low_quality_override=low_quality_override,
    )


def headline_of(analysis: Any) -> Headline | None:
    """The headline of a stored ``Analysis`` (``None`` unless it completed)."""
    if analysis is None or getattr(analysis, "status", None) != "completed":
        return None
    return headline_for_results(
        red_flags=analysis.red_flags,
        triage=analysis.triage,
        tier=analysis.tier,
        refer_to_specialist=analysis.refer_to_specialist,
        low_quality_override=analysis.analysed_despite_low_quality,
    )


def action_for_urgency(urgency: str | None) -> tuple[str, str] | None:
    """The headline action ``(code, words)`` of a stored headline urgency, or ``None``."""
    return ACTIONS.get(urgency or "")
