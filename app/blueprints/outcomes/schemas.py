"""Pydantic models of ``POST /api/cases/<id>/outcome``."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field


class OutcomeIn(BaseModel):
    """The histology outcome of a reviewed case."""

    model_config = ConfigDict(extra="forbid")

    diagnosis: str = Field(min_length=1, max_length=255, description="the pathologist's diagnosis")
    icd10: str | None = Field(default=None, max_length=10, description="e.g. C43.9")
    outcome_date: dt.date = Field(description="date of the histology report (not in the future)")
    notes: str | None = Field(default=None, max_length=10_000)
    excised: bool = Field(default=False, description="the lesion was excised")


class OutcomeOut(BaseModel):
    """A recorded outcome (the newest is the case's)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    diagnosis: str
    icd10: str | None
    outcome_date: dt.date
    notes: str | None
    excised: bool
    recorded_by_id: int | None
    recorded_at: dt.datetime
