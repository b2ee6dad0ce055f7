"""The histology (pathology) outcome of a reviewed case: what the lesion turned out to be."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TZDateTime, utcnow


class CaseOutcome(Base):
    """One recorded outcome of a case: the histology diagnosis and ICD-10 code, the date of
    the report, free text, and whether the lesion was excised.

    Append-only: a correction adds a row; the newest (by ``recorded_at``) is the case's
    outcome.
    """

    __tablename__ = "case_outcomes"
    __table_args__ = (Index("ix_case_outcomes_case_id_recorded_at", "case_id", "recorded_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    diagnosis: Mapped[str] = mapped_column(String(255))
    icd10: Mapped[str | None] = mapped_column(String(10), nullable=True)
    outcome_date: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    excised: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    recorded_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
