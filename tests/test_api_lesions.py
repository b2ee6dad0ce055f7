"""Lesions over time through the JSON API: patients, lesions, a new visit, the timeline, the
comparison of two visits and the re-analysis by the current model (issue #17). PostgreSQL and
the reference AI (two model versions) over real HTTP."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.extensions import db
from app.models import Analysis, AuditEvent, Reanalysis
from app.models.base import utcnow
from app.services.clinical_record.words import percent
from tests.fixtures.cases import case_payload
from tests.lesion_visits import seen_by_two_models, seen_three_times


def _actions(app) -> list[str]:
    with app.app_context():
        found = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        db.session.remove()
    return found


def test_patient_lesion_and_visit_through_the_api(client, app, make_user, api_headers):
    owner = make_user()
    headers = api_headers(owner)
    created = client.post(
        "/api/patients", json={"reference": "PT-77", "birth_year": 1980}, headers=headers
    )
    assert created.status_code == 201, created.get_json()
    patient = created.get_json()
    assert created.headers["Location"].endswith(f"/api/patients/{patient['id']}")
    assert (patient["reference"], patient["lesion_count"], patient["visit_count"]) == (
        "PT-77",
        0,
        0,
    )
    again = client.post("/api/patients", json={"reference": "PT-77"}, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["details"] == {"patient_id": patient["id"]}

    lesion = client.post(
        "/api/lesions",
        json={
            "patient_id": patient["id"],
            "label": "left scapula, 8 mm naevus",
            "body_site": "back",
            "map_x": 0.4,
            "map_y": 0.3,
            "map_view": "back",
        },
        headers=headers,
    )
    assert lesion.status_code == 201, lesion.get_json()
    lesion_id = lesion.get_json()["id"]
    assert lesion.get_json()["body_site_label"] == "Back"
    visit = client.post(f"/api/lesions/{lesion_id}/cases", json={}, headers=headers)
    assert visit.status_code == 201, visit.get_json()
    case = visit.get_json()
    assert (case["lesion_id"], case["patient_id"]) == (lesion_id, patient["id"])
    assert (case["patient_reference"], case["body_site"], case["anamnesis"]) == (
        "PT-77",
        "back",
        {"age": case["patient_age"], "location1.primary": "back"},  # carried over, not asked
    )
    assert case["chief_complaint"] == "Follow-up visit: left scapula, 8 mm naevus"

    detail = client.get(f"/api/lesions/{lesion_id}", headers=headers).get_json()
    assert [item["case_id"] for item in detail["visits"]] == [case["id"]]
    assert detail["patient"]["visit_count"] == 1 and detail["lesion"]["visit_count"] == 1
    listed = client.get(f"/api/patients/{patient['id']}/lesions", headers=headers).get_json()
    assert [item["id"] for item in listed["items"]] == [lesion_id]
    page = client.get("/api/patients?q=pt-7", headers=headers).get_json()
    assert [item["id"] for item in page["items"]] == [patient["id"]] and page["total"] == 1
    moved = client.patch(
        f"/api/lesions/{lesion_id}",
        json={"status": "excised", "map_view": "front"},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.get_json()["map_view"] == "front"
    assert client.get(f"/api/patients/{patient['id']}", headers=headers).status_code == 200
    born = client.patch(
        f"/api/patients/{patient['id']}", json={"birth_year": 1990}, headers=headers
    )
    assert born.status_code == 200 and born.get_json()["birth_year"] == 1990
    for body in ({"birth_year": 3000}, {"birth_year": "1990"}, {}):
        bad = client.patch(f"/api/patients/{patient['id']}", json=body, headers=headers)
        assert bad.status_code == 422, (body, bad.get_json())
    closed = client.post(f"/api/lesions/{lesion_id}/cases", json={}, headers=headers)
    assert closed.status_code == 409  # excised: no new visit (tests/test_lesion_closed.py)
    reopened = client.patch(
        f"/api/lesions/{lesion_id}", json={"status": "monitoring"}, headers=headers
    )
    assert reopened.status_code == 200
    age = client.post(f"/api/lesions/{lesion_id}/cases", json={}, headers=headers).get_json()
    assert age["patient_age"] == utcnow().year - 1990
    actions = _actions(app)
    for action in (
        "patient.create",
        "lesion.create",
        "case.create",
        "lesion.read",
        "lesion.list",
        "patient.list",
        "lesion.update",
        "patient.read",
        "patient.update",
    ):
        assert action in actions


def test_an_old_client_creating_a_case_gets_a_patient_and_a_lesion(client, make_user, api_headers):
    owner = make_user()
    headers = api_headers(owner)
    first = client.post(
        "/api/cases", json=case_payload(patient_reference="PT-OLD"), headers=headers
    )
    second = client.post(
        "/api/cases", json=case_payload(patient_reference="PT-OLD"), headers=headers
    )
    one, two = first.get_json(), second.get_json()
    assert one["patient_id"] == two["patient_id"] and one["lesion_id"] != two["lesion_id"]
    lesions = client.get(f"/api/patients/{one['patient_id']}/lesions", headers=headers).get_json()
    assert len(lesions["items"]) == 2


def test_patients_are_listed_by_their_newest_visit(client, make_user, api_headers):
    """The patient seen most recently comes first, however long ago they were recorded; a
    patient without visits ranks by when they were recorded."""
    headers = api_headers(make_user())
    for reference in ("PT-SEEN-LONG-AGO", "PT-RECORDED-LATER"):
        assert (
            client.post(
                "/api/cases", json=case_payload(patient_reference=reference), headers=headers
            ).status_code
            == 201
        )
    assert (
        client.post(
            "/api/patients", json={"reference": "PT-NO-VISITS"}, headers=headers
        ).status_code
        == 201
    )
    again = client.post(
        "/api/cases", json=case_payload(patient_reference="PT-SEEN-LONG-AGO"), headers=headers
    )
    assert again.status_code == 201
    listed = client.get("/api/patients", headers=headers).get_json()["items"]
    assert [p["reference"] for p in listed] == [
        "PT-SEEN-LONG-AGO",
        "PT-NO-VISITS",
        "PT-RECORDED-LATER",
    ]


def test_anothers_patients_and_lesions_are_404_and_admins_see_them(
    ai_app, ai_client, make_user, api_headers
):
    owner, other, admin = make_user(), make_user(), make_user(role="admin")
    lesion_id, (v1, v2) = seen_three_times(ai_app, ai_client, api_headers(owner), owner, count=2)
    theirs = api_headers(other)
    detail = ai_client.get(f"/api/lesions/{lesion_id}", headers=api_headers(owner)).get_json()
    patient_id = detail["patient"]["id"]
    for method, path, body in (
        ("get", f"/api/patients/{patient_id}", None),
        ("patch", f"/api/patients/{patient_id}", {"birth_year": 1950}),
        ("get", f"/api/patients/{patient_id}/lesions", None),
        ("get", f"/api/lesions/{lesion_id}", None),
        ("patch", f"/api/lesions/{lesion_id}", {"status": "resolved"}),
        ("post", f"/api/lesions/{lesion_id}/cases", {}),
        ("get", f"/api/lesions/{lesion_id}/compare?from={v1}&to={v2}", None),
        ("post", f"/api/lesions/{lesion_id}/compare/reanalyse", {"from": str(v1), "to": str(v2)}),
        ("post", "/api/lesions", {"patient_id": patient_id, "label": "x", "body_site": "back"}),
    ):
        response = getattr(ai_client, method)(path, json=body, headers=theirs)
        assert response.status_code == 404, (path, response.get_json())
        assert response.get_json()["error"]["code"] in ("patient_not_found", "lesion_not_found")
    assert ai_client.get("/api/patients", headers=theirs).get_json()["total"] == 0
    seen = ai_client.get(
        f"/api/lesions/{lesion_id}/compare?from={v1}&to={v2}", headers=api_headers(admin)
    )
    assert seen.status_code == 200
    assert ai_client.get("/api/patients", headers=api_headers(admin)).get_json()["total"] == 1


def test_compare_refuses_bad_input_with_clear_errors(ai_app, ai_client, make_user, api_headers):
    owner = make_user()
    headers = api_headers(owner)
    lesion_id, (v1, v2) = seen_three_times(ai_app, ai_client, headers, owner, count=2)
    elsewhere = ai_client.post("/api/cases", json=case_payload(), headers=headers).get_json()["id"]
    base = f"/api/lesions/{lesion_id}/compare"
    for query, field in (
        (f"?from={v1}&to={v1}", "to"),
        (f"?from={v1}&to={elsewhere}", "to"),
        (f"?from=not-a-uuid&to={v2}", "from"),
        (f"?to={v2}", "from"),
        (f"?from={uuid.uuid4()}&to={v2}", "from"),
    ):
        response = ai_client.get(base + query, headers=headers)
        assert response.status_code == 422, (query, response.get_json())
        error = response.get_json()["error"]
        assert error["code"] == "validation_failed" and field in error["details"], error
    missing = ai_client.get(
        f"/api/lesions/{uuid.uuid4()}/compare?from={v1}&to={v2}", headers=headers
    )
    assert missing.status_code == 404
    same = ai_client.post(
        f"{base}/reanalyse", json={"from": str(v1), "to": str(v2)}, headers=headers
    )
    assert same.status_code == 409 and same.get_json()["error"]["code"] == "same_model"
    bad = ai_client.post(
        "/api/lesions",
        json={"patient_id": str(uuid.uuid4()), "label": "x", "body_site": "back", "map_x": 0.5},
        headers=headers,
    )
    assert bad.status_code == 422 and "map_view" in bad.get_json()["error"]["details"]

    good = ai_client.get(f"{base}?from={v1}&to={v2}", headers=headers)
    assert good.status_code == 200
    body = good.get_json()
    assert body["same_model"] and body["delta"]["to_model_version"] == "reference-1.0"
    assert "Diameter 5 → 6 mm." in body["sentences"]


def test_a_model_change_is_told_apart_by_reanalysing_the_earlier_photo(
    ai_app, ai_client, older_ai_app, make_user, api_headers
):
    owner = make_user()
    headers = api_headers(owner)
    lesion_id, v1, v2 = seen_by_two_models(ai_app, older_ai_app, owner, headers)
    base = f"/api/lesions/{lesion_id}/compare"

    before = ai_client.get(f"{base}?from={v1}&to={v2}", headers=headers).get_json()
    assert not before["same_model"] and before["reanalysis_possible"]
    assert before["same_model_delta"] is None
    assert (before["from_visit"]["model_version"], before["to_visit"]["model_version"]) == (
        "reference-0.9",
        "reference-1.0",
    )
    assert any(
        "different models (reference-0.9 → reference-1.0)" in text for text in before["sentences"]
    )

    done = ai_client.post(
        f"{base}/reanalyse", json={"from": str(v1), "to": str(v2)}, headers=headers
    )
    assert done.status_code == 201, done.get_json()
    result = done.get_json()
    same = result["same_model_delta"]
    assert same["from_model_version"] == same["to_model_version"] == "reference-1.0"
    assert not result["reanalysis_possible"] and result["reanalysis_id"]
    # the same photo and answers, only the model differs: the first differential changed
    first = next(p for p in result["delta"]["probabilities"] if p["disease"] == "Melanoma")
    again = next(p for p in same["probabilities"] if p["disease"] == "Melanoma")
    assert first["before"] != again["before"] and first["after"] == again["after"]
    melanoma = (percent(again["before"]), percent(again["after"]))
    assert (
        f"With the same model (reference-1.0), Melanoma {melanoma[0]} → {melanoma[1]}."
        in (result["sentences"])
    )
    model_alone = (
        "The model change alone (reference-0.9 → reference-1.0, the earlier photo and answers "
        f"analysed again): Melanoma {percent(first['before'])} → {melanoma[0]}."
    )
    assert model_alone in result["sentences"]

    print("\n".join(result["sentences"]))
    # append-only: the earlier visit's own analysis is kept as it was, the re-analysis apart
    case = ai_client.get(f"/api/cases/{v1}", headers=headers).get_json()
    assert [a["model_version"] for a in case["analyses"]] == ["reference-0.9"]
    with ai_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Analysis)) == 2
        rerun = db.session.scalars(select(Reanalysis)).one()
        assert (rerun.case_id, rerun.model_version) == (v1, "reference-1.0")
        assert rerun.original_analysis_id == uuid.UUID(result["from_visit"]["analysis_id"])
        db.session.remove()
    assert "lesion.reanalyse" in _actions(ai_app)
    later = ai_client.get(f"{base}?from={v1}&to={v2}", headers=headers).get_json()
    assert later["same_model_delta"] == same and later["reanalysis_id"] == result["reanalysis_id"]


def test_the_lesion_operations_are_in_the_openapi_document(client):
    document = client.get("/api/openapi.json").get_json()
    paths = document["paths"]
    for path in (
        "/api/patients",
        "/api/patients/{patient_id}",
        "/api/patients/{patient_id}/lesions",
        "/api/lesions",
        "/api/lesions/{lesion_id}",
        "/api/lesions/{lesion_id}/cases",
        "/api/lesions/{lesion_id}/compare",
        "/api/lesions/{lesion_id}/compare/reanalyse",
    ):
        assert path in paths, path
    names = {
        param["name"] for param in paths["/api/lesions/{lesion_id}/compare"]["get"]["parameters"]
    }
    assert {"from", "to"} <= names


def test_a_failed_reanalysis_is_a_clear_502_and_stores_nothing(  # noqa: PLR0917 - fixtures
    ai_app, ai_client, older_ai_app, fake_ai_app, httpserver, make_user, api_headers
):
    owner = make_user()
    headers = api_headers(owner)
    lesion_id, v1, v2 = seen_by_two_models(ai_app, older_ai_app, owner, headers)
    httpserver.expect_request("/api/v1/image_quality/validate").respond_with_data("down", 500)
    httpserver.expect_request("/api/v1/diagnosis/predict").respond_with_data("down", 500)
    httpserver.expect_request("/api/v1/diagnosis/red_flags").respond_with_data("down", 500)
    failed = fake_ai_app.test_client().post(
        f"/api/lesions/{lesion_id}/compare/reanalyse",
        json={"from": str(v1), "to": str(v2)},
        headers=headers,
    )
    assert failed.status_code == 502, failed.get_json()
    assert failed.get_json()["error"]["code"] == "ai_service_unavailable"
    with ai_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reanalysis)) == 0
        db.session.remove()
    still = ai_client.get(f"/api/lesions/{lesion_id}/compare?from={v1}&to={v2}", headers=headers)
    assert still.get_json()["reanalysis_possible"]


def test_a_reanalysis_by_a_third_model_is_kept_but_not_compared(
    ai_app, ai_client, older_ai_app, make_user, api_headers
):
    owner = make_user()
    headers = api_headers(owner)
    # visit 1 by the current model, visit 2 by the older one; the AI now serves the current one
    lesion_id, v1, v2 = seen_by_two_models(ai_app, older_ai_app, owner, headers, older_first=False)
    response = ai_client.post(
        f"/api/lesions/{lesion_id}/compare/reanalyse",
        json={"from": str(v1), "to": str(v2)},
        headers=headers,
    )
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "model_not_current" and error["details"]["reanalysis_id"]
    compared = ai_client.get(
        f"/api/lesions/{lesion_id}/compare?from={v1}&to={v2}", headers=headers
    ).get_json()
    assert compared["same_model_delta"] is None and not compared["same_model"]
