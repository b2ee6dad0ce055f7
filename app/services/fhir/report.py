"""The case's ``DiagnosticReport``: preliminary after the AI analysis, final once a physician has
reviewed it, amended when the case changed after a review (FHIR R4 ``DiagnosticReportStatus``:
"amended: subsequent to being final, the report has been modified").
"""

from __future__ import annotations

from typing import Any

from app.services.clinical_record.words import percent
from app.services.fhir.source import CaseSource
from app.services.fhir.subject import patient_id, practitioner_ref
from app.services.fhir.terms import (
    CASE_ID_SYSTEM,
    FINDING_SYSTEM,
    ICD10_SYSTEM,
    Refs,
    coding,
    concept,
    instant,
    resource_id,
)
from app.services.report.content import headline, report_state

REPORT_CODE = coding(FINDING_SYSTEM, "dermatology-assessment", "AI-assisted dermatology assessment")


def report_status(source: CaseSource) -> str:
    """``final`` (reviewed), ``amended`` (changed after a review) or ``preliminary``
    (:func:`app.services.report.content.report_state` of a case with a completed analysis)."""
    state = report_state(source.case, reopened=source.reopened)
    return "preliminary" if state == "draft" else state


def _conclusion(source: CaseSource, status: str) -> str:
    case, analysis = source.case, source.analysis
    lines = []
    if case.reviewed_at is not None:
        code = f" ({case.final_icd10})" if case.final_icd10 else ""
        lines.append(f"Final diagnosis: {case.final_diagnosis}{code}.")
        if case.review_notes:
            lines.append(f"Plan and notes: {case.review_notes}")
        if status == "amended":
            waiting = "; it awaits a new review" if case.status != "reviewed" else ""
            lines.append(f"The case changed after a physician's review{waiting}.")
    else:
        lines.append("Preliminary: not yet reviewed by a physician.")
    top = (analysis.predictions or [{}])[0]
    if top.get("disease"):
        lines.append(f"AI leading suggestion: {top['disease']} {percent(top.get('probability'))}.")
    action = headline(analysis)
    if action is not None:
        lines.append(f"Action: {action.action_text} (urgency: {action.urgency}).")
    lines.append("AI results support, and never replace, the physician's judgement.")
    return " ".join(lines)


def diagnostic_report(
    source: CaseSource, refs: Refs, results: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The report of the newest completed analysis (``None`` before any): status, conclusion,
    ``conclusionCode`` (the reviewed ICD-10 code), the physician as ``performer``, the
    Observations as ``result`` and the analysed photo as ``media``."""
    case, analysis = source.case, source.analysis
    if analysis is None:
        return None
    status = report_status(source)
    reviewer = case.reviewed_by_id if case.reviewed_at is not None else None
    physician = reviewer or analysis.requested_by_id or case.owner_id
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": resource_id("DiagnosticReport", case.id),
        "identifier": [{"system": CASE_ID_SYSTEM, "value": str(case.id)}],
        "status": status,
        "category": [concept("Dermatology")],
        "code": concept(REPORT_CODE["display"], REPORT_CODE),
        "subject": refs.to("Patient", patient_id(source)),
        "effectiveDateTime": instant(analysis.completed_at or analysis.created_at),
        "issued": instant(case.reviewed_at or analysis.completed_at or analysis.created_at),
        "performer": [practitioner_ref(refs, source, physician)],
        "result": results,
        "conclusion": _conclusion(source, status),
    }
    if reviewer is not None:
        resource["resultsInterpreter"] = [practitioner_ref(refs, source, reviewer)]
    if analysis.image_id is not None:
        resource["media"] = [
            {
                "comment": "The photo the AI analysed",
                "link": refs.to("Media", str(analysis.image_id)),
            }
        ]
    if case.reviewed_at is not None and case.final_icd10:
        final = coding(ICD10_SYSTEM, case.final_icd10, case.final_diagnosis)
        resource["conclusionCode"] = [concept(case.final_diagnosis, final)]
    return resource
