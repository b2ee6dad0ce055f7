"""Pydantic models of the lesions JSON API (``/api/patients``, ``/api/lesions``).

The response models mirror the dataclasses of :mod:`app.services.lesions.shapes` (read with
``from_attributes``); vocabularies come from :mod:`app.services.clinical_terms`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from app.blueprints.cases.schemas import BodySite, CaseStatus, Urgency
from app.services.cases import MAX_PAGE
from app.services.clinical_terms import (
    BODY_MAP_VIEWS,
    LESION_STATUSES,
    MAX_CHIEF_COMPLAINT,
    MAX_LESION_LABEL,
    MAX_PATIENT_AGE,
    MAX_PATIENT_REFERENCE,
    MIN_BIRTH_YEAR,
    MIN_PATIENT_AGE,
)

LesionStatus = Literal[LESION_STATUSES]  # type: ignore[valid-type]
MapView = Literal[BODY_MAP_VIEWS]  # type: ignore[valid-type]

_REFERENCE_HELP = (
    "Pseudonymous patient reference, 1-64 characters after trimming (e.g. PT-2026-0042); "
    "never a name or an email address. Unique per physician."
)
_MAP_HELP = "Share of the body-map outline's {} (0-1); give map_x, map_y and map_view together."
_FROM_ATTRIBUTES = ConfigDict(from_attributes=True)


# --- requests -----------------------------------------------------------------------------------


class PatientIn(BaseModel):
    """``POST /api/patients`` body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reference: str = Field(
        min_length=1, max_length=MAX_PATIENT_REFERENCE, description=_REFERENCE_HELP
    )
    birth_year: StrictInt | None = Field(
        default=None,
        ge=MIN_BIRTH_YEAR,
        le=9999,
        description="Year of birth (not after this year), to carry the age to later visits.",
    )


class PatientUpdate(BaseModel):
    """``PATCH /api/patients/<id>`` body: the year of birth (null clears it)."""

    model_config = ConfigDict(extra="forbid")

    birth_year: StrictInt | None = Field(
        ge=MIN_BIRTH_YEAR, le=9999, description="Year of birth (not after this year), or null."
    )


class PatientListQuery(BaseModel):
    """``GET /api/patients`` query string."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(
        default=None,
        max_length=MAX_PATIENT_REFERENCE,
        description="Case-insensitive substring of the reference.",
    )
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=20, ge=1, le=100)


class LesionIn(BaseModel):
    """``POST /api/lesions`` body: a lesion of one of the caller's patients."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    patient_id: uuid.UUID
    label: str = Field(
        min_length=1,
        max_length=MAX_LESION_LABEL,
        description="The physician's label, e.g. 'left scapula, 8 mm naevus'.",
    )
    body_site: BodySite
    map_x: StrictFloat | StrictInt | None = Field(
        default=None, ge=0, le=1, description=_MAP_HELP.format("width, from the left")
    )
    map_y: StrictFloat | StrictInt | None = Field(
        default=None, ge=0, le=1, description=_MAP_HELP.format("height, from the top")
    )
    map_view: MapView | None = Field(default=None, description="front | back")
    status: LesionStatus = "monitoring"


class LesionUpdate(BaseModel):
    """``PATCH /api/lesions/<id>`` body: only the fields to change (map_* may be null)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str | None = Field(default=None, min_length=1, max_length=MAX_LESION_LABEL)
    body_site: BodySite | None = None
    map_x: StrictFloat | StrictInt | None = Field(default=None, ge=0, le=1)
    map_y: StrictFloat | StrictInt | None = Field(default=None, ge=0, le=1)
    map_view: MapView | None = None
    status: LesionStatus | None = None

    def changes(self) -> dict:
        """Only the fields the client sent (an explicit null included)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class VisitIn(BaseModel):
    """``POST /api/lesions/<id>/cases`` body (may be ``{}``): a new visit of the lesion."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    chief_complaint: str | None = Field(
        default=None,
        max_length=MAX_CHIEF_COMPLAINT,
        description="Default: 'Follow-up visit: <lesion label>'.",
    )
    patient_age: StrictInt | None = Field(
        default=None,
        ge=MIN_PATIENT_AGE,
        le=MAX_PATIENT_AGE,
        description="Default: this year minus the year of birth, else the previous visit's age.",
    )


class VisitPairQuery(BaseModel):
    """``GET /api/lesions/<id>/compare`` query string: two visits (case ids) of the lesion."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: uuid.UUID = Field(alias="from", description="the earlier visit's case id")
    to: uuid.UUID = Field(description="the later visit's case id")


