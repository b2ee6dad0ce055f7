"""The concordance figures, computed from reviewed cases (pure, no I/O).

Reference standards: the physician's final diagnosis for every reviewed case, histology where
an outcome was recorded (:mod:`app.services.outcomes`). Top-1 / top-3 agreement are the
measures of the dermatology AI literature (Esteva et al., Nature 2017;542:115-118; Tschandl et
al., Lancet Oncol 2019;20:938-947); the calibration plot follows the reliability diagram of
Niculescu-Mizil & Caruana, ICML 2005 (predicted probability in deciles against the observed
frequency).

Rules, so that a figure can be recomputed by hand:

- **rank** of a diagnosis in the AI's differential: matched by ICD-10 code, else by name
  (:func:`app.services.clinical_record.agreement.pick_from_differential`). For the physician's
  diagnosis that the gateway cannot match, the recorded agreement decides: ``top1`` → rank 0;
  otherwise unknown, counted as no top-3 agreement.
- **AI said refer or urgent**: the analysis's headline urgency is ``high`` or ``emergency``
  (a referral: 2-week pathway or emergency), or the AI recommended a specialist.
- **malignant**: the histology ICD-10 code when recorded, else the physician's
  (:data:`app.services.stats.malignant.MALIGNANT_ICD10`); a case with neither code is left
  out of sensitivity and specificity (``unknown_malignancy``).
- **calibration**: the top diagnosis's probability in deciles ([0, 0.1), …, [0.9, 1.0]);
  *confirmed* = the top diagnosis is the histology diagnosis when known, else the
  physician's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.services.clinical_record.agreement import pick_from_differential
from app.services.clinical_terms import FITZPATRICK_TYPES
from app.services.stats.malignant import is_malignant

#: The per-skin-type rows, in order; cases without a recorded type form the last.
NOT_RECORDED = "not recorded"
GROUPS: tuple[str, ...] = (*FITZPATRICK_TYPES, NOT_RECORDED)


@dataclass(frozen=True)
class ReviewedCase:
    """What the figures need of one reviewed case and its analysis."""

    final_diagnosis: str
    final_icd10: str | None
    agreement: str | None
    predictions: Sequence[dict[str, Any]]
    ai_referred: bool
    fitzpatrick_type: str | None = None
    histology_diagnosis: str | None = None
    histology_icd10: str | None = None

    @property
    def has_histology(self) -> bool:
        """Whether a histology outcome was recorded."""
        return self.histology_diagnosis is not None


@dataclass(frozen=True)
class Rate:
    """``hits`` of ``total``; ``value`` is their ratio, ``None`` when ``total`` is 0."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        """``hits / total`` (0-1), or ``None`` without cases."""
        return self.hits / self.total if self.total else None


@dataclass(frozen=True)
class GroupAgreement:
    """Agreement of the AI with the physician within one Fitzpatrick type."""

    group: str
    cases: int
    top1: Rate
    top3: Rate


@dataclass(frozen=True)
class CalibrationBin:
    """One decile: ``[lower, upper)`` of the top probability, its cases, their mean predicted
    probability and how often the top diagnosis was confirmed."""

    lower: float
    upper: float
    cases: int
    mean_predicted: float | None
    confirmed: Rate


@dataclass(frozen=True)
class Concordance:
    """Every figure of the statistics page (see the module for the rules)."""

    reviewed: int
    with_histology: int
    physician_top1: Rate
    physician_top3: Rate
    histology_top1: Rate
    histology_top3: Rate
    sensitivity: Rate
    specificity: Rate
    unknown_malignancy: int
    by_fitzpatrick: list[GroupAgreement]
    calibration: list[CalibrationBin]
    filters: dict[str, Any] = field(default_factory=dict)


def physician_rank(case: ReviewedCase) -> int | None:
    """Rank of the physician's diagnosis in the differential (0 = top), or ``None``."""
    pick = pick_from_differential(case.final_diagnosis, case.final_icd10, case.predictions)
    if pick is not None:
        return pick.rank
    return 0 if case.agreement == "top1" else None


def histology_rank(case: ReviewedCase) -> int | None:
    """Rank of the histology diagnosis in the differential, or ``None`` (also without one)."""
    if not case.has_histology:
        return None
    pick = pick_from_differential(
        case.histology_diagnosis or "", case.histology_icd10, case.predictions
    )
    return pick.rank if pick is not None else None


def _rates(ranks: list[int | None]) -> tuple[Rate, Rate]:
    top1 = sum(1 for rank in ranks if rank == 0)
    top3 = sum(1 for rank in ranks if rank is not None and rank < 3)
    return Rate(top1, len(ranks)), Rate(top3, len(ranks))


def _malignant(case: ReviewedCase) -> bool | None:
    if case.has_histology and case.histology_icd10:
        return is_malignant(case.histology_icd10)
    return is_malignant(case.final_icd10)


def _top_probability(case: ReviewedCase) -> float | None:
    if not case.predictions:
        return None
    value = case.predictions[0].get("probability")
    return float(value) if value is not None else None


def _confirmed(case: ReviewedCase) -> bool:
    rank = histology_rank(case) if case.has_histology else physician_rank(case)
    return rank == 0


def calibration(cases: Sequence[ReviewedCase]) -> list[CalibrationBin]:
    """Ten deciles of the top probability with their cases and confirmed share."""
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(10)]
    for case in cases:
        p = _top_probability(case)
        if p is not None:
            bins[min(int(p * 10), 9)].append((p, _confirmed(case)))
    return [
        CalibrationBin(
            lower=index / 10,
            upper=(index + 1) / 10,
            cases=len(members),
            mean_predicted=sum(p for p, _ in members) / len(members) if members else None,
            confirmed=Rate(sum(1 for _, ok in members if ok), len(members)),
        )
        for index, members in enumerate(bins)
    ]


def by_fitzpatrick(cases: Sequence[ReviewedCase]) -> list[GroupAgreement]:
    """Agreement with the physician per Fitzpatrick type I-VI, then "not recorded"."""
    rows = []
    for group in GROUPS:
        members = [c for c in cases if (c.fitzpatrick_type or NOT_RECORDED) == group]
        top1, top3 = _rates([physician_rank(c) for c in members])
        rows.append(GroupAgreement(group=group, cases=len(members), top1=top1, top3=top3))
    return rows


def compute(cases: Sequence[ReviewedCase], filters: dict[str, Any] | None = None) -> Concordance:
    """All the figures for ``cases`` (see the module for the rules)."""
    physician_top1, physician_top3 = _rates([physician_rank(c) for c in cases])
    histology = [c for c in cases if c.has_histology]
    histology_top1, histology_top3 = _rates([histology_rank(c) for c in histology])
    truth = [(_malignant(c), c.ai_referred) for c in cases]
    positives = [referred for malignant, referred in truth if malignant is True]
    negatives = [referred for malignant, referred in truth if malignant is False]
    return Concordance(
        reviewed=len(cases),
        with_histology=len(histology),
        physician_top1=physician_top1,
        physician_top3=physician_top3,
        histology_top1=histology_top1,
        histology_top3=histology_top3,
        sensitivity=Rate(sum(positives), len(positives)),
        specificity=Rate(sum(1 for referred in negatives if not referred), len(negatives)),
        unknown_malignancy=sum(1 for malignant, _ in truth if malignant is None),
        by_fitzpatrick=by_fitzpatrick(cases),
        calibration=calibration(cases),
        filters=dict(filters or {}),
    )
