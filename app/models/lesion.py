"""Patients (a pseudonymous reference of one owner), their followed lesions, and the
re-analyses of an earlier visit's photo with a newer model (issue #17)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from app.models.base import Base, JSONType, TZDateTime, utcnow
from app.services.clinical_terms import BODY_MAP_VIEWS, BODY_SITES, LESION_STATUSES


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Patient(Base):
    """A patient: only a pseudonymous ``reference`` (never a name), unique per owner regardless
    of letter case, and an optional ``birth_year`` (to carry the age over to a later visit).
    Cases point to it.

    ``reference`` is kept as first typed (``PT-001``), for display; ``pt-001`` or `` Pt-001 ``
    typed later is the same patient (:meth:`reference_is`; the unique index
    ``uq_patients_owner_id_lower_reference`` on ``(owner_id, lower(reference))``, migration
    0015), so that a lesion's visits are never split between two patients.
    """

    __tablename__ = "patients"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reference: Mapped[str] = mapped_column(String(64))
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    lesions: Mapped[list[Lesion]] = relationship(
        back_populates="patient", order_by="Lesion.created_at"
    )

    def __repr__(self) -> str:
        return f"<Patient {self.id} owner={self.owner_id} {self.reference!r}>"

    @classmethod
    def reference_is(cls, reference: str) -> ColumnElement[bool]:
        """The SQL condition "this patient's reference is ``reference``": surrounding spaces
        ignored, letter case ignored (``lower()`` on both sides, in the database, so that the
        comparison is the unique index's own)."""
        return func.lower(cls.reference) == func.lower(reference.strip())


#: One patient per owner and reference regardless of letter case (see :class:`Patient`).
#: ``records.patient_id_for`` names the same expressions as its ``ON CONFLICT`` target.
PATIENT_REFERENCE_KEY = (Patient.owner_id, func.lower(Patient.reference))
Index("uq_patients_owner_id_lower_reference", *PATIENT_REFERENCE_KEY, unique=True)


class Lesion(Base):
    """One lesion of a patient, followed over visits (each visit is a case).

    ``label`` is the physician's ("left scapula, 8 mm naevus"); ``body_site`` one of
    ``clinical_terms.BODY_SITES``; ``map_x``/``map_y`` (0–1, from the left and the top of the
    body-map outline) and ``map_view`` (``front``/``back``) are all set or all null; ``status``
    one of ``clinical_terms.LESION_STATUSES``.
    """

    __tablename__ = "lesions"
    __table_args__ = (
        Index("ix_lesions_patient_id_created_at", "patient_id", "created_at"),
        CheckConstraint(_one_of("status", LESION_STATUSES), name="status"),
        CheckConstraint(_one_of("body_site", BODY_SITES), name="body_site"),
        CheckConstraint(
            f"map_view IS NULL OR {_one_of('map_view', BODY_MAP_VIEWS)}", name="map_view"
        ),
        CheckConstraint(
            "(map_x IS NULL AND map_y IS NULL AND map_view IS NULL) OR "
            "(map_x BETWEEN 0 AND 1 AND map_y BETWEEN 0 AND 1 AND map_view IS NOT NULL)",
            name="map_point",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    label: Mapped[str] = mapped_column(String(120))
    body_site: Mapped[str] = mapped_column(String(20))
    map_x: Mapped[float | None] = mapped_column(Float, nullable=True)
    map_y: Mapped[float | None] = mapped_column(Float, nullable=True)
    map_view: Mapped[str | None] = mapped_column(String(5), nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="monitoring")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="lesions")

    def __repr__(self) -> str:
        return f"<Lesion {self.id} patient={self.patient_id} {self.status}>"


class Reanalysis(Base):
    """An earlier visit's photo analysed again by a newer model, to tell a change of model
    from a change of the lesion (issue #17, point 3).

    Append-only, and kept apart from ``analyses`` on purpose: the earlier visit's own record
    (its headline, review, worklist, statistics, FHIR export) stays what the physician saw
    then. ``original_analysis_id`` is the visit's analysis this one repeats; ``inputs`` holds
    the anamnesis as sent (the original's) and the image (``{"anamnesis", "image": {"id",
    "sha256"}, "original_model_version"}``); the result columns mean what they mean on
    :class:`app.models.Analysis`.
    """

    __tablename__ = "reanalyses"
    __table_args__ = (Index("ix_reanalyses_case_id_created_at", "case_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    image_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case_images.id", ondelete="SET NULL"), nullable=True
    )
    original_analysis_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("analyses.id", ondelete="SET NULL"), nullable=True
    )
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    model_version: Mapped[str] = mapped_column(String(100))
    predictions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    tier: Mapped[str | None] = mapped_column(String(20), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    refer_to_specialist: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    accepted_low_quality: Mapped[bool] = mapped_column(Boolean, default=False)
    image_validity: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    red_flags: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    urgency: Mapped[str | None] = mapped_column(String(20), nullable=True)
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    ai_responses: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    #: Re-analyses always completed (a failed one is not stored: nothing to compare).
    status = "completed"

    @property
    def analysed_despite_low_quality(self) -> bool:
        """Whether the original visit's photo was analysed despite the AI's "unusable"."""
        validity = self.image_validity or {}
        return bool(self.accepted_low_quality) and validity.get("isValid") is False
