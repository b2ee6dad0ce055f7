"""Pydantic models of ``PUT /api/cases/<id>/consent`` and of the consent in a case."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.services.consent import ConsentState

Decision = Literal["granted", "refused"]
Policy = Literal["off", "advisory", "enforced"]


class ConsentIn(BaseModel):
    """The patient's decision per scope; a scope left out keeps its decision (at least one).

    A consent cannot be un-recorded: a change of mind is recorded as the other decision, and
    the earlier record stays in the history.
    """

    model_config = ConfigDict(extra="forbid")

    ai_analysis: Decision | None = Field(
        default=None,
        description="The answers and the photo sent to the AI Service (questionnaire, diagnosis).",
    )
    image_storage: Decision | None = Field(
        default=None, description="The lesion photo stored with the case."
    )
    teaching_research: Decision | None = Field(
        default=None,
        description="The case used, pseudonymised, for teaching or research "
        "(flask cases export --purpose teaching).",
    )

    @model_validator(mode="after")
    def _one_at_least(self) -> ConsentIn:
        if not self.decisions():
            raise ValueError("Record at least one scope as granted or refused.")
        return self

    def decisions(self) -> dict[str, str]:
        """``{scope: decision}`` of the scopes sent with a decision."""
        return {
            scope: value
            for scope in ("ai_analysis", "image_storage", "teaching_research")
            if (value := getattr(self, scope)) is not None
        }


class ConsentRecordOut(BaseModel):
    """One recorded decision."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    scope: Literal["ai_analysis", "image_storage", "teaching_research"]
    decision: Decision
    recorded_by_id: int | None = Field(description="The user who recorded it.")
    recorded_at: dt.datetime


class ConsentOut(BaseModel):
    """The consent of a case: the current decision per scope (null: not recorded), every
    record newest first, and what ``CONSENT_POLICY`` makes of it."""

    ai_analysis: ConsentRecordOut | None = None
    image_storage: ConsentRecordOut | None = None
    teaching_research: ConsentRecordOut | None = None
    history: list[ConsentRecordOut] = Field(default_factory=list)
    policy: Policy = Field(description="The gateway's CONSENT_POLICY.")
    ai_analysis_allowed: bool = Field(
        description="Whether the questionnaire and the AI calls may run for this case now."
    )
    photo_allowed: bool = Field(description="Whether a photo may be stored for this case now.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Under the advisory policy: AI-analysis consent not recorded as granted, "
        "image storage refused.",
    )

    @classmethod
    def of(cls, state: ConsentState) -> ConsentOut:
        """Serialise a :class:`~app.services.consent.ConsentState`."""

        def record(scope: str) -> ConsentRecordOut | None:
            found = state.current.get(scope)
            return ConsentRecordOut.model_validate(found) if found is not None else None

        return cls(
            ai_analysis=record("ai_analysis"),
            image_storage=record("image_storage"),
            teaching_research=record("teaching_research"),
            history=[ConsentRecordOut.model_validate(item) for item in state.history],
            policy=state.policy,  # type: ignore[arg-type]
            ai_analysis_allowed=state.ai_block is None,
            photo_allowed=state.photo_block is None,
            warnings=state.warnings,
        )
