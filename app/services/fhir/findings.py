"""The photos and the AI's findings: ``Media`` per photo, ``Observation``s for photo quality and
each red flag, and the differential as a ``RiskAssessment``.

Shapes of the stored AI results: ../shared/ai-service-contract.md (``ImageValidity``,
``RedFlags``, ``DiagnosisPrediction``), kept with their wire (camelCase) names.
"""

from __future__ import annotations

import base64
from typing import Any

from app.services.clinical_record.words import TIER_WORDS, body_site_label, percent
from app.services.fhir.source import CaseSource
from app.services.fhir.subject import device_id, patient_id
from app.services.fhir.terms import (
    ANALYSIS_ID_SYSTEM,
    BODY_SITE_SYSTEM,
    FINDING_SYSTEM,
    ICD10_SYSTEM,
    IMAGE_ID_SYSTEM,
    MEDIA_TYPE_SYSTEM,
    MODEL_SYSTEM,
    OBSERVATION_CATEGORY_SYSTEM,
    RED_FLAG_SYSTEM,
    RISK_PROBABILITY_SYSTEM,
    SEVERITY_SYSTEM,
    UCUM_SYSTEM,
    URI_SYSTEM,
    Refs,
    coding,
    concept,
    instant,
    resource_id,
)

#: The AI's confidence words → HL7 risk-probability codes.
_RISK_WORDS = {"low": "low", "medium": "moderate", "high": "high"}
_QUALITY_CODE = coding(FINDING_SYSTEM, "image-quality", "Photo quality")
_FEEDBACK = (("blur", "Sharpness"), ("lighting", "Lighting"), ("framing", "Framing"))


def media_id(image: Any) -> str:
    """The id of the ``Media`` of a photo (its image id)."""
    return str(image.id)


def _ni_uri(sha256_hex: str) -> str:
    """The SHA-256 as an RFC 6920 named-information URI (``ni:///sha-256;<base64url>``)."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).decode().rstrip("=")
    return f"ni:///sha-256;{digest}"


def media(source: CaseSource, refs: Refs, image: Any) -> dict[str, Any]:
    """One lesion photo: type, size, SHA-256, body site and the URL of the image endpoint.

    The bytes are never inline. ``Attachment.hash`` is SHA-1 in FHIR R4, which the gateway does
    not keep: the SHA-256 is an identifier instead (RFC 6920 ``ni`` URI).
    """
    case = source.case
    url = f"{source.base_url}/api/cases/{case.id}/images/{image.id}"
    return {
        "resourceType": "Media",
        "id": media_id(image),
        "identifier": [
            {"system": IMAGE_ID_SYSTEM, "value": str(image.id)},
            {"system": URI_SYSTEM, "value": _ni_uri(image.sha256)},
        ],
        "status": "completed",
        "type": concept("Image", coding(MEDIA_TYPE_SYSTEM, "image", "Image")),
        "subject": refs.to("Patient", patient_id(source)),
        "createdDateTime": instant(image.created_at),
        "bodySite": concept(
            body_site_label(case.body_site), coding(BODY_SITE_SYSTEM, case.body_site)
        ),
        "width": image.width,
        "height": image.height,
        "content": {
            "contentType": image.content_type,
            "url": url,
            "size": image.size_bytes,
            "title": "Lesion photo",
            "creation": instant(image.created_at),
        },
    }


def _finding(source: CaseSource, refs: Refs, key: str, code: dict) -> dict[str, Any]:
    analysis = source.analysis
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id(key, analysis.id),
        "identifier": [{"system": ANALYSIS_ID_SYSTEM, "value": str(analysis.id)}],
        "status": "final",
        "category": [concept("Exam", coding(OBSERVATION_CATEGORY_SYSTEM, "exam", "Exam"))],
        "code": concept(code.get("display") or code["code"], code),
        "subject": refs.to("Patient", patient_id(source)),
        "effectiveDateTime": instant(analysis.completed_at or analysis.created_at),
        "device": refs.to("Device", device_id(analysis.model_version or "unknown")),
    }
    if analysis.image_id is not None:
        resource["derivedFrom"] = [refs.to("Media", str(analysis.image_id))]
    return resource


def _percent_quantity(share: float) -> dict[str, Any]:
    return {"value": round(share * 100, 1), "unit": "%", "system": UCUM_SYSTEM, "code": "%"}


def quality_observation(source: CaseSource, refs: Refs) -> dict[str, Any] | None:
    """The AI's photo quality: the score (%), each aspect (%), usable or not, the issues."""
    validity = (source.analysis.image_validity or {}) if source.analysis else {}
    if not validity:
        return None
    resource = _finding(source, refs, "image-quality", _QUALITY_CODE)
    if validity.get("score") is not None:
        resource["valueQuantity"] = _percent_quantity(validity["score"])
    feedback = validity.get("feedback") or {}
    components = [
        {
            "code": concept(label, coding(FINDING_SYSTEM, f"image-{key}", label)),
            "valueQuantity": _percent_quantity(feedback[key]),
        }
        for key, label in _FEEDBACK
        if feedback.get(key) is not None
    ]
    usable = coding(FINDING_SYSTEM, "image-usable", "Good enough for analysis")
    components.append(
        {"code": concept(usable["display"], usable), "valueBoolean": bool(validity.get("isValid"))}
    )
    resource["component"] = components
    notes = list(validity.get("issues") or [])
    if source.analysis.accepted_low_quality:
        notes.append("Analysed despite low photo quality (the physician chose to go on).")
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    return resource


