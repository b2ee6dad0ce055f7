"""JSON API of a case for other systems: ``GET /api/cases/<id>/fhir`` (a FHIR R4 Bundle) and
``GET /api/cases/<id>/report.pdf`` (the printable report), on the ``cases_api`` blueprint.

Both answer only the case's owner and admins (404 for anyone else, as every case read) and are
audited as reads of the case.
"""

from __future__ import annotations

import json
import uuid
from typing import Literal

from flask import Response, request
from flask_jwt_extended import current_user
from pydantic import BaseModel, ConfigDict, Field

from app.blueprints.cases.api import bp
from app.blueprints.diagnosis import printing
from app.openapi import MediaResponse, spec
from app.services import fhir

_TAG = "interoperability"

#: A shortened bundle of a reviewed case, for the OpenAPI document.
BUNDLE_EXAMPLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "timestamp": "2026-12-03T10:15:00+00:00",
    "entry": [
        {
            "fullUrl": "urn:uuid:6f1c0a52-9d8e-5c2a-8f61-0d3b2a4e9c11",
            "resource": {
                "resourceType": "Patient",
                "id": "6f1c0a52-9d8e-5c2a-8f61-0d3b2a4e9c11",
                "identifier": [
                    {
                        "system": "https://dermadetect.example/fhir/sid/patient-reference",
                        "value": "PT-2026-0042",
                    }
                ],
                "gender": "female",
            },
        },
        {
            "fullUrl": "urn:uuid:0b6f7f2e-1f55-5a0e-9a0c-7c3f1f4d2b77",
            "resource": {
                "resourceType": "DiagnosticReport",
                "id": "0b6f7f2e-1f55-5a0e-9a0c-7c3f1f4d2b77",
                "status": "final",
                "code": {"text": "AI-assisted dermatology assessment"},
                "subject": {
                    "reference": "urn:uuid:6f1c0a52-9d8e-5c2a-8f61-0d3b2a4e9c11",
                    "type": "Patient",
                },
                "conclusion": "Final diagnosis: Melanoma (C43.5). Plan and notes: Excision "
                "booked. Action: Refer on the 2-week suspected-cancer pathway (urgency: high). "
                "AI results support, and never replace, the physician's judgement.",
                "conclusionCode": [
                    {
                        "text": "Melanoma",
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/sid/icd-10",
                                "code": "C43.5",
                                "display": "Melanoma",
                            }
                        ],
                    }
                ],
            },
        },
    ],
}

_BUNDLE_DOC = (
    "The case as a FHIR R4 Bundle (type collection): Patient (pseudonymous reference only), "
    "Practitioner(s), Questionnaire and QuestionnaireResponse (answers as asked), Observations "
    "(age, Fitzpatrick skin type, photo quality, one per red flag), a Media per photo (URL, "
    "never the bytes), the AI model's Device, the differential as a RiskAssessment (ICD-10 "
    "codings, model version in method) and the DiagnosticReport (preliminary, final after "
    "review, amended when changed after review). References are urn:uuid fullUrls of entries."
)


@bp.get("/cases/<uuid:case_id>/fhir")
@spec.validate(
    resp=MediaResponse(
        (401, 404),
        media={
            "application/fhir+json": {
                "schema": {"type": "object", "description": "A FHIR R4 Bundle"},
                "example": BUNDLE_EXAMPLE,
            }
        },
        description=_BUNDLE_DOC,
    ),
    tags=[_TAG],
)
def case_fhir(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Return the case as a FHIR R4 Bundle (``application/fhir+json``)."""
    bundle = fhir.bundle_of_case(
        actor=current_user, case_id=case_id, base_url=request.host_url.rstrip("/")
    )
    body = json.dumps(bundle, ensure_ascii=False)
    response = Response(body, content_type=f"{fhir.FHIR_JSON}; charset=utf-8")
    response.headers["Cache-Control"] = "private, no-store"
    return response


class ReportQuery(BaseModel):
    """``GET /api/cases/<id>/report.pdf`` query."""

    model_config = ConfigDict(extra="forbid")

    paper: Literal["a4", "letter"] = Field(default="a4", description="A4 or US Letter")


_PDF_DOC = (
    "The case report as a PDF (A4 or US Letter): the conclusion first (final diagnosis with "
    "ICD-10, plan, the headline action and triage), red flags with their rules, the analysed "
    "photo, the AI result with its tier and model version, the top 5 of the differential, "
    "photo quality, the patient and the answers as asked. Every page carries the "
    "pseudonymous reference and its page number."
)


@bp.get("/cases/<uuid:case_id>/report.pdf")
@spec.validate(
    query=ReportQuery,
    resp=MediaResponse(
        (401, 404, 422, 503),
        media={
            "application/pdf": {
                "schema": {"type": "string", "format": "binary"},
                "example": "%PDF-1.7 … (binary)",
            }
        },
        description=_PDF_DOC,
    ),
    tags=[_TAG],
)
def case_report_pdf(case_id: uuid.UUID, query: ReportQuery):  # type: ignore[no-untyped-def]
    """Return the case report as a PDF (``application/pdf``)."""
    paper = printing.paper_size(query.paper)
    return printing.report_pdf(actor=current_user, case_id=case_id, paper=paper)
