"""GET /api/cases/<id>/fhir: a case as a FHIR R4 Bundle, at each step of its life.

Every resource is validated by the ``fhir.resources`` R4B models and serialised back unchanged
(tests/fhir_checks.py); the values are compared with what the API itself says about the case.
Cases go through the real API and the reference AI over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent
from tests.fhir_checks import check_bundle, round_trip
from tests.fixtures.cases import MELANOMA, case_payload
from tests.fixtures.portal import csrf_token

ANSWERS = {
    "duration": "3-12 months",
    "changed_recently": True,
    "color": ["brown", "black"],
    "bleeding": True,
    "diameter_mm": 7.5,
    "itch.scale_0_to_5": 2,
    "photo_taken": True,
}
FHIR_TYPE = "application/fhir+json"


def fhir_of(client: FlaskClient, case_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/api/cases/{case_id}/fhir", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == FHIR_TYPE
    assert response.headers["Cache-Control"] == "private, no-store"
    return json.loads(response.get_data(as_text=True))


def diagnose(client: FlaskClient, headers: dict[str, str], case_id: str) -> dict[str, Any]:
    response = client.post(
        "/api/diagnosis",
        data={
            "image": (io.BytesIO(MELANOMA.read_bytes()), MELANOMA.name, "image/jpeg"),
            "anamnesis": json.dumps(ANSWERS),
            "case_id": case_id,
        },
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def physician(make_user: Callable[..., Any]) -> Any:
    return make_user(email="ana@example.org", full_name="Dr. Ana Lima")


@pytest.fixture
def headers(physician: Any, api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return api_headers(physician)


@pytest.fixture
def case_id(ai_client: FlaskClient, headers: dict[str, str]) -> str:
    response = ai_client.post(
        "/api/cases", json=case_payload(patient_reference="PT-FHIR-7"), headers=headers
    )
    assert response.status_code == 201
    return response.get_json()["id"]


def post_review(
    client: FlaskClient, headers: dict[str, str], case_id: str, review: dict[str, Any]
) -> None:
    response = client.post(f"/api/cases/{case_id}/review", json=review, headers=headers)
    assert response.status_code == 200, response.get_json()


def _code(resource: dict[str, Any]) -> str:
    return resource["code"]["coding"][0]["code"]


def _one(by_type: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    [resource] = by_type[kind]
    return resource


def test_a_draft_case_has_the_patient_and_the_answers_so_far(
    ai_client: FlaskClient, headers: dict[str, str], case_id: str, physician: Any
) -> None:
    answers = {"duration": "3-12 months", "bleeding": False, "color": [], "pain": ""}
    for field, value in answers.items():  # one at a time: the order of asking
        one = {field: value}
        posted = ai_client.post(f"/api/cases/{case_id}/answers", json=one, headers=headers)
        assert posted.status_code == 200
    bundle = fhir_of(ai_client, case_id, headers)
    by_type = check_bundle(bundle)

    assert set(by_type) == {
        "Patient",
        "Practitioner",
        "Questionnaire",
        "QuestionnaireResponse",
        "Observation",
    }
    patient = _one(by_type, "Patient")
    assert set(patient) == {"resourceType", "id", "identifier", "gender"}  # never a name
    assert patient["identifier"][0]["value"] == "PT-FHIR-7"
    assert patient["gender"] == "female"
    assert _one(by_type, "Practitioner")["name"] == [{"text": "Dr. Ana Lima"}]

    response = _one(by_type, "QuestionnaireResponse")
    assert response["status"] == "in-progress"
    items = {item["linkId"]: item for item in response["item"]}
    # in the order asked, after the facts the case was opened with
    assert list(items) == ["age", "sex", "location1.primary", *answers]
    assert items["bleeding"]["answer"] == [{"valueBoolean": False}]
    assert items["duration"]["text"] == "Duration"
    assert "answer" not in items["pain"]  # skipped
    questions = [item["linkId"] for item in _one(by_type, "Questionnaire")["item"]]
    assert questions == [item["linkId"] for item in response["item"]]

    observed = {obs["code"]["coding"][0]["code"]: obs for obs in by_type["Observation"]}
    assert observed["30525-0"]["valueQuantity"]["value"] == 54  # age, LOINC
    assert observed["66555-4"]["valueCodeableConcept"]["coding"][0]["code"] == "II"
    assert "@" not in json.dumps(bundle)  # no email of anyone


def test_an_analysed_case_has_a_preliminary_report_with_the_ai_findings(
    ai_client: FlaskClient, headers: dict[str, str], case_id: str
) -> None:
    result = diagnose(ai_client, headers, case_id)
    case = ai_client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    analysis = case["latest_analysis"]
    by_type = check_bundle(fhir_of(ai_client, case_id, headers))

    report = _one(by_type, "DiagnosticReport")
    assert report["status"] == "preliminary"
    assert "conclusionCode" not in report
    assert report["conclusion"].startswith("Preliminary: not yet reviewed by a physician.")
    assert "never replace" in report["conclusion"]

    risk = _one(by_type, "RiskAssessment")
    assert analysis["model_version"] in risk["method"]["text"]
    assert risk["method"]["coding"][0]["code"] == analysis["model_version"]
    predicted = [
        (p["outcome"]["text"], p["probabilityDecimal"], p["outcome"].get("coding", [{}])[0])
        for p in risk["prediction"]
    ]
    assert [(name, prob) for name, prob, _ in predicted] == [
        (p["disease"], p["probability"]) for p in result["predictions"]
    ]
    for (_, _, code), row in zip(predicted, result["predictions"], strict=True):
        assert code.get("code") == row.get("icd10")
        if row.get("icd10"):
            assert code["system"] == "http://hl7.org/fhir/sid/icd-10"

    [media] = by_type["Media"]
    [image] = case["images"]
    content = media["content"]
    assert "data" not in content  # a URL, never the bytes
    assert content["url"] == f"http://localhost{image['url']}"
    assert (content["contentType"], content["size"]) == ("image/jpeg", image["size_bytes"])
    ni = next(i["value"] for i in media["identifier"] if i["value"].startswith("ni:"))
    digest = base64.urlsafe_b64decode(ni.removeprefix("ni:///sha-256;") + "=")
    assert digest.hex() == image["sha256"]
    photo = ai_client.get(image["url"], headers=headers)
    assert hashlib.sha256(photo.data).hexdigest() == image["sha256"]
    assert media["bodySite"]["coding"][0]["code"] == "back"
    assert report["media"][0]["link"]["reference"] == f"urn:uuid:{media['id']}"

    flags = analysis["red_flags"]["flags"]
    assert flags, "the answers (bleeding, change) raise red flags"
    flag_obs = [o for o in by_type["Observation"] if "red-flag" in o["code"]["coding"][0]["system"]]
    assert [o["code"]["coding"][0]["code"] for o in flag_obs] == [f["type"] for f in flags]
    for obs, flag in zip(flag_obs, flags, strict=True):
        assert obs["valueCodeableConcept"]["coding"][0]["code"] == flag["severity"]
        if flag.get("rule"):
            assert f"Rule: {flag['rule']}" in obs["note"][0]["text"]
    [quality] = [o for o in by_type["Observation"] if _code(o) == "image-quality"]
    assert quality["valueQuantity"]["value"] == round(analysis["image_validity"]["score"] * 100, 1)
    results = {ref["reference"] for ref in report["result"]}
    assert results == {f"urn:uuid:{o['id']}" for o in [quality, *flag_obs]}

    response = _one(by_type, "QuestionnaireResponse")
    assert response["status"] == "completed"
    assert "photo_taken" not in {item["linkId"] for item in response["item"]}  # the photo step
    assert _one(by_type, "Device")["version"] == [{"value": analysis["model_version"]}]


def test_a_reviewed_case_has_a_final_report_coded_with_the_reviewed_icd10(
    ai_client: FlaskClient, headers: dict[str, str], case_id: str
) -> None:
    diagnose(ai_client, headers, case_id)
    review = {
        "final_diagnosis": "Melanoma",
        "icd10": "C43.5",
        "agreement": "in_differential",
        "notes": "Excision booked.",
    }
    post_review(ai_client, headers, case_id, review)
    by_type = check_bundle(fhir_of(ai_client, case_id, headers))

    report = _one(by_type, "DiagnosticReport")
    assert report["status"] == "final"
    [code] = report["conclusionCode"]
    assert code["coding"] == [
        {"system": "http://hl7.org/fhir/sid/icd-10", "code": "C43.5", "display": "Melanoma"}
    ]
    assert report["conclusion"].startswith("Final diagnosis: Melanoma (C43.5).")
    assert "Plan and notes: Excision booked." in report["conclusion"]
    assert report["performer"][0]["display"] == "Dr. Ana Lima"
    assert report["resultsInterpreter"] == report["performer"]


def test_a_histology_outcome_is_a_coded_laboratory_observation(
    app: Flask, ai_client: FlaskClient, headers: dict[str, str], case_id: str
) -> None:
    diagnose(ai_client, headers, case_id)
    with app.app_context():  # the visit was in November: its reports may follow it
        db.session.execute(
            text("UPDATE cases SET created_at = '2026-11-02T10:00:00+00:00' WHERE id = :id"),
            {"id": case_id},
        )
        db.session.commit()
    review = {"final_diagnosis": "Melanoma", "icd10": "C43.5", "agreement": "top1"}
    post_review(ai_client, headers, case_id, review)
    before = check_bundle(fhir_of(ai_client, case_id, headers))
    assert "22637-3" not in {_code(item) for item in before["Observation"]}
    outcomes = (
        {"diagnosis": "Compound nevus", "icd10": "D22.5", "outcome_date": "2026-11-18"},
        {
            "diagnosis": "Melanoma in situ",
            "icd10": "D03.5",
            "outcome_date": "2026-11-20",
            "notes": "Margins clear.",
            "excised": True,
        },
    )
    for outcome in outcomes:
        response = ai_client.post(f"/api/cases/{case_id}/outcome", json=outcome, headers=headers)
        assert response.status_code == 201, response.get_json()

    by_type = check_bundle(fhir_of(ai_client, case_id, headers))
    [histology] = [item for item in by_type["Observation"] if _code(item) == "22637-3"]
    assert histology["category"][0]["coding"][0]["code"] == "laboratory"
    assert histology["effectiveDateTime"] == "2026-11-20"  # the newest outcome counts
    assert histology["valueCodeableConcept"] == {
        "text": "Melanoma in situ",
        "coding": [
            {
                "system": "http://hl7.org/fhir/sid/icd-10",
                "code": "D03.5",
                "display": "Melanoma in situ",
            }
        ],
    }
    assert [note["text"] for note in histology["note"]] == [
        "The lesion was excised.",
        "Margins clear.",
    ]
    patient = _one(by_type, "Patient")
    assert histology["subject"]["reference"].endswith(patient["id"])


def test_a_case_analysed_again_after_its_review_has_an_amended_report(
    ai_client: FlaskClient, headers: dict[str, str], case_id: str
) -> None:
    diagnose(ai_client, headers, case_id)
    review = {"final_diagnosis": "Melanoma", "icd10": "C43.9", "agreement": "top1"}
    post_review(ai_client, headers, case_id, review)
    # A reviewed case is signed (#12): it is reopened, with a reason, before a re-analysis.
    reopened = ai_client.post(
        f"/api/cases/{case_id}/reopen", json={"reason": "New photo quality"}, headers=headers
    )
    assert reopened.status_code == 200, reopened.get_json()
    again = ai_client.post(f"/api/cases/{case_id}/analyze", json={}, headers=headers)
    assert again.status_code == 200, again.get_json()

    report = _one(check_bundle(fhir_of(ai_client, case_id, headers)), "DiagnosticReport")
    assert report["status"] == "amended"
    assert "awaits a new review" in report["conclusion"]


def test_only_the_owner_and_admins_read_it_and_each_read_is_audited(
    ai_app: Flask,
    ai_client: FlaskClient,
    case_id: str,
    make_user: Callable[..., Any],
    api_headers: Callable[..., dict[str, str]],
) -> None:
    stranger = api_headers(make_user(email="ben@example.org"))
    admin = api_headers(make_user(email="root@example.org", role="admin"))
    path = f"/api/cases/{case_id}/fhir"
    assert ai_client.get(path, headers=stranger).status_code == 404
    assert ai_client.get(path).status_code == 401
    missing = ai_client.get("/api/cases/00000000-0000-4000-8000-000000000000/fhir", headers=admin)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "case_not_found"
    assert check_bundle(fhir_of(ai_client, case_id, admin))
    with ai_app.app_context():
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.read")).all()
        assert [event.details for event in reads] == [{"format": "fhir"}]
        db.session.remove()


def test_the_bundle_is_stable_between_two_reads(
    ai_client: FlaskClient, headers: dict[str, str], case_id: str
) -> None:
    first = fhir_of(ai_client, case_id, headers)
    second = fhir_of(ai_client, case_id, headers)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    assert first["id"] == second["id"]


def test_both_interoperability_endpoints_are_documented_with_examples(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    fhir_ok = paths["/api/cases/{case_id}/fhir"]["get"]["responses"]["200"]["content"]
    example = fhir_ok["application/fhir+json"]["example"]
    assert example["resourceType"] == "Bundle" and example["type"] == "collection"
    kinds = {entry["resource"]["resourceType"] for entry in example["entry"]}
    assert {"Patient", "DiagnosticReport"} <= kinds
    for entry in example["entry"]:
        round_trip(entry["resource"])
    pdf = paths["/api/cases/{case_id}/report.pdf"]["get"]
    assert pdf["responses"]["200"]["content"]["application/pdf"]["schema"]["format"] == "binary"
    assert "example" in pdf["responses"]["200"]["content"]["application/pdf"]
    assert [p["name"] for p in pdf["parameters"] if p["in"] == "query"] == ["paper"]
    for operation in (paths["/api/cases/{case_id}/fhir"]["get"], pdf):
        assert {"401", "404"} <= set(operation["responses"])


def test_a_reopened_case_reviewed_again_stays_amended(
    ai_client: FlaskClient, headers: dict[str, str], case_id: str
) -> None:
    diagnose(ai_client, headers, case_id)
    first = {"final_diagnosis": "Melanoma", "icd10": "C43.9", "agreement": "top1"}
    post_review(ai_client, headers, case_id, first)
    reopened = ai_client.post(
        f"/api/cases/{case_id}/reopen", json={"reason": "Histology differs"}, headers=headers
    )
    assert reopened.status_code == 200, reopened.get_json()
    second = {"final_diagnosis": "Melanocytic nevus", "icd10": "D22.5", "agreement": "differs"}
    post_review(ai_client, headers, case_id, second)

    report = _one(check_bundle(fhir_of(ai_client, case_id, headers)), "DiagnosticReport")
    assert report["status"] == "amended"  # final once, then modified: FHIR's "amended"
    assert report["conclusionCode"][0]["coding"][0]["code"] == "D22.5"
    assert "awaits a new review" not in report["conclusion"]
    pdf = ai_client.get(f"/api/cases/{case_id}/report.pdf", headers=headers)
    assert pdf.status_code == 200
    first_page = " ".join(PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text().split())
    assert "Amended — changed after the physician's review" in first_page
    assert "Melanocytic nevus" in first_page


def answer_in_portal(client: FlaskClient, case_id: str, value: str) -> str:
    """Answer the case page's current question with ``value``; return the question as shown."""
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    shown = re.search(r'<legend class="question-text"[^>]*>\s*([^<]+?)\s*<', html)
    token = re.search(r'name="question" value="([^"]+)"', html)
    assert shown and token, "no question on the case page"
    data = {"csrf_token": csrf_token(html), "question": token.group(1), "answer": value}
    assert client.post(f"/cases/{case_id}/answers", data=data).status_code == 303
    return shown.group(1)


