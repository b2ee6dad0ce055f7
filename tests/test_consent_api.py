"""The patient's consent through the API: recorded per scope (append-only, audited with before
and after), in the case, owner-or-admin; CONSENT_POLICY off/advisory/enforced on the photo step
and the AI calls (reference AI over real HTTP)."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case, CaseConsent, CaseImage
from config import Config
from tests.fixtures.cases import MELANOMA, case_payload
from tests.fixtures.consent import count_rows


@pytest.fixture
def physician(make_user):
    return make_user(full_name="Dr. Consent")


def _put(client, case_id, headers, **decisions):
    return client.put(f"/api/cases/{case_id}/consent", json=decisions, headers=headers)


def test_consent_is_recorded_per_scope_append_only_and_audited(
    client, app, physician, make_case, api_headers
):
    case_id = make_case(physician)
    headers = api_headers(physician)
    first = _put(client, case_id, headers, ai_analysis="granted", teaching_research="refused")
    assert first.status_code == 200, first.get_json()
    out = first.get_json()
    assert out["ai_analysis"]["decision"] == "granted"
    assert out["teaching_research"]["decision"] == "refused"  # a refusal is a record
    assert out["image_storage"] is None  # not recorded: unknown, not refused
    assert out["ai_analysis"]["recorded_by_id"] == physician.id

    second = _put(client, case_id, headers, teaching_research="granted", ai_analysis="granted")
    out = second.get_json()
    assert out["teaching_research"]["decision"] == "granted"
    assert [(r["scope"], r["decision"]) for r in out["history"]] == [
        ("teaching_research", "granted"),
        ("ai_analysis", "granted"),
        ("teaching_research", "refused"),
    ]  # the unchanged ai_analysis added no record; the refusal stays in the history
    assert count_rows(app, CaseConsent, case_id) == 3

    case = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert case["consent"]["teaching_research"]["decision"] == "granted"
    assert len(case["consent"]["history"]) == 3
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.action == "case.consent")
            .order_by(AuditEvent.id)
        ).all()
        assert [event.details["changes"] for event in events] == [
            {
                "ai_analysis": {"before": None, "after": "granted"},
                "teaching_research": {"before": None, "after": "refused"},
            },
            {"teaching_research": {"before": "refused", "after": "granted"}},
        ]
        assert {event.actor_id for event in events} == {physician.id}
        db.session.remove()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ai_analysis": "maybe"},
        {"ai_analysis": None},
        {"photos": "granted"},
        {"ai_analysis": True},
    ],
)
def test_a_bad_consent_body_is_refused_with_nothing_recorded(  # noqa: PLR0917 - fixtures
    client, app, physician, make_case, api_headers, body
):
    case_id = make_case(physician)
    response = client.put(
        f"/api/cases/{case_id}/consent", json=body, headers=api_headers(physician)
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "validation_failed"
    assert count_rows(app, CaseConsent, case_id) == 0


def test_consent_is_owner_or_admin(  # noqa: PLR0917 - fixtures
    client, app, physician, make_user, make_case, api_headers
):
    case_id = make_case(physician)
    other = make_user()
    admin = make_user(role="admin")
    refused = _put(client, case_id, api_headers(other), ai_analysis="granted")
    assert refused.status_code == 404
    assert refused.get_json()["error"]["code"] == "case_not_found"
    assert _put(client, uuid.uuid4(), api_headers(admin), ai_analysis="granted").status_code == 404
    assert _put(client, case_id, api_headers(admin), ai_analysis="refused").status_code == 200
    assert (
        client.put(f"/api/cases/{case_id}/consent", json={"ai_analysis": "granted"}).status_code
        == 401
    )
    with app.app_context():
        record = db.session.scalar(select(CaseConsent).where(CaseConsent.case_id == case_id))
        assert (record.decision, record.recorded_by_id) == ("refused", admin.id)
        db.session.remove()


def test_consent_can_be_withdrawn_on_an_archived_case(client, physician, make_case, api_headers):
    case_id = make_case(physician)
    headers = api_headers(physician)
    assert client.delete(f"/api/cases/{case_id}", headers=headers).status_code == 200
    response = _put(client, case_id, headers, teaching_research="refused")
    assert response.status_code == 200
    assert response.get_json()["teaching_research"]["decision"] == "refused"


def test_advisory_warns_until_ai_consent_is_granted(client, physician, make_case, api_headers):
    case_id = make_case(physician)
    headers = api_headers(physician)
    consent = client.get(f"/api/cases/{case_id}", headers=headers).get_json()["consent"]
    assert consent["policy"] == "advisory"
    assert consent["warnings"] == ["The patient's consent to AI analysis is not recorded."]
    assert (consent["ai_analysis_allowed"], consent["photo_allowed"]) == (True, True)
    out = _put(client, case_id, headers, ai_analysis="refused", image_storage="refused").get_json()
    assert len(out["warnings"]) == 2
    assert "refused AI analysis" in out["warnings"][0]
    assert "refused the storage of images" in out["warnings"][1]
    out = _put(client, case_id, headers, ai_analysis="granted", image_storage="granted").get_json()
    assert out["warnings"] == []


def test_advisory_diagnosis_carries_the_warning(ai_client, physician, api_headers):
    headers = api_headers(physician)
    response = ai_client.post(
        "/api/diagnosis",
        data={
            "image": (io.BytesIO(MELANOMA.read_bytes()), "mel.jpg", "image/jpeg"),
            "anamnesis": '{"age": 60, "sex": "male"}',
        },
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["consent_warnings"] == [
        "The patient's consent to AI analysis is not recorded."
    ]


# --- CONSENT_POLICY=enforced and off ---------------------------------------------------------


@pytest.fixture
def enforced(_enforced_app, app):
    """A client of the gateway with CONSENT_POLICY=enforced and the reference AI."""
    return _enforced_app.test_client()


def _photo(client, case_id, headers):
    return client.post(
        f"/api/cases/{case_id}/images",
        data={"image": (io.BytesIO(MELANOMA.read_bytes()), "mel.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )


def _diagnose(client, headers, case_id=None):
    data = {
        "image": (io.BytesIO(MELANOMA.read_bytes()), "mel.jpg", "image/jpeg"),
        "anamnesis": '{"age": 60, "sex": "male", "bleeding": true}',
    }
    if case_id is not None:
        data["case_id"] = str(case_id)
    return client.post(
        "/api/diagnosis", data=data, headers=headers, content_type="multipart/form-data"
    )


def _consent_required(response, scope="ai_analysis"):
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "consent_required"
    assert error["details"]["scope"] == scope
    assert error["message"]
    return error


def test_enforced_refuses_the_photo_and_the_ai_until_ai_consent_is_granted(
    enforced, _enforced_app, physician, api_headers
):
    headers = api_headers(physician)
    created = enforced.post("/api/cases", json=case_payload(), headers=headers)
    case_id = created.get_json()["id"]
    assert created.get_json()["consent"]["ai_analysis_allowed"] is False
    assert created.get_json()["consent"]["warnings"] == []  # enforced refuses, not warns

    error = _consent_required(_photo(enforced, case_id, headers))
    assert error["details"] == {"scope": "ai_analysis", "decision": None, "case_id": case_id}
    _consent_required(_diagnose(enforced, headers, case_id))
    _consent_required(enforced.post(f"/api/cases/{case_id}/analyze", json={}, headers=headers))
    _put(enforced, case_id, headers, ai_analysis="refused")
    error = _consent_required(_photo(enforced, case_id, headers))
    assert error["details"]["decision"] == "refused"
    assert "refused AI analysis" in error["message"]
    assert count_rows(_enforced_app, CaseImage, case_id) == 0  # nothing stored, nothing lost
    with _enforced_app.app_context():
        case = db.session.get(Case, uuid.UUID(case_id))
        assert case.anamnesis == {"age": 54, "sex": "female", "location1.primary": "back"}
        assert case.status == "questionnaire"
        db.session.remove()

    _put(enforced, case_id, headers, ai_analysis="granted")
    diagnosed = _diagnose(enforced, headers, case_id)
    assert diagnosed.status_code == 200, diagnosed.get_json()
    assert diagnosed.get_json()["consent_warnings"] == []
    again = enforced.post(f"/api/cases/{case_id}/analyze", json={}, headers=headers)
    assert again.status_code == 200, again.get_json()

    # Withdrawn after the analysis: the re-analysis is refused, the results stay.
    _put(enforced, case_id, headers, ai_analysis="refused")
    _consent_required(enforced.post(f"/api/cases/{case_id}/analyze", json={}, headers=headers))
    case = enforced.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert len(case["analyses"]) == 2 and case["status"] == "analyzed"


def test_enforced_refuses_the_photo_when_image_storage_is_refused(
    enforced, _enforced_app, physician, make_case, api_headers
):
    case_id = make_case(physician)
    headers = api_headers(physician)
    _put(enforced, case_id, headers, ai_analysis="granted", image_storage="refused")
    error = _consent_required(_photo(enforced, case_id, headers), scope="image_storage")
    assert "refused the storage of images" in error["message"]
    _consent_required(_diagnose(enforced, headers, case_id), scope="image_storage")
    assert count_rows(_enforced_app, CaseImage, case_id) == 0
    _put(enforced, case_id, headers, image_storage="granted")
    assert _photo(enforced, case_id, headers).status_code == 201


def test_enforced_refuses_ai_calls_without_a_case(enforced, _enforced_app, physician, api_headers):
    headers = api_headers(physician)
    _consent_required(_diagnose(enforced, headers))
    with _enforced_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0  # none opened
        db.session.remove()
    _consent_required(enforced.post("/api/ai/next_question", json={}, headers=headers))
    _consent_required(
        enforced.post("/api/ai/red_flags", json={"anamnesis": {"age": 60}}, headers=headers)
    )
    assert enforced.post("/api/ai/next_question", json={}).status_code == 401  # auth first


def test_off_neither_warns_nor_refuses(make_app, _migrated_app, app, physician, api_headers):
    off = make_app(CONSENT_POLICY="off").test_client()
    headers = api_headers(physician)
    created = off.post("/api/cases", json=case_payload(), headers=headers).get_json()
    consent = created["consent"]
    assert (consent["policy"], consent["warnings"], consent["ai_analysis_allowed"]) == (
        "off",
        [],
        True,
    )
    assert _photo(off, created["id"], headers).status_code == 201


def test_config_refuses_an_unknown_consent_policy():
    with pytest.raises(RuntimeError, match="CONSENT_POLICY"):
        Config.validate({**_base_settings(), "CONSENT_POLICY": "strict"})
    Config.validate({**_base_settings(), "CONSENT_POLICY": "enforced"})


def _base_settings():
    return {"STORAGE_BACKEND": "local", "LOG_FORMAT": "text"}
