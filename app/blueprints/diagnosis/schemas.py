"""Pydantic models for the diagnosis JSON and multipart bodies.

Responses are the AI Service's own models (:mod:`app.services.ai_client`), returned as validated.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, Json, model_validator
from pydantic.alias_generators import to_camel
from spectree.model_adapter.pydantic_adapter import BaseFile
from werkzeug.datastructures import FileStorage

from app.blueprints.questionnaire.schemas import CheckedAnamnesis
from app.errors import ValidationFailed
from app.services.ai_client import Diagnosis, RedFlags
from app.services.clinical_record.agreement import FROM_YES_NO


class UploadedImage(BaseFile):
    """A file part of a multipart body (documented as ``format: binary``)."""

    @classmethod
    def validate(cls, value: Any, *_args: Any, **_kwargs: Any) -> FileStorage:
        """Accept exactly one uploaded file (the model's before-check has already ensured it)."""
        if not isinstance(value, FileStorage):
            raise ValueError(_NOT_A_FILE)
        return value


_NOT_A_FILE = "Attach the photo as one file (multipart/form-data), not as text or several files."


class _Upload(BaseModel):
    """Base of the multipart bodies: checks the parts' presence and the file part up front.

    spectree renders pydantic's errors, *with their input values*, before our request hook turns
    them into the one error shape; an error whose input holds an uploaded file (a missing field
    reports the whole body as its input) cannot be rendered and would be a 500. So these checks
    raise :class:`ValidationFailed` directly (pydantic lets non-``ValueError`` exceptions through)
    and pydantic only ever reports problems of the text parts.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    #: Part name → message when it is missing.
    _missing_messages: ClassVar[dict[str, str]] = {
        "image": "Attach the lesion photo (JPEG, PNG or HEIC) in the 'image' field.",
    }

    @model_validator(mode="before")
    @classmethod
    def _parts(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        problems = {
            name: cls._missing_messages.get(name, "Field required")
            for name, field in cls.model_fields.items()
            if field.is_required() and data.get(name) in (None, "")
        }
        if "image" not in problems and not isinstance(data.get("image"), FileStorage):
            problems["image"] = _NOT_A_FILE
        if problems:
            raise ValidationFailed(problems)
        return data


class ImageValidityIn(_Upload):
    """``multipart/form-data`` with the lesion photo (JPEG, PNG or HEIC) in ``image``."""

    image: UploadedImage = Field(description="the lesion photo: JPEG, PNG or HEIC")


class PredictDiagnosisIn(ImageValidityIn):
    """``multipart/form-data``: the photo in ``image`` and the anamnesis as a JSON string."""

    _missing_messages: ClassVar[dict[str, str]] = {
        **ImageValidityIn._missing_messages,
        "anamnesis": "Send the anamnesis as a JSON object string ('{}' when there are no answers).",
    }

    anamnesis: Json[CheckedAnamnesis] = Field(
        description='the answers as a JSON object string, e.g. {"age": 54, "bleeding": false}'
    )


class _CamelIn(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class RedFlagsIn(_CamelIn):
    """``POST /api/ai/red_flags``: the anamnesis and, optionally, the differential from predict."""

    anamnesis: CheckedAnamnesis
    diagnoses: Annotated[list[Diagnosis], Field(max_length=50)] | None = None


class TriageIn(_CamelIn):
    """``POST /api/ai/triage``: the anamnesis, the differential and the red flags."""

    anamnesis: CheckedAnamnesis
    diagnoses: list[Diagnosis] = Field(max_length=50)
    red_flags: RedFlags


# --- POST /api/diagnosis and the case analysis -------------------------------------------------


class DiagnosisIn(PredictDiagnosisIn):
    """``multipart/form-data`` of ``POST /api/diagnosis``.

    ``image``: the lesion photo; ``anamnesis``: the answers as a JSON object string; optional
    ``case_id`` (merge into that case instead of opening a new one) and ``accept_low_quality``
    (analyse even when the AI judges the photo unusable).
    """

    case_id: uuid.UUID | None = Field(default=None, description="an existing case to add to")
    accept_low_quality: bool = Field(
        default=False, description="analyse even a photo the AI judges unusable"
    )


class AnalyzeIn(BaseModel):
    """``POST /api/cases/<id>/analyze``: which stored image (default: the newest)."""

    model_config = ConfigDict(extra="forbid")

    image_id: uuid.UUID | None = None
    accept_low_quality: bool = False


class DiagnosisOut(BaseModel):
    """The result of a diagnosis: the seed's keys (``predictions``, ``red_flags``,
    ``image_validity``) plus where it is stored and how far to trust it.

    ``predictions`` is the ranked differential (most probable first); ``tier`` is
    ``confident`` / ``possible`` / ``refer``; ``red_flags`` and ``triage`` are the AI Service's
    objects as the contract defines them (camelCase inside).
    """

    predictions: list[dict[str, Any]]
    red_flags: dict[str, Any]
    image_validity: dict[str, Any]
    case_id: uuid.UUID
    image_id: uuid.UUID | None
    analysis_id: uuid.UUID
    tier: Literal["confident", "possible", "refer"]
    confidence: float
    refer_to_specialist: bool
    highlight_count: int
    triage: dict[str, Any]
    model_version: str
    request_id: str | None
    urgency: str = Field(
        description="the case's one headline urgency (red flags × triage × tier): "
        "low, medium, high or emergency"
    )
    action: str = Field(description="the headline action's code, e.g. physician_review_within_24h")
    action_text: str = Field(description="the headline action in plain words")
    analysed_despite_low_quality: bool = Field(
        description="the photo was analysed although the AI judged it unusable (the tier is "
        "then never confident)"
    )
    evidence: dict[str, Any] | None = Field(
        description="{image_only, anamnesis_only}: the differential from the photo alone and "
        "from the answers alone; null when the AI Service gives none"
    )
    inputs: dict[str, Any] | None = Field(description="what the analysis was computed from")
    consent_warnings: list[str] = Field(
        default_factory=list,
        description="under CONSENT_POLICY=advisory: the patient's consent to AI analysis not "
        "recorded as granted, or image storage refused (see the case's consent)",
    )


class AnalysisOut(BaseModel):
    """One stored analysis of a case (``completed`` with results, or ``failed`` with a code)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: Literal["completed", "failed"]
    image_id: uuid.UUID | None
    request_id: str | None
    model_version: str | None
    error_code: str | None
    error_message: str | None
    accepted_low_quality: bool
    image_validity: dict[str, Any] | None
    predictions: list[dict[str, Any]] | None
    tier: str | None
    confidence: float | None
    refer_to_specialist: bool | None
    highlight_count: int | None
    red_flags: dict[str, Any] | None
    urgency: str | None
    triage: dict[str, Any] | None
    created_at: datetime
    completed_at: datetime | None
    action: str | None = Field(default=None, description="the headline action's code")
    action_text: str | None = Field(default=None, description="the headline action in words")
    analysed_despite_low_quality: bool = False
    evidence: dict[str, Any] | None = Field(
        default=None,
        description="{image_only, anamnesis_only} from the AI; null when it gives none",
    )
    inputs: dict[str, Any] | None = Field(
        default=None,
        description="what the analysis was computed from: {anamnesis, answer_order, case, "
        "image: {id, sha256}, reconstructed}",
    )
    ai_responses: dict[str, Any] | None = Field(
        default=None, description="the AI Service's responses as validated, with model_version"
    )
    outdated: bool = Field(
        default=False, description="the answers, case fields or photo changed since"
    )
    outdated_fields: list[str] = Field(
        default_factory=list,
        description="what changed: anamnesis.<fieldName>, a case field name, or image",
    )


