"""An analysis is outdated when the case changed after it was computed, compared with what it
was computed from: an analysis of an earlier photo, chosen explicitly, was ``outdated`` the
moment it was made (a newer photo existed), and three concurrent ``POST /api/diagnosis`` into
one case left it outdated although nothing changed after the newest analysis."""

from __future__ import annotations

import threading

from tests.conftest import SAMPLES
from tests.test_api_diagnosis import ANAMNESIS, diagnose


def _newest(client, case_id, headers):
    case = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    return case, case["latest_analysis"]


def test_analysis_of_an_earlier_photo_is_not_outdated_until_a_newer_one(
    ai_client, make_user, api_headers, make_case, upload
):
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    first = upload(case_id, headers, via=ai_client).get_json()
    upload(case_id, headers, SAMPLES / "images" / "vasc_ISIC_0033349.jpg", via=ai_client)
    upload(case_id, headers, SAMPLES / "images" / "nv_ISIC_0032787.jpg", via=ai_client)
    response = ai_client.post(
        f"/api/cases/{case_id}/analyze",
        json={"image_id": first["id"], "accept_low_quality": True},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    case, newest = _newest(ai_client, case_id, headers)
    assert newest["image_id"] == first["id"]
    assert (newest["outdated"], newest["outdated_fields"]) == (False, [])
    assert case["outdated_fields"] == []
    upload(case_id, headers, SAMPLES / "images" / "df_ISIC_0030021.jpg", via=ai_client)
    case, newest = _newest(ai_client, case_id, headers)
    assert (newest["outdated"], newest["outdated_fields"]) == (True, ["image"])


def test_concurrent_diagnoses_into_one_case_leave_it_current(
    ai_app, ai_client, make_user, api_headers, make_case
):
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    statuses: list[int] = []

    def post() -> None:
        client = ai_app.test_client()
        statuses.append(
            diagnose(client, headers, anamnesis=ANAMNESIS, case_id=str(case_id)).status_code
        )

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200, 200, 200]
    case, newest = _newest(ai_client, case_id, headers)
    assert len(case["analyses"]) == 3
    assert (newest["outdated"], newest["outdated_fields"]) == (False, []), newest
