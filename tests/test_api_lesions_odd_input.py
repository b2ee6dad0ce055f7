"""Lesions API under odd input and concurrency, as a partner client may send it (issue #17,
found by trying to break the merged API): a label made of invisible characters, the same patient
created twice at once, a reference with a hidden character, two visits compared backwards.
PostgreSQL; the reference AI over real HTTP where visits are analysed."""

from __future__ import annotations

import time
import uuid

import gevent
import psycopg
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Lesion, Patient, Reanalysis
from app.models.base import utcnow
from tests.lesion_visits import seen_by_two_models


def _patient(client, headers, reference: str = "PT-ODD-1") -> dict:
    created = client.post("/api/patients", json={"reference": reference}, headers=headers)
    assert created.status_code == 201, created.get_json()
    return created.get_json()


@pytest.mark.parametrize("label", ["\u200b\u200b", "\u2060\u200b", "\u00ad", "\u3164 \ufeff"])
def test_a_lesion_label_of_invisible_characters_is_refused(
    client, app, make_user, api_headers, label
):
    headers = api_headers(make_user())
    patient = _patient(client, headers)
    created = client.post(
        "/api/lesions",
        json={"patient_id": patient["id"], "label": label, "body_site": "back"},
        headers=headers,
    )
    assert created.status_code == 422, created.get_json()
    assert "invisible" in created.get_json()["error"]["details"]["label"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lesion)) == 0
        db.session.remove()

    lesion = client.post(
        "/api/lesions",
        json={"patient_id": patient["id"], "label": "left scapula", "body_site": "back"},
        headers=headers,
    ).get_json()
    changed = client.patch(f"/api/lesions/{lesion['id']}", json={"label": label}, headers=headers)
    assert changed.status_code == 422, changed.get_json()
    assert "invisible" in changed.get_json()["error"]["details"]["label"]
    detail = client.get(f"/api/lesions/{lesion['id']}", headers=headers).get_json()
    assert detail["lesion"]["label"] == "left scapula"


def _psycopg_url(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")


def _waiting_on_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return bool(
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]
        )


def test_the_same_patient_created_twice_at_once_is_409_not_500(client, app, make_user, api_headers):
    """Another request inserts the same reference between our look-up and our insert (held
    open in a second connection, committed while our insert waits on the unique index): the
    answer is 409 ``patient_exists`` naming the patient that won, as when they come one after
    the other."""
    owner = make_user()
    headers = api_headers(owner)
    url = _psycopg_url(app)
    winner = uuid.uuid4()
    with psycopg.connect(url) as other:
        now = utcnow()
        other.execute(
            "INSERT INTO patients (id, owner_id, reference, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            (winner, owner.id, "PT-RACE-1", now, now),
        )
        request = gevent.spawn(
            client.post, "/api/patients", json={"reference": "PT-RACE-1"}, headers=headers
        )
        deadline = time.monotonic() + 20
        while not _waiting_on_a_lock(url):
            assert time.monotonic() < deadline, "the API's insert never waited on the other"
            assert not request.ready(), request.value.get_json()
            gevent.sleep(0.05)
        other.commit()
    answer = request.get(timeout=20)
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["error"]["code"] == "patient_exists"
    assert answer.get_json()["error"]["details"] == {"patient_id": str(winner)}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Patient)) == 1
        db.session.remove()


@pytest.mark.parametrize(
    "hidden",
    ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u200e"],
    ids=["zwsp", "zwj", "word-joiner", "bom", "soft-hyphen", "rtl-override", "lrm"],
)
def test_a_reference_with_an_invisible_character_is_not_a_lookalike_twin(
    client, app, make_user, api_headers, hidden
):
    """``PT-7`` and ``PT-7`` + a zero-width space look the same everywhere: accepted, they would
    be two patients (the 409 ``patient_exists`` bypassed, a lesion's visits split between them).
    A reference is an identifier, so an invisible (format) character in it is refused as a
    control character is, through ``/api/patients`` and an old client's ``/api/cases``."""
    headers = api_headers(make_user())
    _patient(client, headers, "PT-7")
    for reference in (f"PT-7{hidden}", f"PT{hidden}-7"):
        twin = client.post("/api/patients", json={"reference": reference}, headers=headers)
        assert twin.status_code == 422, (reference, twin.get_json())
        assert "invisible" in twin.get_json()["error"]["details"]["reference"]
        case = client.post(
            "/api/cases",
            json={
                "patient_reference": reference,
                "patient_age": 40,
                "patient_sex": "female",
                "body_site": "back",
                "chief_complaint": "mole",
            },
            headers=headers,
        )
        assert case.status_code == 422, (reference, case.get_json())
        assert "invisible" in case.get_json()["error"]["details"]["patient_reference"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Patient)) == 1
        db.session.remove()


def test_visits_compared_backwards_are_refused_before_any_ai_call(
    ai_app, ai_client, older_ai_app, make_user, api_headers
):
    """from = the later visit: the comparison said "Red flag gone" for one that appeared and
    ``days_between`` −366 for a year and half a second; the re-analysis sent the later visit's
    photo to the AI and stored a Reanalysis of it before answering 409 ``model_not_current``.
    Now both are 422 on ``from`` (swap them), and nothing is stored."""
    owner = make_user()
    headers = api_headers(owner)
    lesion_id, v1, v2 = seen_by_two_models(ai_app, older_ai_app, owner, headers)

    forward = ai_client.get(f"/api/lesions/{lesion_id}/compare?from={v1}&to={v2}", headers=headers)
    assert forward.status_code == 200 and forward.get_json()["days_between"] >= 0
    backward = ai_client.get(f"/api/lesions/{lesion_id}/compare?from={v2}&to={v1}", headers=headers)
    assert backward.status_code == 422, backward.get_json()
    assert "earlier" in backward.get_json()["error"]["details"]["from"]
    rerun = ai_client.post(
        f"/api/lesions/{lesion_id}/compare/reanalyse",
        json={"from": str(v2), "to": str(v1)},
        headers=headers,
    )
    assert rerun.status_code == 422, rerun.get_json()
    assert "earlier" in rerun.get_json()["error"]["details"]["from"]
    with ai_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reanalysis)) == 0
        db.session.remove()
