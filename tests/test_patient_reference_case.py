"""A patient reference is one patient of its physician whatever its letter case and surrounding
spaces: ``PT-001``, ``pt-001`` and `` Pt-001 `` never split a lesion's history between two
patients (services, API, portal, the database's own index, and a concurrent insert).
PostgreSQL, as everywhere in the suite."""

from __future__ import annotations

import time
import uuid

import gevent
import psycopg
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, Patient, User
from app.models.base import utcnow
from app.services import cases
from app.services.lesions import patients
from tests.fixtures.cases import case_payload
from tests.fixtures.portal import token_for
from tests.test_api_lesions_odd_input import _psycopg_url, _waiting_on_a_lock


def _actor(user):
    return db.session.get(User, user.id)


def _patients_of(owner_id: int) -> list[tuple[uuid.UUID, str]]:
    return list(
        db.session.execute(
            select(Patient.id, Patient.reference).where(Patient.owner_id == owner_id)
        ).all()
    )


def test_letter_case_and_spaces_do_not_make_another_patient(app, make_user):
    owner, other = make_user(), make_user()
    with app.app_context():
        first = cases.create_case(actor=_actor(owner), **case_payload(patient_reference="PT-001"))
        typed = ["pt-001", "  Pt-001 ", "PT-001"]
        later = [
            cases.create_case(actor=_actor(owner), **case_payload(patient_reference=reference))
            for reference in typed
        ]
        theirs = cases.create_case(actor=_actor(other), **case_payload(patient_reference="pt-001"))
        [(patient_id, reference)] = _patients_of(owner.id)
        assert reference == "PT-001"  # as first typed, for display
        assert {case.patient_id for case in [first, *later]} == {patient_id}
        assert theirs.patient_id != patient_id  # another physician's patient stays theirs
        # each case keeps the reference as the physician typed it (trimmed)
        stored = dict(
            db.session.execute(
                select(Case.id, Case.patient_reference).where(Case.owner_id == owner.id)
            ).all()
        )
        assert [stored[case.id] for case in later] == ["pt-001", "Pt-001", "PT-001"]


def test_a_reference_changed_only_in_letter_case_keeps_the_case_where_it_was(app, make_user):
    owner = make_user()
    with app.app_context():
        case = cases.create_case(actor=_actor(owner), **case_payload(patient_reference="PT-002"))
        before = (case.patient_id, case.lesion_id)
        cases.update_case(
            actor=_actor(owner), case_id=case.id, changes={"patient_reference": "pt-002"}
        )
        moved = db.session.get(Case, case.id)
        assert (moved.patient_id, moved.lesion_id) == before
        assert moved.patient_reference == "pt-002"
        assert len(_patients_of(owner.id)) == 1


def test_the_api_refuses_a_patient_differing_only_in_letter_case(client, make_user, api_headers):
    headers = api_headers(make_user())
    created = client.post("/api/patients", json={"reference": "PT-003"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    for twin in ("pt-003", " Pt-003 "):
        again = client.post("/api/patients", json={"reference": twin}, headers=headers)
        assert again.status_code == 409, again.get_json()
        error = again.get_json()["error"]
        assert error["code"] == "patient_exists"
        assert error["details"] == {"patient_id": created.get_json()["id"]}
        assert "PT-003" in error["message"]  # names the reference it is filed under
    found = client.get("/api/patients", query_string={"q": "pt-003"}, headers=headers).get_json()
    assert [item["id"] for item in found["items"]] == [created.get_json()["id"]]
    case = client.post(
        "/api/cases", json=case_payload(patient_reference="pt-003"), headers=headers
    ).get_json()
    assert case["patient_id"] == created.get_json()["id"]


def test_the_database_itself_refuses_a_twin_in_another_letter_case(app, make_user):
    owner = make_user()
    with app.app_context():
        patients.create_patient(actor=_actor(owner), reference="PT-004")
        url = _psycopg_url(app)
        db.session.remove()
    now = utcnow()
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "INSERT INTO patients (id, owner_id, reference, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (uuid.uuid4(), owner.id, "pt-004", now, now),
        )


def test_a_case_racing_a_twin_reference_joins_the_patient_that_won(
    client, app, make_user, api_headers
):
    """Another request inserts ``pt-race-1`` (held open in a second connection) while an API
    client opens a case for ``PT-RACE-1``: the case's insert waits on the unique index, and once
    the other commits, the case joins that patient (no second patient, no 500)."""
    owner = make_user()
    headers = api_headers(owner)
    url = _psycopg_url(app)
    winner = uuid.uuid4()
    with psycopg.connect(url) as other:
        now = utcnow()
        other.execute(
            "INSERT INTO patients (id, owner_id, reference, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            (winner, owner.id, "pt-race-1", now, now),
        )
        request = gevent.spawn(
            client.post,
            "/api/cases",
            json=case_payload(patient_reference="PT-RACE-1"),
            headers=headers,
        )
        deadline = time.monotonic() + 20
        while not _waiting_on_a_lock(url):
            assert time.monotonic() < deadline, "the case's insert never waited on the other"
            assert not request.ready(), request.value.get_json()
            gevent.sleep(0.05)
        other.commit()
    answer = request.get(timeout=20)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["patient_id"] == str(winner)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Patient)) == 1
        db.session.remove()


def test_the_portal_says_which_patient_a_case_was_filed_under(
    ai_app, ai_client, make_user, portal_login
):
    app, client = ai_app, ai_client
    owner = make_user()
    with app.app_context():
        patients.create_patient(actor=_actor(owner), reference="PT-005")
        db.session.remove()
    portal_login(owner, client)
    form = {
        "csrf_token": token_for(client, "/cases/new"),
        **{name: str(value) for name, value in case_payload(patient_reference="pt-005").items()},
    }
    response = client.post("/cases/new", data=form, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Filed under your patient PT-005" in html
    with app.app_context():
        assert len(_patients_of(owner.id)) == 1
        db.session.remove()


def test_fhir_names_the_patient_by_its_recorded_reference(client, make_user, api_headers):
    """The visits of one patient name one ``Patient``: its identifier is the reference the
    patient was recorded under, whatever the letter case typed for each visit."""
    headers = api_headers(make_user())
    made = [
        client.post("/api/cases", json=case_payload(patient_reference=ref), headers=headers)
        for ref in ("PT-FHIR-3", "pt-fhir-3")
    ]
    assert [response.status_code for response in made] == [201, 201]
    identifiers = []
    for case in (response.get_json() for response in made):
        bundle = client.get(f"/api/cases/{case['id']}/fhir", headers=headers).get_json(force=True)
        [patient] = [
            entry["resource"]
            for entry in bundle["entry"]
            if entry["resource"]["resourceType"] == "Patient"
        ]
        identifiers.append(patient["identifier"][0]["value"])
    assert identifiers == ["PT-FHIR-3", "PT-FHIR-3"]
