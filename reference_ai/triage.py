"""Triage: a priority and a time window from the red-flag urgency and the top diagnosis.

Priority is the higher of two levels:

=====================================  ==========  ==========================================
from                                   priority    recommended action (estimated wait)
=====================================  ==========  ==========================================
red-flag urgency ``emergency``         emergency   ``emergency_referral_now`` (immediately)
red-flag urgency ``high``              urgent      ``urgent_dermatology_referral_2_weeks``
top diagnosis melanoma or SCC with a   urgent      (2 weeks: NICE NG12 suspected-cancer
probability ≥ 0.444 ("possible")                   pathway, "2-week wait")
red-flag urgency ``medium``            soon        ``physician_review_within_24h`` (24 hours)
top diagnosis BCC (≥ 0.444), or the    soon        (a physician decides on referral; NICE
differential's tier is ``refer``                   NG12 1.7.4: BCC is a routine referral)
otherwise                              routine     ``routine_dermatology_review`` (4-6 weeks)
=====================================  ==========  ==========================================

``urgencyScore`` (0–10) places the case inside its priority's band (routine 0–4, soon 4–7,
urgent 7–9, emergency 9–10): band start + band width × min(1, 0.25 × number of flags +
0.5 × probability of skin cancer (melanoma + BCC + SCC) in the differential).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reference_ai.errors import InputError
from reference_ai.red_flags import URGENCY_ORDER

PRIORITY_ORDER = ("routine", "soon", "urgent", "emergency")

#: Probability from which the top diagnosis counts (the contract's "possible" tier).
TOP_DIAGNOSIS_THRESHOLD = 0.444

ACTIONS = {
    "emergency": ("emergency_referral_now", "immediately"),
    "urgent": ("urgent_dermatology_referral_2_weeks", "2 weeks"),
    "soon": ("physician_review_within_24h", "24 hours"),
    "routine": ("routine_dermatology_review", "4-6 weeks"),
}
#: Urgency score band [start, end] of each priority.
BANDS = {"routine": (0.0, 4.0), "soon": (4.0, 7.0), "urgent": (7.0, 9.0), "emergency": (9.0, 10.0)}
PRIORITY_FOR_URGENCY = {
    "emergency": "emergency",
    "high": "urgent",
    "medium": "soon",
    "low": "routine",
}


def _kind(disease: str) -> str | None:
    name = disease.lower()
    if "melanoma" in name or "squamous cell" in name:
        return "melanoma_or_scc"
    if "basal cell" in name:
        return "bcc"
    return None


def check_red_flags(value: Any) -> dict[str, Any] | None:
    """Check the optional ``redFlags`` object (the ``red_flags`` response); ``None`` if absent.

    Raises:
        InputError: 422 if it is not an object with a known ``urgency`` and a ``flags`` list.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("urgency") not in URGENCY_ORDER:
        raise InputError(422, f"redFlags must be an object with urgency in {list(URGENCY_ORDER)}")
    if not isinstance(value.get("flags", []), list):
        raise InputError(422, "redFlags.flags must be a list")
    return value


def triage(*, red_flags: dict[str, Any], diagnoses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The contract's ``Triage`` body.

    Args:
        red_flags: a ``RedFlags`` body (``urgency``, ``flags``).
        diagnoses: the differential, most probable first (may be empty).

    Returns ``{"priority", "urgencyScore" (0-10), "estimatedWaitTime", "recommendedAction",
    "reasoning": [str]}``.
    """
    urgency = red_flags["urgency"]
    flags = red_flags.get("flags") or []
    priority = PRIORITY_FOR_URGENCY[urgency]
    reasoning = [f"Red-flag urgency: {urgency} ({len(flags)} flag(s))."]
    for flag in flags:
        if isinstance(flag, dict) and flag.get("description"):
            reasoning.append(f"Red flag: {flag['description']}")

    ranked = sorted(diagnoses, key=lambda d: -float(d["probability"]))
    if ranked:
        top = ranked[0]
        probability = float(top["probability"])
        kind = _kind(top["disease"])
        reasoning.append(f"Top diagnosis: {top['disease']} ({probability:.2f}).")
        by_diagnosis = "routine"
        if kind == "melanoma_or_scc" and probability >= TOP_DIAGNOSIS_THRESHOLD:
            by_diagnosis = "urgent"
            reasoning.append("Suspected melanoma/SCC: suspected-cancer pathway (NICE NG12).")
        elif kind == "bcc" and probability >= TOP_DIAGNOSIS_THRESHOLD:
            by_diagnosis = "soon"
            reasoning.append("Suspected BCC: a physician decides on (routine) referral.")
        elif probability < TOP_DIAGNOSIS_THRESHOLD:
            by_diagnosis = "soon"
            reasoning.append("Differential uncertain (tier refer): physician review needed.")
        priority = max(priority, by_diagnosis, key=PRIORITY_ORDER.index)
    else:
        reasoning.append("No differential given; priority from red flags only.")

    cancer_probability = sum(
        float(d["probability"]) for d in diagnoses if _kind(d["disease"]) is not None
    )
    start, end = BANDS[priority]
    position = min(1.0, 0.25 * len(flags) + 0.5 * cancer_probability)
    action, wait = ACTIONS[priority]
    reasoning.append(f"Priority {priority}: {action.replace('_', ' ')} ({wait}).")
    return {
        "priority": priority,
        "urgencyScore": round(start + (end - start) * position, 1),
        "estimatedWaitTime": wait,
        "recommendedAction": action,
        "reasoning": reasoning,
    }
