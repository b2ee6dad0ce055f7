"""The people and the device of a case: ``Patient``, ``Practitioner``, ``Device`` (the AI model),
and the patient facts recorded as ``Observation``s (age, Fitzpatrick skin type).

Each function maps one resource from a :class:`~app.services.fhir.source.CaseSource` to a FHIR R4
JSON object (a ``dict``).
"""

from __future__ import annotations

from typing import Any

from app.services.clinical_record.words import fitzpatrick_label
from app.services.fhir.source import CaseSource
from app.services.fhir.terms import (
    CASE_ID_SYSTEM,
    FITZPATRICK_SYSTEM,
    ICD10_SYSTEM,
    LOINC_SYSTEM,
    MODEL_SYSTEM,
    OBSERVATION_CATEGORY_SYSTEM,
    PATIENT_REFERENCE_SYSTEM,
    UCUM_SYSTEM,
    USER_ID_SYSTEM,
    Refs,
    coding,
    concept,
    instant,
    resource_id,
)

#: Our sexes are FHIR's AdministrativeGender codes (male | female | other | unknown).
_GENDERS = frozenset({"male", "female", "other", "unknown"})

#: LOINC 30525-0 "Age"; LOINC 66555-4 "Skin type [Fitzpatrick Classification Scale]".
AGE_CODE = coding(LOINC_SYSTEM, "30525-0", "Age")
FITZPATRICK_CODE = coding(LOINC_SYSTEM, "66555-4", "Skin type [Fitzpatrick Classification Scale]")
#: LOINC 22637-3 "Pathology report final diagnosis Narrative".
HISTOLOGY_CODE = coding(LOINC_SYSTEM, "22637-3", "Pathology report final diagnosis Narrative")


def patient_id(source: CaseSource) -> str:
    """The id of the case's ``Patient``: from the patient record the case belongs to (issue
    #17: the visits of one patient name one ``Patient``), from the case for a case without
    one."""
    return resource_id("Patient", source.case.patient_id or source.case.id)


def patient(source: CaseSource) -> dict[str, Any]:
    """The ``Patient``: only the pseudonymous reference (in our own identifier system) and sex.

    Never a name, an address or a date of birth: the gateway holds none. The age, known only in
    whole years at the time of the case, is an ``Observation`` (:func:`age_observation`).
    """
    case = source.case
    # The patient record's reference (one Patient, one identifier), the case's without a record.
    reference = getattr(case, "patient_record_reference", None) or case.patient_reference
    return {
        "resourceType": "Patient",
        "id": patient_id(source),
        "identifier": [{"system": PATIENT_REFERENCE_SYSTEM, "value": reference}],
        "gender": case.patient_sex if case.patient_sex in _GENDERS else "unknown",
    }


def practitioner_id(user_id: int) -> str:
    """The id of the ``Practitioner`` for one of our users."""
    return resource_id("Practitioner", user_id)


def practitioner(source: CaseSource, user_id: int) -> dict[str, Any]:
    """A physician of the case (owner or reviewer): our user id and the full name."""
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": practitioner_id(user_id),
        "identifier": [{"system": USER_ID_SYSTEM, "value": str(user_id)}],
    }
    name = source.people.get(user_id)
    if name:
        resource["name"] = [{"text": name}]
    return resource


def practitioner_ref(refs: Refs, source: CaseSource, user_id: int) -> dict[str, Any]:
    """A reference to :func:`practitioner` ``user_id``, with the name as display."""
    return refs.to("Practitioner", practitioner_id(user_id), source.people.get(user_id))


def device_id(model_version: str) -> str:
    """The id of the ``Device`` for one AI model version."""
    return resource_id("Device", model_version)


def device(model_version: str) -> dict[str, Any]:
    """The AI model that computed an analysis, named by its version."""
    return {
        "resourceType": "Device",
        "id": device_id(model_version),
        "identifier": [{"system": MODEL_SYSTEM, "value": model_version}],
        "deviceName": [{"name": "DermaDetect AI Service", "type": "user-friendly-name"}],
        "version": [{"value": model_version}],
        "note": [{"text": "AI results support, and never replace, the physician's judgement."}],
    }


def _observation(source: CaseSource, refs: Refs, key: str, code: dict) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": resource_id(key, source.case.id),
        "identifier": [{"system": CASE_ID_SYSTEM, "value": str(source.case.id)}],
        "status": "final",
        "category": [concept("Exam", coding(OBSERVATION_CATEGORY_SYSTEM, "exam", "Exam"))],
        "code": concept(code["display"], code),
        "subject": refs.to("Patient", patient_id(source)),
        "effectiveDateTime": instant(source.case.created_at),
    }


def age_observation(source: CaseSource, refs: Refs) -> dict[str, Any] | None:
    """The patient's age in whole years when the case was opened (``None`` when unknown)."""
    age = source.case.patient_age
    if age is None:
        return None
    resource = _observation(source, refs, "age", AGE_CODE)
    resource["category"] = [
        concept("Social history", coding(OBSERVATION_CATEGORY_SYSTEM, "social-history"))
    ]
    resource["valueQuantity"] = {"value": age, "unit": "years", "system": UCUM_SYSTEM, "code": "a"}
    return resource


def fitzpatrick_observation(source: CaseSource, refs: Refs) -> dict[str, Any] | None:
    """The Fitzpatrick skin type I–VI (Fitzpatrick TB, Arch Dermatol 1988;124:869–871), or
    ``None`` when not recorded."""
    skin_type = source.case.fitzpatrick_type
    if not skin_type:
        return None
    resource = _observation(source, refs, "fitzpatrick", FITZPATRICK_CODE)
    label = fitzpatrick_label(skin_type)
    resource["valueCodeableConcept"] = concept(
        f"Type {label}", coding(FITZPATRICK_SYSTEM, skin_type, f"Type {skin_type}")
    )
    return resource


def histology_observation(source: CaseSource, refs: Refs) -> dict[str, Any] | None:
    """The newest histology outcome (``None`` before one is recorded): the pathologist's
    diagnosis with its ICD-10 code, dated by the pathology report, with the free text and
    whether the lesion was excised as notes (category ``laboratory``; LOINC 22637-3)."""
    outcome = source.outcome
    if outcome is None:
        return None
    resource = _observation(source, refs, "histology", HISTOLOGY_CODE)
    resource["category"] = [
        concept("Laboratory", coding(OBSERVATION_CATEGORY_SYSTEM, "laboratory", "Laboratory"))
    ]
    resource["effectiveDateTime"] = outcome.outcome_date.isoformat()
    resource["issued"] = instant(outcome.recorded_at)
    codes = [coding(ICD10_SYSTEM, outcome.icd10, outcome.diagnosis)] if outcome.icd10 else []
    resource["valueCodeableConcept"] = concept(outcome.diagnosis, *codes)
    notes = ["The lesion was excised." if outcome.excised else "Not recorded as excised."]
    if outcome.notes:
        notes.append(outcome.notes)
    resource["note"] = [{"text": text} for text in notes]
    return resource
