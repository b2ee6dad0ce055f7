"""How far the physician's final diagnosis agrees with the AI, in three values.

``top1``: the final diagnosis is the AI's first suggestion; ``in_differential``: it is one of
the AI's other suggestions; ``differs``: it is none of them. Derived when the physician's
diagnosis can be matched to the differential (by ICD-10 code, else by name, ignoring case and
spacing); asked when it cannot (a synonym or a more specific diagnosis the gateway cannot
match). Pure functions, no I/O.

"Top-1" and "top-3" agreement are the measures of dermatology AI evaluation (Esteva et al.,
Nature 2017;542:115-118; Tschandl et al., Lancet Oncol 2019;20:938-947); the three values keep
enough to compute both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.services.clinical_terms import AI_AGREEMENTS

#: Old yes/no answers carried into the three values (migration 0007, the API's old field).
FROM_YES_NO: dict[bool, str] = {True: "top1", False: "differs"}

#: How the three values read on a page and in the report.
AGREEMENT_WORDS: dict[str, str] = {
    "top1": "Agrees with the AI's first suggestion",
    "in_differential": "Among the AI's other suggestions",
    "differs": "Differs from the AI's suggestions",
}

__all__ = ["AGREEMENT_WORDS", "AI_AGREEMENTS", "FROM_YES_NO", "Pick", "pick_from_differential"]


@dataclass(frozen=True)
class Pick:
    """The differential entry the final diagnosis matched: its ``rank`` (0 = the AI's top
    suggestion), its ``icd10`` (or ``None``), and the ``agreement`` that follows."""

    rank: int
    icd10: str | None
    agreement: str


def _norm(text: str | None) -> str:
    return " ".join((text or "").casefold().replace("-", " ").split())


def pick_from_differential(
    final_diagnosis: str, icd10: str | None, predictions: Sequence[Mapping[str, Any]] | None
) -> Pick | None:
    """Match the final diagnosis to the analysis's differential.

    Args:
        final_diagnosis: the physician's diagnosis as typed or picked.
        icd10: the physician's ICD-10 code, upper case, or ``None``.
        predictions: the analysis's ranked ``[{disease, probability, icd10?}]``.

    Returns:
        The :class:`Pick` (the first entry whose name equals the diagnosis, else whose code
        equals ``icd10``), or ``None`` when nothing matches (then the agreement must be asked).
        The name comes first: it is what the physician signs, and a code that contradicts it
        is refused before (:mod:`app.services.clinical_record.coding`), so a free-text name
        is the only one matched by its code.
    """
    entries = list(predictions or [])
    wanted = _norm(final_diagnosis)
    for rank, entry in enumerate(entries):
        if wanted and _norm(entry.get("disease")) == wanted:
            return _pick(rank, entry)
    for rank, entry in enumerate(entries):
        if icd10 and (entry.get("icd10") or "").upper() == icd10:
            return _pick(rank, entry)
    return None


def _pick(rank: int, entry: Mapping[str, Any]) -> Pick:
    return Pick(
        rank=rank,
        icd10=(entry.get("icd10") or None),
        agreement="top1" if rank == 0 else "in_differential",
    )


def settle_agreement(
    *,
    final_diagnosis: str,
    icd10: str | None,
    given: str | None,
    predictions: Sequence[Mapping[str, Any]] | None,
    contradicted: bool = False,
) -> tuple[str | None, str | None, str | None]:
    """The review's agreement and ICD-10 code: derived when the diagnosis is in the
    differential, else the physician's answer.

    Args:
        final_diagnosis: the physician's diagnosis.
        icd10: the physician's code (upper case) or ``None``; when ``None`` and the diagnosis
            was picked from the differential, the entry's code fills it.
        given: the physician's answer (``AI_AGREEMENTS``) or ``None``; ignored when derived.
        predictions: the analysis's differential.
        contradicted: the code contradicts the diagnosis and the physician confirmed it
            (:mod:`app.services.clinical_record.coding`): nothing is derived, from the name
            or the code, and the physician's answer is required.

    Returns:
        ``(agreement, icd10, problem)``: ``problem`` is a sentence for the ``agreement`` field
        when it had to be asked and was not (or is not one of the three values), else ``None``.
    """
    pick = None if contradicted else pick_from_differential(final_diagnosis, icd10, predictions)
    if pick is not None:
        return pick.agreement, icd10 or pick.icd10, None
    if given in AI_AGREEMENTS:
        return given, icd10, None
    return (
        None,
        icd10,
        "Your diagnosis is not one of the AI's suggestions as written: say how it compares "
        "(the AI's first suggestion, another of its suggestions, or none of them).",
    )
