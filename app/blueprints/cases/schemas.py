"""Pydantic models for the cases JSON API (request bodies, query strings and responses).

Types, ranges and vocabularies come from :mod:`app.services.clinical_terms`, so the OpenAPI
document states the same rules the services enforce. Rules that need code (a patient reference
must not be an email address; the anamnesis shape) are checked by the services.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictInt,
    WithJsonSchema,
    computed_field,
)
from spectree.model_adapter.pydantic_adapter import BaseFile

from app.blueprints.consent.schemas import ConsentOut
from app.blueprints.outcomes.schemas import OutcomeOut
from app.services import anamnesis
from app.services.cases import MAX_PAGE
from app.services.clinical_record.headline import action_for_urgency
from app.services.clinical_terms import (
    BODY_SITES,
    CASE_STATUSES,
    FITZPATRICK_TYPES,
    MAX_CHIEF_COMPLAINT,
    MAX_NOTES,
    MAX_PATIENT_AGE,
    MAX_PATIENT_REFERENCE,
    MIN_PATIENT_AGE,
    PATIENT_SEXES,
    URGENCIES,
)

# typing.Literal[("a", "b")] is Literal["a", "b"]: the vocabularies stay defined once.
PatientSex = Literal[PATIENT_SEXES]  # type: ignore[valid-type]
BodySite = Literal[BODY_SITES]  # type: ignore[valid-type]
FitzpatrickType = Literal[FITZPATRICK_TYPES]  # type: ignore[valid-type]
CaseStatus = Literal[CASE_STATUSES]  # type: ignore[valid-type]
Urgency = Literal[URGENCIES]  # type: ignore[valid-type]

_BODY_SITE_HELP = (
    "Coarse anatomical region; the list and its meaning are in clinical_terms.py. "
    + (", ".join(BODY_SITES))
)
_REFERENCE_HELP = (
    "Pseudonymous patient reference, 1-64 characters after trimming (e.g. PT-2026-0042); "
    "never a name or an email address."
)


class CaseIn(BaseModel):
    """``POST /api/cases`` body: the facts of a new case."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    patient_reference: str = Field(
        min_length=1, max_length=MAX_PATIENT_REFERENCE, description=_REFERENCE_HELP
    )
    patient_age: StrictInt = Field(
        ge=MIN_PATIENT_AGE, le=MAX_PATIENT_AGE, description="Age in whole years."
    )
    patient_sex: PatientSex
    body_site: BodySite = Field(description=_BODY_SITE_HELP)
    fitzpatrick_type: FitzpatrickType | None = Field(
        default=None, description="Fitzpatrick skin phototype I-VI, if known."
    )
    chief_complaint: str = Field(
        min_length=1,
        max_length=MAX_CHIEF_COMPLAINT,
        description="Why the patient came, in the physician's words.",
    )


class CaseUpdate(BaseModel):
    """``PATCH /api/cases/<id>`` body: only the fields to change.

    ``fitzpatrick_type`` and ``physician_notes`` may be set to null; other fields may not.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    patient_reference: str | None = Field(
        default=None, min_length=1, max_length=MAX_PATIENT_REFERENCE, description=_REFERENCE_HELP
    )
    patient_age: StrictInt | None = Field(default=None, ge=MIN_PATIENT_AGE, le=MAX_PATIENT_AGE)
    patient_sex: PatientSex | None = None
    body_site: BodySite | None = Field(default=None, description=_BODY_SITE_HELP)
    fitzpatrick_type: FitzpatrickType | None = None
    chief_complaint: str | None = Field(default=None, min_length=1, max_length=MAX_CHIEF_COMPLAINT)
    physician_notes: str | None = Field(default=None, max_length=MAX_NOTES)

    def changes(self) -> dict[str, Any]:
        """Return only the fields the client sent (an explicit null included)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class CaseListQuery(BaseModel):
    """``GET /api/cases`` query string."""

    model_config = ConfigDict(extra="forbid")

    status: CaseStatus | None = Field(
        default=None, description="Only this status; without it archived cases are left out."
    )
    urgency: Urgency | None = None
    q: str | None = Field(
        default=None,
        max_length=MAX_PATIENT_REFERENCE,
        description="Case-insensitive substring of the patient reference.",
    )
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=20, ge=1, le=100)


