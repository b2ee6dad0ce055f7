"""Pydantic models for the diagnosis JSON and multipart bodies.

Responses are the AI Service's own models (:mod:`app.services.ai_client`), returned as validated.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, Json, model_validator
from pydantic.alias_generators import to_camel
from spectree.model_adapter.pydantic_adapter import BaseFile
from werkzeug.datastructures import FileStorage

from app.blueprints.questionnaire.schemas import CheckedAnamnesis
from app.errors import ValidationFailed
from app.services.ai_client import Diagnosis, RedFlags


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
