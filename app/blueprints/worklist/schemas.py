"""Pydantic models of ``GET /api/worklist`` and ``POST /api/cases/<id>/reassign``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.worklist.queue import MAX_LIMIT

State = Literal["overdue", "due_today", "upcoming"]


class WorklistQuery(BaseModel):
    """``GET /api/worklist`` query string."""

    model_config = ConfigDict(extra="forbid")

    state: State | None = Field(
        default=None, description="overdue; due_today (within 24 h); upcoming (later)"
    )
    urgency: Literal["low", "medium", "high", "emergency"] | None = None
    physician_id: int | None = Field(
        default=None, description="Only this physician's queue (admins; others: only their own)"
    )
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT)


class WorkItemOut(BaseModel):
    """One analysed, unreviewed case with its due time."""

    model_config = ConfigDict(from_attributes=True)

    case_id: uuid.UUID
    patient_reference: str
    body_site: str
    fitzpatrick_type: str | None
    urgency: str | None = Field(description="the headline urgency")
    action: str | None = Field(description="the headline action code")
    action_text: str | None
    analysed_at: datetime = Field(description="first completed analysis: the clock's start")
    due_at: datetime = Field(
        description="analysed_at + window: emergency 0, high 14 days, medium 24 h, low "
        "WORKLIST_ROUTINE_DAYS"
    )
    state: State
    due_in_words: str = Field(description='e.g. "overdue by 3 hours", "due in 2 days"')
    top_diagnosis: str | None
    top_probability: float | None
    image_id: uuid.UUID | None
    image_url: str | None = Field(default=None, description="the newest photo (bearer token)")
    physician_id: int
    physician_name: str


class Worklist(BaseModel):
    """The worklist: overdue first, then by due time; ``counts`` per state (unfiltered)."""

    items: list[WorkItemOut]
    counts: dict[str, int]


class ReassignIn(BaseModel):
    """``POST /api/cases/<id>/reassign`` body."""

    model_config = ConfigDict(extra="forbid")

    physician_id: int = Field(description="the user who takes the case over")