def test_a_question_answered_in_the_portal_keeps_its_text_as_shown(
    ai_client: FlaskClient,
    headers: dict[str, str],
    case_id: str,
    physician: Any,
    portal_login: Callable[..., FlaskClient],
) -> None:
    starting = {"age": 54, "sex": "female", "location1.primary": "back"}
    posted = ai_client.post(f"/api/cases/{case_id}/answers", json=starting, headers=headers)
    assert posted.status_code == 200
    portal = portal_login(physician, ai_client)  # the same physician, logged in on the portal
    shown = answer_in_portal(portal, case_id, "1-3 months")
    assert shown == "How long has it been present?"

    by_type = check_bundle(fhir_of(ai_client, case_id, headers))
    response = {item["linkId"]: item for item in _one(by_type, "QuestionnaireResponse")["item"]}
    asked = {item["linkId"]: item for item in _one(by_type, "Questionnaire")["item"]}
    assert response["duration"]["text"] == asked["duration"]["text"] == shown
    assert response["duration"]["answer"] == [{"valueString": "1-3 months"}]
    # Sent through the API without a question: the field's label.
    assert response["age"]["text"] == asked["age"]["text"] == "Age"


def test_answers_changed_after_the_analysis_keep_the_answers_as_analysed_as_its_basis(
    ai_client: FlaskClient, headers: dict[str, str], case_id: str
) -> None:
    diagnose(ai_client, headers, case_id)
    by_type = check_bundle(fhir_of(ai_client, case_id, headers))
    [current] = by_type["QuestionnaireResponse"]  # not outdated: the one response is the basis
    basis = [ref["reference"] for ref in _one(by_type, "RiskAssessment")["basis"]]
    assert f"urn:uuid:{current['id']}" in basis

    review = {"final_diagnosis": "Melanoma", "icd10": "C43.9", "agreement": "top1"}
    post_review(ai_client, headers, case_id, review)
    reopened = ai_client.post(
        f"/api/cases/{case_id}/reopen", json={"reason": "Bleeding was misreported"}, headers=headers
    )
    assert reopened.status_code == 200, reopened.get_json()
    changed = ai_client.post(
        f"/api/cases/{case_id}/answers", json={"bleeding": False}, headers=headers
    )
    assert changed.status_code == 200, changed.get_json()

    by_type = check_bundle(fhir_of(ai_client, case_id, headers))
    responses = {response["id"]: response for response in by_type["QuestionnaireResponse"]}
    assert len(responses) == 2
    assert current["id"] in responses  # the case's answers now, same id as before
    risk = _one(by_type, "RiskAssessment")
    basis_ids = [ref["reference"].removeprefix("urn:uuid:") for ref in risk["basis"]]
    [analysed_id] = [ref for ref in basis_ids if ref in responses]
    assert analysed_id != current["id"]
    analysed = {item["linkId"]: item for item in responses[analysed_id]["item"]}
    now = {item["linkId"]: item for item in responses[current["id"]]["item"]}
    assert analysed["bleeding"]["answer"] == [{"valueBoolean": True}]
    assert now["bleeding"]["answer"] == [{"valueBoolean": False}]
    asked = [field for field in ANSWERS if field != "photo_taken"]
    assert list(analysed) == ["age", "sex", "location1.primary", *asked]
    assert responses[analysed_id]["status"] == "completed"
    assert responses[analysed_id]["identifier"]["value"] == risk["id"]
