"""The contract's endpoints under ``/api/v1``: parse the body, call one function, return JSON."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from reference_ai import image_quality, questionnaire, red_flags, triage
from reference_ai.anamnesis import check_anamnesis, read_findings
from reference_ai.colour import colour_stats, mean_stats
from reference_ai.errors import InputError
from reference_ai.images import load_image
from reference_ai.prediction import check_diagnoses, predict

bp = Blueprint("reference_ai", __name__, url_prefix="/api/v1")

#: Most photos accepted in one predict call.
MAX_IMAGES = 5
NOTICE = "Reference implementation - not for clinical use"


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError(400, "request body must be a JSON object")
    return body


def _anamnesis(body: dict[str, Any]) -> dict[str, Any]:
    return check_anamnesis(body.get("anamnesis"))


def _model_version() -> str:
    """The model this service answers with (``REFERENCE_AI_MODEL``)."""
    return current_app.extensions["reference_ai_settings"].model_version


def _reply(payload: dict[str, Any]):
    return jsonify({**payload, "model_version": _model_version()})


@bp.get("/health")
def health():
    """Report that the service is up, which model it is, and that it is not for clinical use."""
    return jsonify(
        status="healthy", model_version=_model_version(), clinical_use=False, notice=NOTICE
    )


@bp.post("/questionnaire/next")
def next_question():
    """Return the next question for the answers so far, or ``isComplete``."""
    return _reply(questionnaire.next_question(_anamnesis(_body())))


@bp.post("/image_quality/validate")
def validate_image():
    """Measure resolution, lighting, blur and framing of one photo."""
    return _reply(image_quality.assess(load_image(_body())))


@bp.post("/diagnosis/predict")
def predict_diagnosis():
    """Return the ranked differential for the answers and photo(s)."""
    body = _body()
    findings = read_findings(_anamnesis(body))
    images = body.get("images")
    if not isinstance(images, list) or not images:
        raise InputError(422, "images must be a non-empty list of {imageData, contentType}")
    if len(images) > MAX_IMAGES:
        raise InputError(422, f"at most {MAX_IMAGES} images per call")
    photo = mean_stats([colour_stats(load_image(image).rgb) for image in images])
    result = predict(findings, photo, _model_version())
    elapsed_ms = (time.perf_counter() - g.started) * 1000
    result["metadata"]["inference_time_ms"] = round(elapsed_ms, 1)
    return _reply(result)


@bp.post("/diagnosis/red_flags")
def diagnosis_red_flags():
    """Apply every red-flag rule to the answers (and the differential, if given)."""
    body = _body()
    findings = read_findings(_anamnesis(body))
    return _reply(red_flags.evaluate(findings, check_diagnoses(body.get("diagnoses"))))


@bp.post("/diagnosis/triage")
def diagnosis_triage():
    """Return priority and time window; red flags are evaluated here when not given."""
    body = _body()
    findings = read_findings(_anamnesis(body))
    diagnoses = check_diagnoses(body.get("diagnoses"))
    flags = triage.check_red_flags(body.get("redFlags"))
    if flags is None:
        flags = red_flags.evaluate(findings, diagnoses)
    return _reply(triage.triage(red_flags=flags, diagnoses=diagnoses))
