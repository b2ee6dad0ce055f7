"""The consent in the exports and FHIR: every export record carries it, ``--purpose teaching``
keeps only the cases whose teaching/research consent is currently granted (all formats), and
the FHIR bundle and NDJSON carry a valid R4 ``Consent`` per recorded scope."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from app.services import consent
from tests.fhir_checks import check_bundle, references, round_trip


def _export(app, *args):
    return app.test_cli_runner().invoke(args=["cases", "export", *args])


def _record(app, user, case_id, **decisions):
    with app.app_context():
        consent.record_consent(
            actor=db.session.get(User, user.id), case_id=case_id, decisions=decisions
        )
        db.session.remove()


@pytest.fixture
def people(make_user):
    return make_user(full_name="Dr. Owner"), make_user(role="admin", full_name="Dr. Admin")


@pytest.fixture
def four_cases(app, people, make_case):
    """Granted, withdrawn (granted then refused), never asked, and granted by another owner's
    admin-recorded consent; ids by patient reference."""
    owner, admin = people
    ids = {ref: make_case(owner, patient_reference=ref) for ref in ("PT-T1", "PT-T2", "PT-T3")}
    ids["PT-T4"] = make_case(admin, patient_reference="PT-T4")
    _record(app, owner, ids["PT-T1"], teaching_research="granted", ai_analysis="granted")
    _record(app, owner, ids["PT-T2"], teaching_research="granted")
    _record(app, owner, ids["PT-T2"], teaching_research="refused")  # withdrawn
    _record(app, admin, ids["PT-T4"], teaching_research="granted", image_storage="refused")
    return ids


def test_every_export_record_carries_the_consent(app, four_cases):
    result = _export(app, "--format", "json")
    assert result.exit_code == 0, result.output
    records = {r["patient_reference"]: r for r in json.loads(result.stdout)}
    assert set(records) == {"PT-T1", "PT-T2", "PT-T3", "PT-T4"}  # records: every case
    assert records["PT-T1"]["consent"] == {
        "ai_analysis": "granted",
        "image_storage": None,
        "teaching_research": "granted",
    }
    assert records["PT-T2"]["consent"]["teaching_research"] == "refused"
    assert records["PT-T3"]["consent"] == dict.fromkeys(consent.CONSENT_SCOPES)


@pytest.mark.parametrize("fmt", ["json", "csv", "fhir"])
def test_purpose_teaching_exports_only_cases_with_teaching_consent_granted(app, four_cases, fmt):
    result = _export(app, "--format", fmt, "--purpose", "teaching")
    assert result.exit_code == 0, result.output
    assert "Exported 2 cases whose patient granted teaching/research use" in result.stderr
    if fmt == "json":
        found = [r["patient_reference"] for r in json.loads(result.stdout)]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        found = [row["patient_reference"] for row in rows]
        assert [row["consent_teaching_research"] for row in rows] == ["granted", "granted"]
        assert [row["consent_image_storage"] for row in rows] == ["", "refused"]
    else:
        resources = [json.loads(line) for line in result.stdout.splitlines()]
        found = [r["identifier"][0]["value"] for r in resources if r["resourceType"] == "Patient"]
        for resource in resources:
            round_trip(resource)
        present = {f"{r['resourceType']}/{r['id']}" for r in resources}
        assert all(ref in present for ref in references(resources))
        kinds = sorted(
            (r["category"][0]["coding"][1]["code"], r["provision"]["type"])
            for r in resources
            if r["resourceType"] == "Consent"
        )
        assert kinds == [
            ("ai_analysis", "permit"),
            ("image_storage", "deny"),
            ("teaching_research", "permit"),
            ("teaching_research", "permit"),
        ]
    assert found == ["PT-T1", "PT-T4"]  # never asked, refused and withdrawn: left out
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case.export")
        ).one()
        assert (event.details["purpose"], event.details["cases"]) == ("teaching", 2)
        db.session.remove()


def test_an_unknown_purpose_is_refused_before_anything_is_written(app):
    result = _export(app, "--purpose", "marketing")
    assert result.exit_code == 2
    assert "marketing" in result.output
    with app.app_context():
        assert db.session.scalars(select(AuditEvent)).all() == []
        db.session.remove()


def test_the_fhir_bundle_has_a_consent_per_recorded_scope(
    client, app, people, make_case, api_headers
):
    owner, admin = people
    case_id = make_case(owner)
    headers = api_headers(owner)
    bundle = client.get(f"/api/cases/{case_id}/fhir", headers=headers).get_json()
    assert "Consent" not in check_bundle(bundle)  # none recorded, none exported

    _record(app, owner, case_id, ai_analysis="granted", image_storage="granted")
    _record(app, admin, case_id, image_storage="refused", teaching_research="refused")
    bundle = client.get(f"/api/cases/{case_id}/fhir", headers=headers).get_json()
    by_type = check_bundle(bundle)  # every resource valid (R4B), every reference resolvable
    found = {c["category"][0]["coding"][1]["code"]: c for c in by_type["Consent"]}
    assert set(found) == set(consent.CONSENT_SCOPES)
    ai, images, teaching = (found[scope] for scope in consent.CONSENT_SCOPES)
    assert (ai["provision"]["type"], ai["policyRule"]["coding"][0]["code"]) == ("permit", "OPTIN")
    assert ai["scope"]["coding"][0]["code"] == "treatment"
    assert images["provision"]["type"] == "deny"  # the newest decision, the admin's
    assert images["performer"][1]["display"] == "Dr. Admin"
    assert teaching["scope"]["coding"][0]["code"] == "research"
    assert teaching["provision"]["purpose"][0]["code"] == "HRESCH"
    names = {p["name"][0]["text"] for p in by_type["Practitioner"]}
    assert {"Dr. Owner", "Dr. Admin"} <= names
    patient = by_type["Patient"][0]
    assert all(c["patient"]["reference"] == f"urn:uuid:{patient['id']}" for c in found.values())
    assert uuid.UUID(ai["id"])