class VisitPairIn(BaseModel):
    """``POST /api/lesions/<id>/compare/reanalyse`` body: the two visits compared."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: uuid.UUID = Field(
        alias="from", description="the earlier visit, whose photo is analysed again"
    )
    to: uuid.UUID = Field(description="the later visit, whose model is used")


# --- responses ----------------------------------------------------------------------------------


class PatientOut(BaseModel):
    """A patient with the counts of its lesions and visits."""

    model_config = _FROM_ATTRIBUTES

    id: uuid.UUID
    reference: str
    birth_year: int | None
    lesion_count: int
    visit_count: int
    last_visit_at: datetime | None
    created_at: datetime


class PatientList(BaseModel):
    """One page of patients, newest first."""

    model_config = _FROM_ATTRIBUTES

    items: list[PatientOut]
    total: int
    page: int
    per_page: int


class LesionOut(BaseModel):
    """A lesion with the span and count of its visits."""

    model_config = _FROM_ATTRIBUTES

    id: uuid.UUID
    patient_id: uuid.UUID
    label: str
    body_site: BodySite
    body_site_label: str
    map_x: float | None
    map_y: float | None
    map_view: MapView | None
    status: LesionStatus
    visit_count: int
    first_visit_at: datetime | None
    last_visit_at: datetime | None
    latest_urgency: Urgency | None = Field(
        description="the headline urgency of the newest analysed visit (null before any)"
    )
    created_at: datetime
    updated_at: datetime


class LesionList(BaseModel):
    """A patient's lesions, oldest first."""

    items: list[LesionOut]


class DiagnosisOut(BaseModel):
    """A diagnosis: the AI's (with its probability 0-1) or the physician's (null)."""

    model_config = _FROM_ATTRIBUTES

    disease: str
    probability: float | None
    icd10: str | None


class VisitOut(BaseModel):
    """One visit in the lesion's timeline (the newest completed analysis's results)."""

    model_config = _FROM_ATTRIBUTES

    visit_number: int = Field(description="1 = the first visit")
    case_id: uuid.UUID
    date: datetime
    status: CaseStatus
    patient_age: int | None
    image_id: uuid.UUID | None = Field(
        description="the photo analysed (else the newest): GET /api/cases/{case_id}/images/{id}"
    )
    image_width: int | None
    image_height: int | None
    analysis_id: uuid.UUID | None
    analysed_at: datetime | None
    model_version: str | None
    tier: str | None
    urgency: Urgency | None
    action: str | None
    action_text: str | None
    top_diagnosis: DiagnosisOut | None
    final_diagnosis: DiagnosisOut | None
    reviewed_at: datetime | None


class LesionDetail(BaseModel):
    """A lesion, its patient and every visit (oldest first)."""

    model_config = _FROM_ATTRIBUTES

    lesion: LesionOut
    patient: PatientOut
    visits: list[VisitOut]


class TextChange(BaseModel):
    """A value before and after; ``changed`` when they differ."""

    model_config = _FROM_ATTRIBUTES

    before: str | None
    after: str | None
    changed: bool


class DiagnosisChange(BaseModel):
    """The top diagnosis before and after; ``changed`` when it is another disease."""

    model_config = _FROM_ATTRIBUTES

    before: DiagnosisOut | None
    after: DiagnosisOut | None
    changed: bool


class ProbabilityChangeOut(BaseModel):
    """One diagnosis's probability at both analyses (fractions 0-1; delta = after - before)."""

    model_config = _FROM_ATTRIBUTES

    disease: str
    icd10: str | None
    before: float | None
    after: float | None
    delta: float | None


class FlagChangeOut(BaseModel):
    """A red flag that appeared or went away."""

    model_config = _FROM_ATTRIBUTES

    type: str
    severity: str | None
    description: str
    rule: str | None


class AnswerChangeOut(BaseModel):
    """An answer that differs between the visits, in words ("Diameter 6 → 9 mm")."""

    model_config = _FROM_ATTRIBUTES

    field: str
    label: str
    question: str | None
    before: str | bool | int | float | list[str] | None
    after: str | bool | int | float | list[str] | None
    before_text: str
    after_text: str
    sentence: str


class DeltaOut(BaseModel):
    """The change between two analyses, structured and in words."""

    model_config = _FROM_ATTRIBUTES

    from_analysis_id: uuid.UUID
    to_analysis_id: uuid.UUID
    from_model_version: str | None
    to_model_version: str | None
    tier: TextChange
    urgency: TextChange
    action: TextChange
    top_diagnosis: DiagnosisChange
    probabilities: list[ProbabilityChangeOut]
    red_flags_appeared: list[FlagChangeOut]
    red_flags_gone: list[FlagChangeOut]
    sentences: list[str]


class ComparisonOut(BaseModel):
    """Two visits of a lesion compared (see the services' ``Comparison``)."""

    model_config = _FROM_ATTRIBUTES

    lesion_id: uuid.UUID
    from_visit: VisitOut
    to_visit: VisitOut
    days_between: int
    answers_changed: list[AnswerChangeOut]
    delta: DeltaOut | None = Field(description="null when either visit has no completed analysis")
    same_model: bool = Field(description="both visits analysed by the same model version")
    same_model_delta: DeltaOut | None = Field(
        description="the earlier photo re-analysed by the later visit's model, compared with "
        "the later visit (null until re-analysed)"
    )
    reanalysis_possible: bool = Field(
        description="the models differ and the earlier photo may be re-analysed "
        "(POST /api/lesions/{id}/compare/reanalyse)"
    )
    reanalysis_id: uuid.UUID | None
    sentences: list[str] = Field(description="everything that changed, in words")
