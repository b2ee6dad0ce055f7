"""Cases (one lesion of one pseudonymous patient) and their stored images."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, TZDateTime, utcnow
from app.services.clinical_terms import (
    AI_AGREEMENTS,
    BODY_SITES,
    CASE_STATUSES,
    FITZPATRICK_TYPES,
    MAX_PATIENT_AGE,
    MIN_PATIENT_AGE,
    PATIENT_SEXES,
    URGENCIES,
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Case(Base):
    """A case: patient facts, anamnesis (``{fieldName: answer}``), workflow status and review.

    ``status`` follows ``clinical_terms.CASE_STATUSES``; ``urgency`` is filled from the latest
    analysis's red flags; the review fields stay null until a physician records the final diagnosis.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_owner_id_created_at", "owner_id", "created_at"),
        CheckConstraint(_one_of("status", CASE_STATUSES), name="status"),
        CheckConstraint(f"urgency IS NULL OR {_one_of('urgency', URGENCIES)}", name="urgency"),
        CheckConstraint(_one_of("patient_sex", PATIENT_SEXES), name="patient_sex"),
        CheckConstraint(
            f"ai_agreement IS NULL OR {_one_of('ai_agreement', AI_AGREEMENTS)}",
            name="ai_agreement",
        ),
        CheckConstraint(_one_of("body_site", BODY_SITES), name="body_site"),
        CheckConstraint(
            f"fitzpatrick_type IS NULL OR {_one_of('fitzpatrick_type', FITZPATRICK_TYPES)}",
            name="fitzpatrick_type",
        ),
        CheckConstraint(
            f"patient_age BETWEEN {MIN_PATIENT_AGE} AND {MAX_PATIENT_AGE}", name="patient_age"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    patient_reference: Mapped[str] = mapped_column(String(64))
    #: The patient record of ``patient_reference`` (kept in sync) and the lesion this case is
    #: one visit of. Null only for rows written outside ``cases.create_case``.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    lesion_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lesions.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    patient_age: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unknown
    patient_sex: Mapped[str] = mapped_column(String(10))
    body_site: Mapped[str] = mapped_column(String(20))
    fitzpatrick_type: Mapped[str | None] = mapped_column(String(3), nullable=True)
    chief_complaint: Mapped[str] = mapped_column(Text, default="")
    anamnesis: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: The anamnesis keys in the order they were asked (JSONB keeps no key order).
    answer_order: Mapped[list[str]] = mapped_column(
        JSONType, default=list, server_default=text("'[]'")
    )
    #: The question text shown for each answered field (``{fieldName: text}``), as the AI
    #: Service worded it when the physician answered it; fields answered without a question
    #: shown (the case form, ``POST /api/cases/<id>/answers``) have none.
    question_texts: Mapped[dict[str, str]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    urgency: Mapped[str | None] = mapped_column(String(10), nullable=True)
    physician_notes: Mapped[str | None] = mapped_column(Text, nullable=True)

    # Review, recorded by the physician after reading the analysis.
    final_diagnosis: Mapped[str | None] = mapped_column(String(255), nullable=True)
    final_icd10: Mapped[str | None] = mapped_column(String(10), nullable=True)
    #: ``clinical_terms.AI_AGREEMENTS``: top1 | in_differential | differs.
    ai_agreement: Mapped[str | None] = mapped_column(String(20), nullable=True)
    review_notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )

    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    images: Mapped[list[CaseImage]] = relationship(
        back_populates="case",
        order_by="CaseImage.created_at",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<Case {self.id} owner={self.owner_id} {self.status}>"


class CaseReview(Base):
    """One review of a case, kept when the case is reopened (the review history).

    ``analysis_id`` is the analysis the physician reviewed; ``reopened_*`` stay null while the
    review is the case's current one.
    """

    __tablename__ = "case_reviews"
    __table_args__ = (
        CheckConstraint(
            f"ai_agreement IS NULL OR {_one_of('ai_agreement', AI_AGREEMENTS)}",
            name="ai_agreement",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    analysis_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("analyses.id", ondelete="SET NULL"), nullable=True
    )
    final_diagnosis: Mapped[str] = mapped_column(String(255))
    final_icd10: Mapped[str | None] = mapped_column(String(10), nullable=True)
    ai_agreement: Mapped[str | None] = mapped_column(String(20), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    reopened_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    reopened_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    reopen_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class CaseImage(Base):
    """A lesion photograph stored under ``storage_key`` (never the client's file name).

    ``size_bytes``, ``sha256``, ``width`` and ``height`` (pixels, upright) describe exactly the
    stored, metadata-free bytes.
    """

    __tablename__ = "case_images"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="images")

    def __repr__(self) -> str:
        return f"<CaseImage {self.id} case={self.case_id} {self.content_type}>"
