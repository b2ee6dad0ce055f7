"""Pydantic models of ``GET /api/stats/concordance``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services.stats import Concordance, Filters, Rate


class ConcordanceQuery(BaseModel):
    """Filters (all optional)."""

    model_config = ConfigDict(extra="forbid")

    physician_id: int | None = Field(
        default=None, description="the reviewing physician (admins; others: only themselves)"
    )
    since: dt.date | None = Field(default=None, description="reviewed on or after (UTC day)")
    until: dt.date | None = Field(default=None, description="reviewed on or before (UTC day)")
    body_site: str | None = None
    fitzpatrick_type: str | None = Field(default=None, description="I to VI")
    model_version: str | None = Field(default=None, max_length=100)

    def filters(self) -> Filters:
        """The service's filters."""
        return Filters(**self.model_dump())


class RateOut(BaseModel):
    """``hits`` of ``total``; ``value`` = hits / total (null without cases)."""

    hits: int
    total: int
    value: float | None


def rate_out(rate: Rate) -> RateOut:
    """Serialise a :class:`Rate`."""
    return RateOut(hits=rate.hits, total=rate.total, value=rate.value)


class GroupOut(BaseModel):
    """Agreement with the physician in one Fitzpatrick type (read small groups as small)."""

    group: str
    cases: int
    top1: RateOut
    top3: RateOut


class BinOut(BaseModel):
    """One calibration decile [lower, upper)."""

    lower: float
    upper: float
    cases: int
    mean_predicted: float | None
    confirmed: RateOut


class ConcordanceOut(BaseModel):
    """The concordance figures; rules in ``app/services/stats/figures.py``."""

    reviewed: int
    with_histology: int
    physician_top1: RateOut
    physician_top3: RateOut
    histology_top1: RateOut
    histology_top3: RateOut
    sensitivity: RateOut = Field(
        description='"AI said refer or urgent" among malignant cases (histology, else final)'
    )
    specificity: RateOut = Field(description="not referred among non-malignant cases")
    unknown_malignancy: int = Field(description="cases without an ICD-10 code: not counted")
    malignant_icd10: list[str]
    by_fitzpatrick: list[GroupOut]
    calibration: list[BinOut]
    filters: dict[str, Any]


def concordance_out(figures: Concordance, malignant: list[str]) -> ConcordanceOut:
    """Serialise the figures."""
    return ConcordanceOut(
        reviewed=figures.reviewed,
        with_histology=figures.with_histology,
        physician_top1=rate_out(figures.physician_top1),
        physician_top3=rate_out(figures.physician_top3),
        histology_top1=rate_out(figures.histology_top1),
        histology_top3=rate_out(figures.histology_top3),
        sensitivity=rate_out(figures.sensitivity),
        specificity=rate_out(figures.specificity),
        unknown_malignancy=figures.unknown_malignancy,
        malignant_icd10=malignant,
        by_fitzpatrick=[
            GroupOut(group=g.group, cases=g.cases, top1=rate_out(g.top1), top3=rate_out(g.top3))
            for g in figures.by_fitzpatrick
        ],
        calibration=[
            BinOut(
                lower=b.lower,
                upper=b.upper,
                cases=b.cases,
                mean_predicted=b.mean_predicted,
                confirmed=rate_out(b.confirmed),
            )
            for b in figures.calibration
        ],
        filters=figures.filters,
    )
