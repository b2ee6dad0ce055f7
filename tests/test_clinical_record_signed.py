"""A reviewed case is signed; reopening it; outdated results — the issue's "Done when"
sequence against PostgreSQL and the reference AI over real HTTP."""

from __future__ import annotations

import io
import uuid

from app.extensions import db
from app.models import AuditEvent
from tests.conftest import SAMPLES
from tests.fixtures.portal import log_in
from tests.test_api_diagnosis import MELANOMA, diagnose

NEVUS = sorted((SAMPLES / "images").glob("nv_*.jpg"))[0]
REVIEW = {"final_diagnosis": "Melanoma", "icd10": "C43.9"}  # agreement derived: top1


def _case(client, headers, case_id):
    return client.get(f"/api/cases/{case_id}", headers=headers).get_json()


def test_done_when_review_signs_reopen_then_change_makes_the_analysis_outdated(
    ai_client, ai_app, make_user, api_headers
):
    user = make_user()
    headers = api_headers(user)
    body = diagnose(ai_client, headers, MELANOMA, {"age": 70, "bleeding": True}).get_json()
    case_id = body["case_id"]
    assert body["urgency"] in ("high", "emergency")
    url = f"/api/cases/{case_id}"
    assert ai_client.post(f"{url}/review", json=REVIEW, headers=headers).status_code == 200

    # Signed: answers, case fields, images and a re-analysis answer 409 case_reviewed.
    refused = [
        ai_client.post(f"{url}/answers", json={"bleeding": False, "age": 20}, headers=headers),
        ai_client.patch(url, json={"patient_age": 20, "body_site": "face"}, headers=headers),
        ai_client.post(
            f"{url}/images",
            data={"image": (io.BytesIO(NEVUS.read_bytes()), "n.jpg", "image/jpeg")},
            headers=headers,
            content_type="multipart/form-data",
        ),
        ai_client.delete(f"{url}/images/{body['image_id']}", headers=headers),
        ai_client.post(f"{url}/analyze", json={}, headers=headers),
    ]
    for response in refused:
        assert response.status_code == 409, response.get_json()
        assert response.get_json()["error"]["code"] == "case_reviewed"
    case = _case(ai_client, headers, case_id)
    assert case["status"] == "reviewed"
    assert case["anamnesis"] == {"age": 70, "bleeding": True}

    # Reopen needs a reason; it is audited; the review stays in the history.
    response = ai_client.post(f"{url}/reopen", json={"reason": ""}, headers=headers)
    assert response.status_code == 422
    response = ai_client.post(f"{url}/reopen", json={"reason": "Wrong age"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert case["status"] == "analyzed"
    assert case["review"]["final_diagnosis"] == "Melanoma"  # the latest review, now reopened
    assert [r["final_diagnosis"] for r in case["reviews"]] == ["Melanoma"]
    assert case["reviews"][0]["reopen_reason"] == "Wrong age"
    assert case["reviews"][0]["analysis_id"] == body["analysis_id"]
    with ai_app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="case.reopen").one()
        assert event.details["reason"] == "Wrong age"
        assert event.details["review"]["final_diagnosis"] == "Melanoma"
    assert ai_client.post(f"{url}/reopen", json={"reason": "x"}, headers=headers).status_code == 409

    # After reopening, the change is accepted and the analysis is outdated.
    response = ai_client.post(
        f"{url}/answers", json={"bleeding": False, "age": 20}, headers=headers
    )
    assert response.status_code == 200
    response = ai_client.patch(url, json={"patient_age": 20, "body_site": "face"}, headers=headers)
    assert response.status_code == 200
    case = _case(ai_client, headers, case_id)
    assert case["outdated"] is True
    assert set(case["outdated_fields"]) == {
        "anamnesis.age",
        "anamnesis.bleeding",
        "patient_age",
        "body_site",
    }
    analysis = case["latest_analysis"]
    assert analysis["outdated"] is True
    assert analysis["inputs"]["anamnesis"] == {"age": 70, "bleeding": True}
    assert analysis["inputs"]["case"]["patient_age"] == 70
    listed = ai_client.get("/api/cases", headers=headers).get_json()["items"]
    assert [item["outdated"] for item in listed] == [True]
    with ai_app.app_context():
        events = (
            db.session.query(AuditEvent)
            .filter_by(action="case.update")
            .order_by(AuditEvent.id.desc())
            .limit(2)
            .all()
        )
        # The answer "age" moved the case's age along (one age per case): the answers'
        # event records it; the PATCH then changed only the body site.
        answered, patched = events[1], events[0]
        assert answered.details["changes"]["patient_age"] == {"before": 70, "after": 20}
        assert answered.details["changes"]["anamnesis.age"] == {"before": 70, "after": 20}
        assert patched.details["fields"] == ["body_site"]

    # The report shows the analysis's own inputs, and says that the results are outdated.
    portal = ai_app.test_client()
    assert log_in(portal, user.email).status_code == 302
    report = portal.get(f"/cases/{case_id}/report").get_data(as_text=True)
    assert "The AI results are outdated" in report
    assert "Anamnesis as analysed" in report
    assert "70 years" in report and "20 years" not in report
    page = portal.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "These results are outdated" in page
    assert "Analyse again with the current answers" in page

    # Re-analysis makes a new analysis; the old one stays readable in the history.
    response = ai_client.post(f"{url}/analyze", json={}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["inputs"]["anamnesis"] == {"age": 20, "bleeding": False}
    case = _case(ai_client, headers, case_id)
    assert case["outdated"] is False
    assert len(case["analyses"]) == 2
    assert case["analyses"][1]["id"] == body["analysis_id"]
    assert case["analyses"][1]["outdated"] is True
    assert case["analyses"][0]["id"] == case["latest_analysis"]["id"]


def test_a_reviewed_case_refuses_a_new_review_until_it_is_reopened(
    ai_client, ai_app, make_user, api_headers
):
    headers = api_headers(make_user())
    case_id = diagnose(ai_client, headers).get_json()["case_id"]
    url = f"/api/cases/{case_id}"
    assert ai_client.post(f"{url}/review", json=REVIEW, headers=headers).status_code == 200
    second = {"final_diagnosis": "Atypical naevus", "icd10": "D22.5", "agreement": "differs"}
    refused = ai_client.post(f"{url}/review", json=second, headers=headers)
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "case_reviewed"
    case = _case(ai_client, headers, case_id)
    assert [r["final_diagnosis"] for r in case["reviews"]] == ["Melanoma"]
    assert case["review"]["final_diagnosis"] == "Melanoma"
    with ai_app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="case.review").count() == 1

    # After a reopen with a reason the case takes a new review; both stay in the history.
    reopened = ai_client.post(f"{url}/reopen", json={"reason": "Histology"}, headers=headers)
    assert reopened.status_code == 200
    response = ai_client.post(f"{url}/review", json=second, headers=headers)
    assert response.status_code == 200, response.get_json()
    reviews = response.get_json()["reviews"]
    assert [r["final_diagnosis"] for r in reviews] == ["Atypical naevus", "Melanoma"]
    assert reviews[1]["reopen_reason"] == "Histology"


def test_the_portal_offers_no_review_form_on_a_signed_case_and_refuses_a_stale_one(
    ai_client, ai_app, make_user, api_headers
):
    from tests.fixtures.portal import HTMX, csrf_token

    user = make_user()
    headers = api_headers(user)
    case_id = diagnose(ai_client, headers).get_json()["case_id"]
    portal = ai_app.test_client()
    assert log_in(portal, user.email).status_code == 302
    page = portal.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'action="/cases/{case_id}/review"' in page  # analysed: the review form is there
    token = csrf_token(page)
    data = {"csrf_token": token, "final_diagnosis": "Melanoma", "icd10": "C43.9"}
    assert portal.post(f"/cases/{case_id}/review", data=data).status_code == 303

    page = portal.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'action="/cases/{case_id}/review"' not in page  # signed: only "Reopen the case"
    assert "Change the review" not in page
    assert "Reopen the case" in page

    # The same form posted again (a second click, a back button): an inline message, no entry.
    stale = {**data, "final_diagnosis": "Atypical naevus", "agreement": "differs"}
    for extra in ({}, HTMX):
        response = portal.post(f"/cases/{case_id}/review", data=stale, headers=extra)
        assert response.status_code == 409
        html = response.get_data(as_text=True)
        assert "already reviewed and signed" in html
        assert "Reopen the case" in html and "Traceback" not in html
    case = _case(ai_client, headers, case_id)
    assert [r["final_diagnosis"] for r in case["reviews"]] == ["Melanoma"]

    # Reopened: the review form is offered again, filled in with the reopened review.
    reopen = {"csrf_token": token, "reason": "Second opinion"}
    assert portal.post(f"/cases/{case_id}/reopen", data=reopen).status_code == 303
    page = portal.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'action="/cases/{case_id}/review"' in page
    assert portal.post(f"/cases/{case_id}/review", data=stale).status_code == 303
    case = _case(ai_client, headers, case_id)
    assert [r["final_diagnosis"] for r in case["reviews"]] == ["Atypical naevus", "Melanoma"]


def test_reopen_of_another_physicians_case_is_404(ai_client, make_user, api_headers):
    headers = api_headers(make_user())
    case_id = diagnose(ai_client, headers).get_json()["case_id"]
    ai_client.post(f"/api/cases/{case_id}/review", json=REVIEW, headers=headers)
    other = api_headers(make_user())
    response = ai_client.post(f"/api/cases/{case_id}/reopen", json={"reason": "x"}, headers=other)
    assert response.status_code == 404
    missing = ai_client.post(
        f"/api/cases/{uuid.uuid4()}/reopen", json={"reason": "x"}, headers=headers
    )
    assert missing.status_code == 404


def test_the_portal_reopens_a_reviewed_case_only_with_a_reason(
    ai_client, ai_app, make_user, api_headers
):
    from tests.fixtures.portal import csrf_token

    user = make_user()
    headers = api_headers(user)
    case_id = diagnose(ai_client, headers).get_json()["case_id"]
    ai_client.post(f"/api/cases/{case_id}/review", json=REVIEW, headers=headers)
    portal = ai_app.test_client()
    assert log_in(portal, user.email).status_code == 302
    page = portal.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Reopen the case" in page and "The case is signed" in page
    assert 'name="field_name"' not in page  # no Change buttons on a signed case
    token = csrf_token(page)
    refused = portal.post(f"/cases/{case_id}/reopen", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 422
    assert _case(ai_client, headers, case_id)["status"] == "reviewed"
    data = {"csrf_token": token, "reason": "Patient brought an older photo"}
    assert portal.post(f"/cases/{case_id}/reopen", data=data).status_code == 303
    page = portal.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "This review was reopened" in page and "Patient brought an older photo" in page
    assert 'name="field_name"' in page  # the answers can be changed again
    assert _case(ai_client, headers, case_id)["status"] == "analyzed"
