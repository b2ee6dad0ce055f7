"""JSON API of the diagnosis under ``/api``: ``POST /api/diagnosis``, the analysis and review of
a case, and validated proxies of the AI Service's endpoints.

Photos go through the image intake first (:func:`app.services.images.process_image`): only a
checked, upright, metadata-free image reaches the AI Service, and a bad file gets the intake's
4xx without the AI being called.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Blueprint
from flask_jwt_extended import current_user
from werkzeug.datastructures import FileStorage

from app.blueprints.cases.api import case_out
from app.blueprints.cases.schemas import CaseOut
from app.blueprints.diagnosis.schemas import (
    AnalyzeIn,
    DiagnosisIn,
    DiagnosisOut,
    ImageValidityIn,
    PredictDiagnosisIn,
    RedFlagsIn,
    ReopenIn,
    ReviewIn,
    TriageIn,
)
from app.blueprints.idempotent import answer_once
from app.blueprints.uploads import refuse_oversized_upload, require_form
from app.models import Analysis
from app.openapi import responses, spec
from app.schemas import IdempotencyHeaders
from app.services import case_images, consent, diagnosis
from app.services.admission import admit_diagnosis, refuse_if_client_gone
from app.services.ai_client import (
    DiagnosisPrediction,
    ImageValidity,
    RedFlags,
    Triage,
    get_ai_client,
)
from app.services.clinical_record import reviews
from app.services.clinical_record.headline import action_for_urgency
from app.services.images import ProcessedImage

bp = Blueprint("diagnosis_api", __name__, url_prefix="/api")

_TAG = "ai"
#: Answers every AI proxy may give besides its 200 (AI failures are 422/502/504; 409
#: ``consent_required`` under ``CONSENT_POLICY=enforced``, as no case holds a consent here).
_ERRORS = (400, 401, 409, 415, 422, 502, 504)
_UPLOAD_ERRORS = (*_ERRORS, 413)
#: The endpoints that take a photo: their body is capped at MAX_IMAGE_BYTES (+ the envelope).
_PHOTO_ENDPOINTS = frozenset(
    {"diagnosis_api.image_validity", "diagnosis_api.predict_diagnosis", "diagnosis_api.diagnose"}
)
#: The endpoints that run a whole diagnosis: admitted at the door (app/services/admission.py).
_DIAGNOSIS_ENDPOINTS = frozenset({"diagnosis_api.diagnose", "diagnosis_api.analyze"})


@bp.url_value_preprocessor
def _limit_photo_size(endpoint: str | None, _values: dict | None) -> None:
    """Refuse an oversized photo before its body is read (413 in the error shape), then admit a
    diagnosis at the door (it may wait its turn, or get 503 when the queue is full); a URL value
    preprocessor runs before every before_request function (some read the form)."""
    if endpoint in _PHOTO_ENDPOINTS:
        refuse_oversized_upload()
    if endpoint in _DIAGNOSIS_ENDPOINTS:
        admit_diagnosis()


def _intake(upload: FileStorage) -> ProcessedImage:
    """Run the image intake on an upload (the caller closes the result); see ``intake``."""
    return case_images.intake(upload.stream)


@bp.post("/ai/image_validity")
@spec.validate(
    form=ImageValidityIn, resp=responses(_UPLOAD_ERRORS, HTTP_200=ImageValidity), tags=[_TAG]
)
def image_validity(form: ImageValidityIn):  # type: ignore[no-untyped-def]
    """Check whether a lesion photo is usable (blur, lighting, framing, resolution)."""
    consent.refuse_without_case()
    upload = require_form(form)
    with _intake(upload.image) as image:
        validity = get_ai_client().validate_image(image.read_bytes(), image.content_type)
    return validity.model_dump(mode="json", exclude_none=True)


@bp.post("/ai/predict_diagnosis")
@spec.validate(
    form=PredictDiagnosisIn,
    resp=responses(_UPLOAD_ERRORS, HTTP_200=DiagnosisPrediction),
    tags=[_TAG],
)
def predict_diagnosis(form: PredictDiagnosisIn):  # type: ignore[no-untyped-def]
    """Return the ranked differential for a lesion photo and the anamnesis."""
    consent.refuse_without_case()
    upload = require_form(form)
    with _intake(upload.image) as image:
        prediction = get_ai_client().predict(
            upload.anamnesis, [(image.read_bytes(), image.content_type)]
        )
    return prediction.model_dump(mode="json", exclude_none=True)


@bp.post("/ai/red_flags")
@spec.validate(json=RedFlagsIn, resp=responses(_ERRORS, HTTP_200=RedFlags), tags=[_TAG])
def red_flags(json: RedFlagsIn):  # type: ignore[no-untyped-def]
    """Return the red flags of an anamnesis (and differential), each naming its rule."""
    consent.refuse_without_case()
    flags = get_ai_client().red_flags(json.anamnesis, json.diagnoses)
    return flags.model_dump(mode="json", exclude_none=True)


@bp.post("/ai/triage")
@spec.validate(json=TriageIn, resp=responses(_ERRORS, HTTP_200=Triage), tags=[_TAG])
def triage(json: TriageIn):  # type: ignore[no-untyped-def]
    """Return the triage priority and time window for a diagnosed case."""
    consent.refuse_without_case()
    result = get_ai_client().triage(json.anamnesis, json.diagnoses, json.red_flags)
    return result.model_dump(mode="json", exclude_none=True)


# --- the diagnosis of a case -------------------------------------------------------------------

_DIAGNOSIS_TAG = "diagnosis"
_DIAGNOSIS_ERRORS = (*_UPLOAD_ERRORS, 404, 409, 503)


def diagnosis_out(analysis: Analysis) -> dict[str, Any]:
    """Serialise a completed analysis as the diagnosis result (JSON-ready: ids as strings)."""
    action = action_for_urgency(analysis.urgency) or action_for_urgency("low")
    assert action is not None
    return DiagnosisOut(
        predictions=analysis.predictions or [],
        red_flags=analysis.red_flags or {},
        image_validity=analysis.image_validity or {},
        case_id=analysis.case_id,
        image_id=analysis.image_id,
        analysis_id=analysis.id,
        tier=analysis.tier,  # type: ignore[arg-type]
        confidence=analysis.confidence or 0.0,
        refer_to_specialist=bool(analysis.refer_to_specialist),
        highlight_count=analysis.highlight_count or 0,
        triage=analysis.triage or {},
        model_version=analysis.model_version or "",
        request_id=analysis.request_id,
        urgency=analysis.urgency or "low",
        action=action[0],
        action_text=action[1],
        analysed_despite_low_quality=analysis.analysed_despite_low_quality,
        evidence=analysis.evidence,
        inputs=analysis.inputs,
        consent_warnings=diagnosis.consent_warnings(analysis),
    ).model_dump(mode="json")


def _upload_sha256(upload: FileStorage) -> str:
    digest = hashlib.sha256()
    stream = upload.stream
    for chunk in iter(lambda: stream.read(64 * 1024), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


@bp.post("/diagnosis")
@spec.validate(
    form=DiagnosisIn,
    headers=IdempotencyHeaders,
    resp=responses(_DIAGNOSIS_ERRORS, HTTP_200=DiagnosisOut),
    tags=[_DIAGNOSIS_TAG],
)
def diagnose(form: DiagnosisIn):  # type: ignore[no-untyped-def]
    """Analyse a lesion photo with the anamnesis: differential, red flags, triage, quality.

    Without ``case_id`` a case is opened from the anamnesis. Send ``Idempotency-Key`` to make a
    retry safe: the same key and body within 24 hours replays the first answer; after a 5xx
    that kept the case (storage, AI or database down) it continues on that case.
    """
    upload = require_form(form)
    refuse_if_client_gone()  # its body is read now: a client that went away shows (admission.py)

    def fingerprint() -> str:
        return diagnosis.request_fingerprint(
            diagnosis.canonical_json(upload.anamnesis),
            str(upload.case_id or ""),
            str(upload.accept_low_quality),
            _upload_sha256(upload.image),
        )

    def run(attempt: diagnosis.Attempt) -> tuple[dict[str, Any], int]:
        analysis = diagnosis.diagnose_upload(
            actor=current_user,
            upload=upload.image.stream,
            anamnesis=upload.anamnesis,
            case_id=upload.case_id,
            accept_low_quality=upload.accept_low_quality,
            attempt=attempt,
        )
        return diagnosis_out(analysis), 200

    return answer_once(fingerprint, run)


@bp.post("/cases/<uuid:case_id>/analyze")
@spec.validate(
    json=AnalyzeIn,
    headers=IdempotencyHeaders,
    resp=responses(_DIAGNOSIS_ERRORS, HTTP_200=DiagnosisOut),
    tags=[_DIAGNOSIS_TAG],
)
def analyze(case_id: uuid.UUID, json: AnalyzeIn):  # type: ignore[no-untyped-def]
    """Run (or re-run) the diagnosis on a stored image of the case (the newest by default).

    The body is optional: ``{"image_id": ..., "accept_low_quality": false}``. Send
    ``Idempotency-Key`` to make a retry safe: the same key and request within 24 hours replays
    the first answer instead of running a second analysis.
    """

    def fingerprint() -> str:
        body = diagnosis.canonical_json(json.model_dump(mode="json"))
        return diagnosis.request_fingerprint("analyze", str(case_id), body)

    def run(attempt: diagnosis.Attempt) -> tuple[dict[str, Any], int]:
        analysis = diagnosis.analyze_case(
            actor=current_user,
            case_id=case_id,
            image_id=json.image_id,
            accept_low_quality=json.accept_low_quality,
            attempt=attempt,
        )
        return diagnosis_out(analysis), 200

    return answer_once(fingerprint, run)


@bp.post("/cases/<uuid:case_id>/review")
@spec.validate(
    json=ReviewIn,
    resp=responses((401, 404, 409, 415, 422), HTTP_200=CaseOut),
    tags=[_DIAGNOSIS_TAG],
)
def review(case_id: uuid.UUID, json: ReviewIn):  # type: ignore[no-untyped-def]
    """Record the physician's final diagnosis (and ICD-10 code); the case becomes reviewed."""
    case = diagnosis.review_case(
        actor=current_user,
        case_id=case_id,
        final_diagnosis=json.final_diagnosis,
        icd10=json.icd10,
        agreement=json.agreement_given(),
        notes=json.notes,
        confirm_icd10=json.confirm_icd10,
    )
    return case_out(case)


@bp.post("/cases/<uuid:case_id>/reopen")
@spec.validate(
    json=ReopenIn,
    resp=responses((401, 404, 409, 415, 422), HTTP_200=CaseOut),
    tags=[_DIAGNOSIS_TAG],
)
def reopen(case_id: uuid.UUID, json: ReopenIn):  # type: ignore[no-untyped-def]
    """Reopen a reviewed (signed) case with a reason; it returns to ``analyzed`` and its
    earlier review stays in ``reviews``."""
    case = reviews.reopen_case(actor=current_user, case_id=case_id, reason=json.reason)
    return case_out(case)