class AnswersIn(RootModel[dict[str, Any]]):
    """``POST /api/cases/<id>/answers`` body: ``{fieldName: answer, …}`` merged into the anamnesis.

    Shape as in the AI contract: a flat object of at most 200 answers; each a string (≤ 2,000
    characters), a number, a boolean or a list of strings; field names ≤ 100 characters.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "maxProperties": anamnesis.MAX_KEYS,
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "maxLength": anamnesis.MAX_STRING_LENGTH},
                    {"type": "number"},
                    {"type": "boolean"},
                    {
                        "type": "array",
                        "items": {"type": "string", "maxLength": anamnesis.MAX_STRING_LENGTH},
                        "maxItems": anamnesis.MAX_LIST_ITEMS,
                    },
                ]
            },
        }
    )


class ImageUpload(BaseModel):
    """``POST /api/cases/<id>/images`` multipart form: the photo in the field ``image``.

    JPEG, PNG or HEIC/HEIF, at most ``MAX_IMAGE_BYTES`` (default 10 MB) and 40 megapixels, at
    least 64 px on each side. The file name and the declared content type are ignored.
    """

    model_config = ConfigDict(json_schema_extra={"required": ["image"]})

    # Optional in the model only so that a missing file gets our own message (see the view).
    image: Annotated[
        BaseFile | None,
        WithJsonSchema(
            {"type": "string", "format": "binary", "description": "The lesion photograph."}
        ),
    ] = None


class ImageOut(BaseModel):
    """A stored lesion photograph (metadata-free, upright)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    content_type: Literal["image/jpeg", "image/png"]
    width: int = Field(description="pixels")
    height: int = Field(description="pixels")
    size_bytes: int
    sha256: str = Field(description="hex SHA-256 of the stored bytes")
    created_at: datetime
    url: str = Field(
        description="Gateway address of the image (bearer token required): 302 to a short-lived "
        "presigned URL (S3) or the bytes (local storage)."
    )


class ReviewOut(BaseModel):
    """The physician's final assessment, once recorded."""

    final_diagnosis: str | None
    final_icd10: str | None
    agreement: Literal["top1", "in_differential", "differs"] | None = Field(
        description="how the final diagnosis compares with the AI: its first suggestion, "
        "another of its suggestions, or none"
    )
    notes: str | None
    reviewed_at: datetime
    reviewed_by_id: int | None


class ReviewHistoryOut(BaseModel):
    """One review in the case's history (``reopened_at`` set once the case was reopened)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    analysis_id: uuid.UUID | None
    final_diagnosis: str
    final_icd10: str | None
    agreement: str | None = Field(
        validation_alias="ai_agreement", description="top1 | in_differential | differs"
    )
    notes: str | None
    reviewed_at: datetime
    reviewed_by_id: int | None
    reopened_at: datetime | None
    reopened_by_id: int | None
    reopen_reason: str | None


class CaseSummary(BaseModel):
    """A case in the list (no anamnesis, no images)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: int
    patient_reference: str
    patient_id: uuid.UUID | None = Field(
        default=None, description="the patient record (GET /api/patients/{id})"
    )
    lesion_id: uuid.UUID | None = Field(
        default=None, description="the lesion this case is one visit of (GET /api/lesions/{id})"
    )
    patient_age: int | None = Field(description="years; null when unknown")
    patient_sex: PatientSex
    body_site: BodySite
    fitzpatrick_type: FitzpatrickType | None
    chief_complaint: str
    status: CaseStatus
    urgency: Urgency | None = Field(
        description="the one headline urgency of the newest completed analysis (red flags × "
        "triage × tier, the most urgent wins); null until analysed"
    )
    created_at: datetime
    updated_at: datetime
    outdated: bool = Field(
        default=False,
        description="The newest analysis was computed before the answers, case fields or "
        "photo changed: analyse again.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def action(self) -> str | None:
        """The headline action's code (e.g. ``suspected_cancer_pathway_2_weeks``)."""
        found = action_for_urgency(self.urgency)
        return found[0] if found else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def action_text(self) -> str | None:
        """The headline action in plain words (e.g. "Routine care")."""
        found = action_for_urgency(self.urgency)
        return found[1] if found else None


class CaseOut(CaseSummary):
    """A case with everything recorded on it."""

    anamnesis: dict[str, Any] = Field(description="Answers so far: {fieldName: answer}.")
    answer_order: list[str] = Field(
        default_factory=list, description="The anamnesis keys in the order they were asked."
    )
    physician_notes: str | None
    images: list[ImageOut]
    latest_analysis: dict[str, Any] | None = Field(
        default=None, description="The newest analysis (null until the case has been analysed)."
    )
    analyses: list[dict[str, Any]] = Field(
        default_factory=list, description="Every analysis of the case, newest first."
    )
    outdated_fields: list[str] = Field(
        default_factory=list,
        description="What changed since the newest analysis: anamnesis.<fieldName>, a case "
        "field name, or image.",
    )
    review: ReviewOut | None = Field(default=None, description="Null until reviewed.")
    reviews: list[ReviewHistoryOut] = Field(
        default_factory=list, description="Every review, newest first (reopened ones kept)."
    )
    outcome: OutcomeOut | None = Field(
        default=None, description="The newest histology outcome; null until recorded."
    )
    consent: ConsentOut | None = Field(
        default=None, description="The patient's consent per scope (PUT /api/cases/<id>/consent)."
    )


class CaseList(BaseModel):
    """One page of cases, newest first."""

    items: list[CaseSummary]
    total: int = Field(description="Matching cases over all pages.")
    page: int
    per_page: int


__all__ = [
    "AnswersIn",
    "CaseIn",
    "CaseList",
    "CaseListQuery",
    "CaseOut",
    "CaseSummary",
    "CaseUpdate",
    "ImageOut",
    "ImageUpload",
    "ReviewHistoryOut",
    "ReviewOut",
]


class UnarchiveIn(BaseModel):
    """``POST /api/cases/<id>/unarchive``: why a case archived by mistake is restored."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000, description="required (not blank); audited")
