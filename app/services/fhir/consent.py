"""The patient's consent as FHIR R4 ``Consent`` resources: one per recorded scope (its current
decision), none for a scope never recorded.

Mapping (FHIR R4 Consent, https://hl7.org/fhir/R4/consent.html):

- ``scope``: ``treatment`` for AI analysis, ``patient-privacy`` for image storage, ``research``
  for teaching/research use (CodeSystem ``consentscope``);
- ``category``: LOINC 59284-0 "Patient Consent", with our own scope code beside it;
- ``policyRule`` (invariant ppc-1 asks for a policy or a rule): v3-ActCode ``OPTIN`` for a
  granted, ``OPTOUT`` for a refused decision;
- ``provision.type``: ``permit`` (granted) or ``deny`` (refused); ``provision.purpose``:
  v3-ActReason ``TREAT`` (AI analysis, image storage) or ``HRESCH`` (healthcare research);
- ``performer``: the patient (the grantor) and the physician who recorded the decision;
  ``dateTime``: when it was recorded.
"""

from __future__ import annotations

from typing import Any

from app.services.fhir.source import CaseSource
from app.services.fhir.subject import patient_id, practitioner_ref
from app.services.fhir.terms import CODES, LOINC_SYSTEM, Refs, coding, concept, instant, resource_id

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#: Our own code of each scope (ai_analysis, image_storage, teaching_research).
OUR_SCOPE_SYSTEM = f"{CODES}/consent-scope"

#: scope → (our words, FHIR consent scope code and display, purpose of use code and display).
_SCOPES = {
    "ai_analysis": (
        "AI analysis of the answers and the photo",
        ("treatment", "Treatment"),
        ("TREAT", "treatment"),
    ),
    "image_storage": (
        "Storage of the lesion photo with the case",
        ("patient-privacy", "Privacy Consent"),
        ("TREAT", "treatment"),
    ),
    "teaching_research": (
        "Use of the pseudonymised case for teaching and research",
        ("research", "Research"),
        ("HRESCH", "healthcare research"),
    ),
}


def consent_id(source: CaseSource, scope: str) -> str:
    """The id of the case's ``Consent`` for ``scope``."""
    return resource_id("Consent", source.case.id, scope)


def consent(source: CaseSource, refs: Refs, record: Any) -> dict[str, Any]:
    """The ``Consent`` of one recorded decision (a ``case_consents`` row)."""
    words, (scope_code, scope_display), (purpose, purpose_display) = _SCOPES[record.scope]
    granted = record.decision == "granted"
    performer = [refs.to("Patient", patient_id(source))]
    if record.recorded_by_id is not None:
        performer.append(practitioner_ref(refs, source, record.recorded_by_id))
    return {
        "resourceType": "Consent",
        "id": consent_id(source, record.scope),
        "status": "active",
        "scope": concept(words, coding(CONSENT_SCOPE_SYSTEM, scope_code, scope_display)),
        "category": [
            concept(
                "Patient consent",
                coding(LOINC_SYSTEM, "59284-0", "Patient Consent"),
                coding(OUR_SCOPE_SYSTEM, record.scope),
            )
        ],
        "patient": refs.to("Patient", patient_id(source)),
        "dateTime": instant(record.recorded_at),
        "performer": performer,
        "policyRule": concept(
            "Granted" if granted else "Refused",
            coding(ACT_CODE_SYSTEM, "OPTIN" if granted else "OPTOUT"),
        ),
        "provision": {
            "type": "permit" if granted else "deny",
            "purpose": [coding(ACT_REASON_SYSTEM, purpose, purpose_display)],
        },
    }


def consents(source: CaseSource, refs: Refs) -> list[dict[str, Any]]:
    """A ``Consent`` per recorded scope of the case (``[]`` when none is recorded)."""
    return [consent(source, refs, record) for record in source.consents]
