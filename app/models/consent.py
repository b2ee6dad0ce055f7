"""The patient's consent recorded on a case, per scope, append-only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TZDateTime, utcnow

#: What a patient consents to, one decision each:
#: ``ai_analysis`` (answers and photo sent to the AI Service for the questionnaire and the
#: diagnosis), ``image_storage`` (the lesion photo kept with the case), ``teaching_research``
#: (the case used, pseudonymised, for teaching or research: exports for that purpose).
CONSENT_SCOPES = ("ai_analysis", "image_storage", "teaching_research")
#: A recorded decision; a scope without any record is *not recorded* (unknown), never refused.
CONSENT_DECISIONS = ("granted", "refused")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class CaseConsent(Base):
    """One recorded consent decision of a case's patient for one scope.

    Append-only: a change adds a row; the newest row of a scope (by ``recorded_at``) is the
    case's current decision for it, the older ones are its history. ``recorded_by_id`` is the
    user who recorded it (the patient's decision as reported by that physician).
    """

    __tablename__ = "case_consents"
    __table_args__ = (
        Index("ix_case_consents_case_id_scope_recorded_at", "case_id", "scope", "recorded_at"),
        CheckConstraint(_one_of("scope", CONSENT_SCOPES), name="scope"),
        CheckConstraint(_one_of("decision", CONSENT_DECISIONS), name="decision"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(30))
    decision: Mapped[str] = mapped_column(String(10))
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    recorded_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<CaseConsent {self.case_id} {self.scope}={self.decision}>"
