"""The demo lesion of ``flask demo seed``: one patient, one lesion seen three times, a change
worth referring at the third visit, read in words through the API (reference AI over HTTP)."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models import User
from app.models.base import utcnow
from app.services import accounts
from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD, default_samples_dir
from app.services.lesions import demo


def _seed(app):
    with app.app_context():
        user = accounts.find_by_email(DEMO_EMAIL) or accounts.create_user(
            email=DEMO_EMAIL, password=DEMO_PASSWORD, full_name="Dr. Demo", role="physician"
        )
        result = demo.seed_demo_lesion(
            user=db.session.get(User, user.id), samples_dir=default_samples_dir()
        )
        db.session.remove()
    return result


def test_the_demo_lesion_is_seen_three_times_and_referred_at_the_third(ai_app, ai_client):
    seeded = _seed(ai_app)
    assert seeded.done == (
        "patient",
        "lesion",
        "visit 1",
        "analysed 1",
        "visit 2",
        "analysed 2",
        "visit 3",
        "analysed 3",
    )
    login = ai_client.post("/api/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}

    patients = ai_client.get("/api/patients?q=DEMO-LESION", headers=headers).get_json()
    assert [item["reference"] for item in patients["items"]] == [demo.REFERENCE]
    lesions = ai_client.get(f"/api/patients/{seeded.patient_id}/lesions", headers=headers)
    assert [item["label"] for item in lesions.get_json()["items"]] == [demo.LABEL]
    detail = ai_client.get(f"/api/lesions/{seeded.lesion_id}", headers=headers).get_json()
    visits = detail["visits"]
    assert [visit["case_id"] for visit in visits] == [str(case) for case in seeded.case_ids]
    assert all(visit["image_id"] and visit["analysis_id"] for visit in visits)

    # a year, six months and zero days back: a follow-up, not three visits in one day
    now = utcnow()
    for visit, days in zip(visits, (365, 182, 0), strict=True):
        seen = now - timedelta(days=days)
        assert abs(_parse(visit["date"]) - seen) < timedelta(hours=1)
        assert abs(_parse(visit["analysed_at"]) - seen) < timedelta(hours=1)
    melanoma = [_melanoma(ai_client, headers, visit["case_id"]) for visit in visits]
    assert melanoma[0] < melanoma[1] < melanoma[2] and melanoma[2] > 0.9
    assert [visit["action_text"] for visit in visits] == [
        "Routine care",
        "Routine care",
        "Refer on the 2-week suspected-cancer pathway",
    ]
    assert visits[-1]["top_diagnosis"]["disease"] == "Melanoma"
    third = ai_client.get(f"/api/cases/{seeded.case_ids[-1]}", headers=headers).get_json()
    assert (third["patient_sex"], third["fitzpatrick_type"], third["patient_age"]) == (
        "female",
        "II",
        now.year - demo.BIRTH_YEAR,
    )  # recorded at the first visit, carried over
    assert _parse(detail["lesion"]["created_at"]) == _parse(visits[0]["date"])

    first, last = seeded.case_ids[0], seeded.case_ids[-1]
    compared = ai_client.get(
        f"/api/lesions/{seeded.lesion_id}/compare?from={first}&to={last}", headers=headers
    ).get_json()
    assert compared["days_between"] == 365
    sentences = compared["sentences"]
    assert sentences[:4] == [
        "Colours: Light brown → Light brown, dark brown, black (added: dark brown, black).",
        "Pigmented features: None of these → Asymmetric shape, irregular or blurred border "
        "(added: asymmetric shape, irregular or blurred border).",
        "Diameter 5 → 9 mm.",
        "Changed recently: No → Yes.",
    ]
    assert "Headline action: Routine care → Refer on the 2-week suspected-cancer pathway." in (
        sentences
    )
    assert any(
        text.startswith("Top diagnosis: Melanocytic nevus (")
        and text.endswith("→ Melanoma (99.6 %).")
        for text in sentences
    )
    flags = {flag["type"] for flag in compared["delta"]["red_flags_appeared"]}
    assert {"changing_pigmented_lesion", "glasgow_7_point_positive"} <= flags

    # idempotent: a second run finds everything and changes nothing
    again = _seed(ai_app)
    assert (again.done, again.case_ids, again.lesion_id) == ((), seeded.case_ids, seeded.lesion_id)


def _parse(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def _melanoma(client, headers, case_id) -> float:
    case = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    return next(
        item["probability"]
        for item in case["latest_analysis"]["predictions"]
        if item["disease"] == "Melanoma"
    )
