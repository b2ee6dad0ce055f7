"""What drove a result: the contract's optional ``evidence`` (the differential from the photo
alone and from the answers alone), put in words for the physician.

The gateway never invents evidence: when the AI Service gives none, :func:`evidence_summary`
says that it is not available.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Entries of each one-sided differential named in words.
SHOWN = 3


@dataclass(frozen=True)
class EvidenceSummary:
    """``photo`` and ``answers``: e.g. "seborrhoeic keratosis 31 %, melanoma 12 %" (empty when
    that side is missing); ``disagreement``: a sentence when the photo alone, the answers alone
    and the combined result do not share their top diagnosis, else ``None``; ``available``:
    whether the AI gave any evidence."""

    available: bool
    photo: str = ""
    answers: str = ""
    disagreement: str | None = None


def _percent(probability: float) -> str:
    share = probability * 100
    return "<1 %" if 0 < share < 1 else f"{share:.0f} %"


def _words(items: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{item['disease']} {_percent(item['probability'])}" for item in items[:SHOWN])


def _top(items: Sequence[Mapping[str, Any]] | None) -> str | None:
    return items[0]["disease"] if items else None


def evidence_summary(
    evidence: Mapping[str, Any] | None, predictions: Sequence[Mapping[str, Any]] | None
) -> EvidenceSummary:
    """Put an analysis's ``evidence`` in words beside its combined ``predictions``."""
    if not evidence:
        return EvidenceSummary(available=False)
    photo = list(evidence.get("image_only") or [])
    answers = list(evidence.get("anamnesis_only") or [])
    combined, by_photo, by_answers = _top(predictions), _top(photo), _top(answers)
    disagreement = None
    if by_photo and by_answers and by_photo != by_answers:
        disagreement = (
            f"The photo and the answers disagree: the photo alone points to {by_photo}, the "
            f"answers alone to {by_answers}{_follows(combined, by_photo, by_answers)}."
        )
    elif combined and by_photo and combined != by_photo:
        disagreement = (
            f"The photo alone does not support the combined result: it points to {by_photo}, "
            f"not {combined}."
        )
    return EvidenceSummary(
        available=True, photo=_words(photo), answers=_words(answers), disagreement=disagreement
    )


def _follows(combined: str | None, by_photo: str, by_answers: str) -> str:
    if combined == by_photo:
        return "; the combined result follows the photo"
    if combined == by_answers:
        return "; the combined result follows the answers"
    return f"; the combined result is {combined}" if combined else ""
