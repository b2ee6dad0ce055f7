"""A photo stored before the patient refused image storage is not analysed again under
CONSENT_POLICY=enforced: the refusal says "no photo can be stored or analysed for this case",
so the re-run of the diagnosis on the stored photo and the re-analysis of an earlier visit's
photo by the current model are refused as the photo step is (409 ``consent_required``, scope
``image_storage``), and nothing is stored. PostgreSQL, the reference AI over real HTTP."""

from __future__ import annotations

import io
import uuid

from app.extensions import db
from app.models import Analysis, Reanalysis, User
from app.services import consent
from tests.fixtures.cases import MELANOMA, case_payload
from tests.fixtures.consent import count_rows
from tests.lesion_visits import seen_three_times


def _image_storage_refused(response) -> None:
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert (error["code"], error["details"].get("scope")) == ("consent_required", "image_storage")


def test_a_stored_photo_is_not_analysed_again_once_image_storage_is_refused(
    enforced_app, make_user, api_headers
):
    owner = make_user()
    headers = api_headers(owner)
    client = enforced_app.test_client()
    case_id = client.post("/api/cases", json=case_payload(), headers=headers).get_json()["id"]
    decisions = {"ai_analysis": "granted", "image_storage": "granted"}
    recorded = client.put(f"/api/cases/{case_id}/consent", json=decisions, headers=headers)
    assert recorded.status_code == 200, recorded.get_json()
    diagnosed = client.post(
        "/api/diagnosis",
        data={
            "case_id": case_id,
            "image": (io.BytesIO(MELANOMA.read_bytes()), "mel.jpg", "image/jpeg"),
            "anamnesis": '{"age": 60, "sex": "male"}',
        },
        headers=headers,
        content_type="multipart/form-data",
    )
    assert diagnosed.status_code == 200, diagnosed.get_json()

    withdrawn = client.put(
        f"/api/cases/{case_id}/consent", json={"image_storage": "refused"}, headers=headers
    )
    assert withdrawn.get_json()["photo_allowed"] is False
    _image_storage_refused(client.post(f"/api/cases/{case_id}/analyze", json={}, headers=headers))
    assert count_rows(enforced_app, Analysis, uuid.UUID(case_id)) == 1  # the first one stays


def test_an_earlier_visit_whose_image_storage_is_refused_is_not_reanalysed(
    ai_app, ai_client, enforced_app, make_user, api_headers
):
    owner = make_user()
    headers = api_headers(owner)
    lesion_id, (v1, v2) = seen_three_times(ai_app, ai_client, headers, owner, count=2)
    with enforced_app.app_context():
        actor = db.session.get(User, owner.id)
        consent.record_consent(
            actor=actor,
            case_id=v1,
            decisions={"ai_analysis": "granted", "image_storage": "refused"},
        )
        db.session.remove()
    refused = enforced_app.test_client().post(
        f"/api/lesions/{lesion_id}/compare/reanalyse",
        json={"from": str(v1), "to": str(v2)},
        headers=headers,
    )
    _image_storage_refused(refused)
    assert refused.get_json()["error"]["details"]["case_id"] == str(v1)
    assert count_rows(enforced_app, Reanalysis, v1) == 0
