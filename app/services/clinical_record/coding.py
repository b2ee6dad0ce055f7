"""Whether a review's ICD-10 code contradicts its final diagnosis. Pure functions, no I/O.

The final diagnosis is what the physician signs; its ICD-10 code is what the statistics (benign
or malignant: :mod:`app.services.stats.malignant`), FHIR (``conclusionCode``) and the exports
read. "Melanoma" coded ``D22.9`` (melanocytic nevus) says two things at once, so it is refused
unless the physician confirms it.

A diagnosis is *known* when its name (ignoring case, spacing and hyphens) is an entry of the
case's differential that carries a code, or one of ``clinical_terms.KNOWN_DIAGNOSES`` (the AI
contract's conditions). A known diagnosis contradicts a code when

- the code's three-character ICD-10 category differs from the diagnosis's (``C43`` vs ``D22``;
  WHO ICD-10: the category is the unit of classification, its 4th and 5th characters only
  specify site or type, so ``C43.5`` is still melanoma), or
- the code is exactly another known diagnosis's code (``C44.91`` basal cell carcinoma written
  for "Squamous cell carcinoma", ``C44.92``: same category, different disease).

A name that is not known (free text such as "Lentigo simplex") is never a contradiction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.services.clinical_terms import KNOWN_DIAGNOSES


@dataclass(frozen=True)
class Contradiction:
    """A code that contradicts the diagnosis: ``name`` as the vocabulary writes it, ``icd10``
    the code given, ``expected_icd10`` the diagnosis's own code."""

    name: str
    icd10: str
    expected_icd10: str

    def message(self, final_diagnosis: str) -> str:
        """One sentence naming the diagnosis, both codes, and how to go on."""
        return (
            f"The ICD-10 code {self.icd10} does not match the diagnosis “{final_diagnosis}”, "
            f"whose code is {self.expected_icd10}: correct the code (or leave it empty to "
            f"use {self.expected_icd10}), or confirm that {self.icd10} is meant."
        )


def norm_name(text: str | None) -> str:
    """A diagnosis name as compared: case-folded, hyphens as spaces, single spaces."""
    return " ".join((text or "").casefold().replace("-", " ").split())


def vocabulary(predictions: Sequence[Mapping[str, Any]] | None) -> dict[str, tuple[str, str]]:
    """Known names → ``(name, ICD-10 code)``: the differential's coded entries first (the AI's
    own coding of this case), then ``KNOWN_DIAGNOSES``; keys are :func:`norm_name` forms."""
    known: dict[str, tuple[str, str]] = {}
    for entry in predictions or []:
        name, code = entry.get("disease"), (entry.get("icd10") or "").strip().upper()
        if name and code:
            known.setdefault(norm_name(name), (str(name), code))
    for name, code in KNOWN_DIAGNOSES.items():
        known.setdefault(norm_name(name), (name, code))
    return known


def contradiction(
    final_diagnosis: str, icd10: str | None, predictions: Sequence[Mapping[str, Any]] | None
) -> Contradiction | None:
    """The contradiction between a final diagnosis and its code, or ``None``.

    Args:
        final_diagnosis: the physician's diagnosis as written.
        icd10: the code given, upper case, or ``None`` (no code contradicts nothing).
        predictions: the latest analysis's differential ``[{disease, icd10?, ...}]``.
    """
    if not icd10:
        return None
    known = vocabulary(predictions)
    entry = known.get(norm_name(final_diagnosis))
    if entry is None:
        return None
    name, expected = entry
    others = {code for key, (_, code) in known.items() if key != norm_name(final_diagnosis)}
    if icd10[:3] != expected[:3] or (icd10 != expected and icd10 in others):
        return Contradiction(name=name, icd10=icd10, expected_icd10=expected)
    return None
