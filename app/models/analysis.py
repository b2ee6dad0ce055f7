"""AI analyses of a case (every run kept) and the idempotency records of ``Idempotency-Key``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, TZDateTime, utcnow


class AnalysisStatus:
    """An analysis either completed (all AI calls succeeded) or failed (with an error code)."""

    COMPLETED = "completed"
    FAILED = "failed"


class Analysis(Base):
    """One run of the AI pipeline on one image of a case.

    ``predictions`` is the ranked differential ``[{disease, probability, confidence, icd10}]``;
    ``red_flags`` the whole RedFlags object ``{hasRedFlags, flags, urgency, recommendation}``;
    ``triage`` the Triage object; ``image_validity`` the ImageValidity object (see
    ../shared/ai-service-contract.md). A failed run keeps what was known and its ``error_code``.

    An analysis is an immutable record of what it was computed from: ``inputs`` holds the
    anamnesis and the case fields exactly as sent, in the order asked, and the image's id and
    SHA-256 (``{"anamnesis", "answer_order", "case", "image": {"id", "sha256"},
    "reconstructed"}``; ``reconstructed`` is true for analyses made before inputs were kept,
    whose inputs were rebuilt from the case when the column was added). ``ai_responses`` holds
    the AI's responses as validated (``{"image_validity", "prediction", "red_flags",
    "triage"}``), with the model version. ``evidence`` is the prediction's optional
    ``{image_only, anamnesis_only}`` (null when the AI gave none). ``urgency`` is the case's
    headline urgency derived from this analysis (see
    :func:`app.services.clinical_record.headline.headline_action`); ``tier`` is the AI's tier,
    except that it is never ``confident`` for a photo analysed despite low quality.
    """

    __tablename__ = "analyses"
    __table_args__ = (Index("ix_analyses_case_id_created_at", "case_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    image_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case_images.id", ondelete="SET NULL"), nullable=True
    )
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    accepted_low_quality: Mapped[bool] = mapped_column(Boolean, default=False)
    image_validity: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    predictions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)
    tier: Mapped[str | None] = mapped_column(String(20), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    refer_to_specialist: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    highlight_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    red_flags: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    urgency: Mapped[str | None] = mapped_column(String(20), nullable=True)
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    ai_responses: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)

    @property
    def analysed_despite_low_quality(self) -> bool:
        """Whether the physician overrode the AI's "unusable photo" verdict for this analysis."""
        validity = self.image_validity or {}
        return bool(self.accepted_low_quality) and validity.get("isValid") is False


class IdempotencyRecord(Base):
    """The first response to a request sent with an ``Idempotency-Key`` (``POST
    /api/diagnosis``, ``/api/cases/<id>/images``, ``/api/cases/<id>/analyze``, portal forms).

    Unique per (user, key); ``fingerprint`` is the sha256 of the request body, so a repeat with
    a different body is told apart. ``status_code`` stays null while the first request runs.
    A request that failed (5xx) after it had committed a case (and its photo) leaves
    ``status_code`` null with ``kept_case_id`` (and ``kept_image_id``) set: a retry with the
    same key and body continues on them (app/services/idempotency.py).
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_records_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)
    #: The case (and photo) a failed attempt kept, for a retry to continue on; null otherwise.
    kept_case_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=True
    )
    kept_image_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("case_images.id", ondelete="SET NULL"), nullable=True
    )
