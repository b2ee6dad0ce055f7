"""FHIR after issue #17: a patient is a record of its own, so the visits of one patient (cases of
one patient record) name one ``Patient`` in their bundles and in the NDJSON export, where it is
written once; another patient is another ``Patient``. PostgreSQL, no AI needed (draft cases)."""

from __future__ import annotations

import json

from tests.fhir_checks import references, round_trip
from tests.fixtures.cases import case_payload
from tests.test_cli_export import _export


def _patient_ids(bundle: dict) -> list[str]:
    return [
        entry["resource"]["id"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Patient"
    ]


def test_the_visits_of_one_patient_name_one_fhir_patient(client, app, make_user, api_headers):
    headers = api_headers(make_user())
    ids = [
        client.post("/api/cases", json=case_payload(patient_reference=ref), headers=headers)
        for ref in ("PT-FHIR-1", "PT-FHIR-1", "PT-FHIR-2")
    ]
    assert [response.status_code for response in ids] == [201, 201, 201]
    first, second, other = (response.get_json() for response in ids)
    assert first["patient_id"] == second["patient_id"] != other["patient_id"]

    bundles = [
        client.get(f"/api/cases/{case['id']}/fhir", headers=headers).get_json(force=True)
        for case in (first, second, other)
    ]
    [one], [same], [another] = (_patient_ids(bundle) for bundle in bundles)
    assert one == same != another

    result = _export(app, "--format", "fhir")
    assert result.exit_code == 0, result.output
    resources = [json.loads(line) for line in result.stdout.splitlines()]
    for resource in resources:
        round_trip(resource)
    present = {f"{r['resourceType']}/{r['id']}" for r in resources}
    assert len(present) == len(resources)  # every resource once, the shared Patient too
    assert set(references(resources)) <= present
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    assert sorted(p["identifier"][0]["value"] for p in patients) == ["PT-FHIR-1", "PT-FHIR-2"]
