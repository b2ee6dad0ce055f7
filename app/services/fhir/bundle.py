"""A case as FHIR R4 resources, as one ``Bundle`` (type ``collection``) or as NDJSON lines.

Resources of a case, in order: ``Patient``; the ``Practitioner``s named by the case; the
``Questionnaire`` and the ``QuestionnaireResponse`` (and, when the answers changed after the
analysis, the one as analysed, which the ``RiskAssessment`` is based on); ``Observation``s of
age, Fitzpatrick skin type and, once recorded, the histology outcome; a ``Media`` per photo; and
after an analysis the AI model's ``Device``, ``Observation``s of photo quality and each red flag,
the ``RiskAssessment`` and the ``DiagnosticReport``; a ``Consent`` per recorded consent scope.
Every reference points at a resource of the same case.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from app.services.fhir import anamnesis, findings, report, subject
from app.services.fhir.consent import consents
from app.services.fhir.source import CaseSource
from app.services.fhir.terms import CASE_ID_SYSTEM, Refs, compact, instant, resource_id

#: The media type of FHIR JSON (FHIR R4 §3.1.0.1.2), with the FHIR version.
FHIR_JSON = "application/fhir+json; fhirVersion=4.0"
#: The media type of an NDJSON export (FHIR Bulk Data Access).
FHIR_NDJSON = "application/fhir+ndjson"


def _people(source: CaseSource) -> list[int]:
    case, analysis = source.case, source.analysis
    ids = [case.owner_id, case.reviewed_by_id, getattr(analysis, "requested_by_id", None)]
    ids += [record.recorded_by_id for record in source.consents]
    return list(dict.fromkeys(user_id for user_id in ids if user_id is not None))


def _analysis_resources(source: CaseSource, refs: Refs) -> list[dict[str, Any]]:
    analysis = source.analysis
    if analysis is None:
        return []
    quality = findings.quality_observation(source, refs)
    flags = findings.red_flag_observations(source, refs)
    observations = [quality, *flags] if quality is not None else flags
    basis = [refs.to("QuestionnaireResponse", anamnesis.basis_response_id(source))]
    if analysis.image_id is not None:
        basis.append(refs.to("Media", str(analysis.image_id)))
    results = [refs.to("Observation", item["id"]) for item in observations]
    risk = findings.risk_assessment(source, refs, basis)
    diagnostic = report.diagnostic_report(source, refs, results)
    device = subject.device(analysis.model_version or "unknown")
    return [device, *observations, risk, *([diagnostic] if diagnostic else [])]


def case_resources(source: CaseSource, refs: Refs) -> list[dict[str, Any]]:
    """Every resource of one case (see the module docstring), references made by ``refs``."""
    resources = [subject.patient(source)]
    resources += [subject.practitioner(source, user_id) for user_id in _people(source)]
    resources += [
        anamnesis.questionnaire(source, refs),
        anamnesis.questionnaire_response(source, refs),
    ]
    as_analysed = anamnesis.analysed_response(source, refs)
    if as_analysed is not None:
        resources.append(as_analysed)
    facts = (
        subject.age_observation(source, refs),
        subject.fitzpatrick_observation(source, refs),
        subject.histology_observation(source, refs),
    )
    resources += [fact for fact in facts if fact is not None]
    analysed = {str(source.analysis.image_id)} if source.analysis is not None else set()
    images = [image for image in source.images if str(image.id) not in analysed]
    images += [image for image in source.images if str(image.id) in analysed]
    resources += [findings.media(source, refs, image) for image in images]
    resources += _analysis_resources(source, refs)
    return [compact(resource) for resource in resources + consents(source, refs)]


def case_bundle(source: CaseSource) -> dict[str, Any]:
    """One case as a ``Bundle`` of type ``collection`` (``fullUrl`` ``urn:uuid:<id>``)."""
    refs = Refs(in_bundle=True)
    return {
        "resourceType": "Bundle",
        "id": resource_id("Bundle", source.case.id),
        "identifier": {"system": CASE_ID_SYSTEM, "value": str(source.case.id)},
        "type": "collection",
        "timestamp": instant(datetime.now(UTC)),
        "entry": [
            {"fullUrl": refs.url(resource), "resource": resource}
            for resource in case_resources(source, refs)
        ],
    }


def ndjson_lines(sources: Iterable[CaseSource]) -> Iterator[str]:
    """Every resource of every case as one NDJSON line (relative references ``Type/id``);
    a ``Practitioner`` or ``Device`` shared by several cases is written once, and so is the
    ``Patient`` of the visits of one patient (as the first of its cases has it).

    ``sources`` must come grouped by patient (``iter_case_sources`` orders them so): only the
    last ``Patient`` written is remembered, so that memory stays flat however many patients
    are exported (a set of every patient id grew with them); the users and AI models, whose
    ids are kept, are few.
    """
    refs = Refs(in_bundle=False)
    shared: set[str] = set()
    last_patient: str | None = None
    for source in sources:
        for resource in case_resources(source, refs):
            if resource["resourceType"] == "Patient":
                if resource["id"] == last_patient:
                    continue
                last_patient = resource["id"]
            elif resource["resourceType"] in ("Practitioner", "Device"):
                if resource["id"] in shared:
                    continue
                shared.add(resource["id"])
            yield json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_ndjson(sources: Iterable[CaseSource], out: TextIO) -> int:
    """Write :func:`ndjson_lines` of ``sources`` to ``out``; return how many cases were written."""
    counted = [0]

    def counting() -> Iterator[CaseSource]:
        for source in sources:
            counted[0] += 1
            yield source

    for line in ndjson_lines(counting()):
        out.write(line)
    return counted[0]
