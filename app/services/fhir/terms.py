"""Identifiers, code systems and references of the FHIR mapping.

Resource ids are UUIDs derived (RFC 4122 version 5) from the case's own ids, so exporting a case
twice gives the same ids and a receiving record can update instead of duplicating.

References take one of two forms (:class:`Refs`): inside a ``Bundle`` every entry's ``fullUrl``
is ``urn:uuid:<id>`` and references use it (FHIR R4 §2.36.4.1, resolving references in bundles);
in NDJSON (FHIR Bulk Data) each line stands alone and references are relative, ``Type/<id>``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

#: Our own namespace for identifiers and codes that no standard terminology covers. A
#: deployment that publishes these systems would put its own domain here.
SYSTEM_BASE = "https://dermadetect.example/fhir"
PATIENT_REFERENCE_SYSTEM = f"{SYSTEM_BASE}/sid/patient-reference"
CASE_ID_SYSTEM = f"{SYSTEM_BASE}/sid/case-id"
USER_ID_SYSTEM = f"{SYSTEM_BASE}/sid/user-id"
IMAGE_ID_SYSTEM = f"{SYSTEM_BASE}/sid/image-id"
ANALYSIS_ID_SYSTEM = f"{SYSTEM_BASE}/sid/analysis-id"
CODES = f"{SYSTEM_BASE}/CodeSystem"
BODY_SITE_SYSTEM = f"{CODES}/body-site"
FITZPATRICK_SYSTEM = f"{CODES}/fitzpatrick-skin-type"
RED_FLAG_SYSTEM = f"{CODES}/red-flag"
SEVERITY_SYSTEM = f"{CODES}/red-flag-severity"
FINDING_SYSTEM = f"{CODES}/finding"
MODEL_SYSTEM = f"{CODES}/ai-model-version"

#: Standard systems (FHIR R4 terminology pages).
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
URI_SYSTEM = "urn:ietf:rfc:3986"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
MEDIA_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/media-type"
RISK_PROBABILITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/risk-probability"

#: The namespace of the derived resource ids (a fixed, random UUID: never change it).
_NAMESPACE = uuid.UUID("3b7f1c2e-5d0a-4c55-9a51-7a8e2b0c6d14")


def resource_id(*parts: object) -> str:
    """A stable resource id derived from ``parts`` (e.g. ``("Patient", case_id)``)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(part) for part in parts)))


class Refs:
    """Makes references to resources, as a bundle (``urn:uuid:``) or NDJSON (``Type/id``)."""

    def __init__(self, *, in_bundle: bool) -> None:
        self.in_bundle = in_bundle

    def url(self, resource: dict[str, Any]) -> str:
        """The ``fullUrl`` of ``resource`` in a bundle (``urn:uuid:<id>``)."""
        return f"urn:uuid:{resource['id']}"

    def to(self, resource_type: str, resource_id_: str, display: str | None = None) -> dict:
        """A ``Reference`` to the resource ``resource_type``/``resource_id_``."""
        reference = (
            f"urn:uuid:{resource_id_}" if self.in_bundle else f"{resource_type}/{resource_id_}"
        )
        out: dict[str, Any] = {"reference": reference, "type": resource_type}
        if display:
            out["display"] = display
        return out

    def canonical(self, resource_type: str, resource_id_: str) -> str:
        """A canonical URL to a conformance resource (the ``Questionnaire``): its ``url``."""
        return f"urn:uuid:{resource_id_}"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A ``Coding``."""
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(text: str, *codings: dict[str, Any]) -> dict[str, Any]:
    """A ``CodeableConcept`` with ``text`` and the given codings."""
    out: dict[str, Any] = {"text": text}
    if codings:
        out["coding"] = list(codings)
    return out


def instant(moment: datetime | None) -> str | None:
    """An aware ``datetime`` as a FHIR ``instant``/``dateTime`` (ISO 8601 in UTC, ``Z``), or
    ``None``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def compact(value: Any) -> Any:
    """``value`` without ``None``, empty strings, empty lists and empty objects, at any depth:
    FHIR JSON forbids empty arrays and objects and null values (R4 §2.6.2, JSON)."""
    if isinstance(value, dict):
        kept = {key: compact(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        kept_items = [compact(item) for item in value]
        return [item for item in kept_items if item not in (None, "", [], {})]
    return value