def red_flag_observations(source: CaseSource, refs: Refs) -> list[dict[str, Any]]:
    """One ``Observation`` per red flag: its code, severity (the value), and the rule and its
    source in ``note``."""
    flags = ((source.analysis.red_flags or {}) if source.analysis else {}).get("flags") or []
    found = []
    for index, flag in enumerate(flags):
        code = coding(RED_FLAG_SYSTEM, flag.get("type") or "red_flag", flag.get("description"))
        resource = _finding(source, refs, f"red-flag/{index}", code)
        severity = flag.get("severity") or "unknown"
        resource["valueCodeableConcept"] = concept(
            f"{severity.capitalize()} severity", coding(SEVERITY_SYSTEM, severity)
        )
        resource["interpretation"] = [concept("Red flag")]
        rule = "; ".join(
            part
            for part in (
                f"Rule: {flag['rule']}" if flag.get("rule") else "",
                f"Source: {flag['source']}" if flag.get("source") else "",
                f"Urgency: {flag['urgency']}" if flag.get("urgency") else "",
            )
            if part
        )
        if rule:
            resource["note"] = [{"text": rule}]
        found.append(resource)
    return found


def _prediction(row: dict[str, Any]) -> dict[str, Any]:
    disease = row.get("disease") or "Unnamed diagnosis"
    codings = [coding(ICD10_SYSTEM, row["icd10"], disease)] if row.get("icd10") else []
    out: dict[str, Any] = {
        "outcome": concept(disease, *codings),
        "probabilityDecimal": row.get("probability", 0),
    }
    risk = _RISK_WORDS.get(row.get("confidence") or "")
    if risk:
        out["qualitativeRisk"] = concept(
            f"{row['confidence'].capitalize()} confidence", coding(RISK_PROBABILITY_SYSTEM, risk)
        )
    return out


def risk_assessment(source: CaseSource, refs: Refs, basis: list[dict]) -> dict[str, Any]:
    """The AI differential: each diagnosis with its probability and ICD-10 code, the model
    version in ``method``, the tier in ``note``; ``basis`` references what it was computed from."""
    analysis = source.analysis
    version = analysis.model_version or "unknown"
    tier = analysis.tier or "refer"
    tier_title, tier_text = TIER_WORDS.get(tier, (tier.capitalize(), ""))
    notes = [f"AI tier: {tier_title}. {tier_text}".strip()]
    if analysis.confidence is not None:
        notes.append(f"Leading suggestion: {percent(analysis.confidence)}.")
    notes.append("AI results support, and never replace, the physician's judgement.")
    method = concept(f"DermaDetect AI Service, model {version}", coding(MODEL_SYSTEM, version))
    return {
        "resourceType": "RiskAssessment",
        "id": str(analysis.id),
        "identifier": [{"system": ANALYSIS_ID_SYSTEM, "value": str(analysis.id)}],
        "status": "final",
        "method": method,
        "subject": refs.to("Patient", patient_id(source)),
        "occurrenceDateTime": instant(analysis.completed_at or analysis.created_at),
        "performer": refs.to("Device", device_id(version), f"AI model {version}"),
        "basis": basis,
        "prediction": [_prediction(row) for row in analysis.predictions or []],
        "note": [{"text": text} for text in notes],
    }
