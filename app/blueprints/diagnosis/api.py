"""JSON API of the diagnosis under ``/api``: validated proxies of the AI Service's endpoints.

Photos go through the image intake first (:func:`app.services.images.process_image`): only a
checked, upright, metadata-free image reaches the AI Service, and a bad file gets the intake's
4xx without the AI being called.
"""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, current_app
from spectree import Response
from werkzeug.datastructures import FileStorage

from app.blueprints.diagnosis.schemas import (
    ImageValidityIn,
    PredictDiagnosisIn,
    RedFlagsIn,
    TriageIn,
)
from app.errors import UnsupportedMediaType
from app.openapi import spec
from app.schemas import ErrorBody
from app.services.ai_client import (
    DiagnosisPrediction,
    ImageValidity,
    RedFlags,
    Triage,
    get_ai_client,
)
from app.services.images import ProcessedImage, process_image

F = TypeVar("F")

bp = Blueprint("diagnosis_api", __name__, url_prefix="/api")

_TAG = "ai"
#: Answers every AI proxy may give besides its 200 (AI failures are 422/502/504).
_ERRORS = {
    "HTTP_400": ErrorBody,
    "HTTP_401": ErrorBody,
    "HTTP_415": ErrorBody,
    "HTTP_422": ErrorBody,
    "HTTP_502": ErrorBody,
    "HTTP_504": ErrorBody,
}
_UPLOAD_ERRORS = {**_ERRORS, "HTTP_413": ErrorBody}


def _require_form(form: F | None) -> F:
    """spectree validates a form model only for form bodies and passes ``None`` for any other
    content type (despite the view's annotation, which spectree reads as the model): 415 here.
    """
    if form is None:
        raise UnsupportedMediaType(
            "Send the photo as multipart/form-data with the file in the 'image' field.",
            code="unsupported_media_type",
        )
    return form


def _intake(upload: FileStorage) -> ProcessedImage:
    """Run the image intake on an upload with the configured limits (caller closes the result).

    Raises:
        PayloadTooLarge, ImageEmpty, UnsupportedImageType, ImageTooLarge, ImageTooSmall,
        ImageCorrupt: from :func:`process_image`.
    """
    config = current_app.config
    return process_image(
        upload.stream,
        max_bytes=config["MAX_IMAGE_BYTES"],
        max_pixels=config["MAX_IMAGE_PIXELS"],
        min_side=config["MIN_IMAGE_SIDE"],
    )


@bp.post("/ai/image_validity")
@spec.validate(
    form=ImageValidityIn, resp=Response(HTTP_200=ImageValidity, **_UPLOAD_ERRORS), tags=[_TAG]
)
def image_validity(form: ImageValidityIn):  # type: ignore[no-untyped-def]
    """Check whether a lesion photo is usable (blur, lighting, framing, resolution)."""
    upload = _require_form(form)
    with _intake(upload.image) as image:
        validity = get_ai_client().validate_image(image.read_bytes(), image.content_type)
    return validity.model_dump(mode="json", exclude_none=True)


@bp.post("/ai/predict_diagnosis")
@spec.validate(
    form=PredictDiagnosisIn,
    resp=Response(HTTP_200=DiagnosisPrediction, **_UPLOAD_ERRORS),
    tags=[_TAG],
)
def predict_diagnosis(form: PredictDiagnosisIn):  # type: ignore[no-untyped-def]
    """Return the ranked differential for a lesion photo and the anamnesis."""
    upload = _require_form(form)
    with _intake(upload.image) as image:
        prediction = get_ai_client().predict(
            upload.anamnesis, [(image.read_bytes(), image.content_type)]
        )
    return prediction.model_dump(mode="json", exclude_none=True)


@bp.post("/ai/red_flags")
@spec.validate(json=RedFlagsIn, resp=Response(HTTP_200=RedFlags, **_ERRORS), tags=[_TAG])
def red_flags(json: RedFlagsIn):  # type: ignore[no-untyped-def]
    """Return the red flags of an anamnesis (and differential), each naming its rule."""
    flags = get_ai_client().red_flags(json.anamnesis, json.diagnoses)
    return flags.model_dump(mode="json", exclude_none=True)


@bp.post("/ai/triage")
@spec.validate(json=TriageIn, resp=Response(HTTP_200=Triage, **_ERRORS), tags=[_TAG])
def triage(json: TriageIn):  # type: ignore[no-untyped-def]
    """Return the triage priority and time window for a diagnosed case."""
    result = get_ai_client().triage(json.anamnesis, json.diagnoses, json.red_flags)
    return result.model_dump(mode="json", exclude_none=True)