class ReviewIn(BaseModel):
    """``POST /api/cases/<id>/review``: the physician's final diagnosis."""

    model_config = ConfigDict(extra="forbid")

    final_diagnosis: str = Field(min_length=1, max_length=255)
    icd10: str | None = Field(
        default=None,
        max_length=10,
        description="e.g. C43.9; filled from the differential when the diagnosis is picked from it",
    )
    agreement: Literal["top1", "in_differential", "differs"] | None = Field(
        default=None,
        description="derived when final_diagnosis matches the differential (by name, else by "
        "ICD-10 code); required when it does not, or when confirm_icd10 kept a contradiction "
        "(422 on `agreement`)",
    )
    confirm_icd10: bool = Field(
        default=False,
        description="keep an icd10 that contradicts a known diagnosis (e.g. Melanoma with "
        "D22.9), which is otherwise refused with 422 icd10_mismatch",
    )
    agrees_with_ai: bool | None = Field(
        default=None,
        json_schema_extra={"deprecated": True},
        description="deprecated yes/no form of `agreement`: true = top1, false = differs",
    )
    notes: str | None = Field(default=None, max_length=10_000)

    def agreement_given(self) -> str | None:
        """The agreement the client gave: ``agreement``, else the old yes/no mapped (true →
        top1, false → differs, as migration 0007 did), else ``None``."""
        if self.agreement is not None or self.agrees_with_ai is None:
            return self.agreement
        return FROM_YES_NO[self.agrees_with_ai]


class ReopenIn(BaseModel):
    """``POST /api/cases/<id>/reopen``: why the reviewed (signed) case is reopened."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="required; audited")
