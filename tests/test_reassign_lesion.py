"""An admin's reassignment of a visit moves it to the new owner's patient (issue #17 with the
worklist's ``POST /api/cases/<id>/reassign``): the former owner no longer sees the case in the
lesion's timeline or comparison (they get 404 on the case itself), and the new owner reaches the
case's patient and lesion. As a changed patient reference does: the lesion moves with its only
visit; a visit of a lesion seen more than once becomes the first visit of a new lesion.
PostgreSQL, no AI needed (draft visits)."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.lesion_visits import make_lesion


def _visit(client, lesion_id, headers) -> str:
    created = client.post(f"/api/lesions/{lesion_id}/cases", json={}, headers=headers)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def _reassign(client, case_id, physician_id, headers) -> None:
    moved = client.post(
        f"/api/cases/{case_id}/reassign", json={"physician_id": physician_id}, headers=headers
    )
    assert moved.status_code == 200, moved.get_json()


def test_a_reassigned_visit_leaves_the_former_owners_lesion(client, app, make_user, api_headers):
    ana, ben, admin = make_user(), make_user(), make_user(role="admin")
    ana_h, ben_h, admin_h = api_headers(ana), api_headers(ben), api_headers(admin)
    _, lesion_id = make_lesion(app, ana)
    first, second = _visit(client, lesion_id, ana_h), _visit(client, lesion_id, ana_h)

    _reassign(client, second, ben.id, admin_h)
    assert client.get(f"/api/cases/{second}", headers=ana_h).status_code == 404
    timeline = client.get(f"/api/lesions/{lesion_id}", headers=ana_h).get_json()
    assert [visit["case_id"] for visit in timeline["visits"]] == [first]
    compared = client.get(
        f"/api/lesions/{lesion_id}/compare?from={first}&to={second}", headers=ana_h
    )
    assert compared.status_code == 422, compared.get_json()

    case = client.get(f"/api/cases/{second}", headers=ben_h).get_json()
    assert case["lesion_id"] != str(lesion_id)
    lesion = client.get(f"/api/lesions/{case['lesion_id']}", headers=ben_h)
    assert lesion.status_code == 200, lesion.get_json()
    assert [visit["case_id"] for visit in lesion.get_json()["visits"]] == [second]
    assert lesion.get_json()["patient"]["id"] == case["patient_id"]
    assert lesion.get_json()["patient"]["reference"] == case["patient_reference"]
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case.reassign")
        ).one()
        assert event.details["from"] == ana.id and event.details["to"] == ben.id
        assert event.details["lesion_id"]["after"] == case["lesion_id"]
        db.session.remove()


def test_a_lesions_only_visit_reassigned_takes_the_lesion_along(
    client, app, make_user, api_headers
):
    ana, ben, admin = make_user(), make_user(), make_user(role="admin")
    ana_h, ben_h = api_headers(ana), api_headers(ben)
    _, lesion_id = make_lesion(app, ana)
    only = _visit(client, lesion_id, ana_h)

    _reassign(client, only, ben.id, api_headers(admin))
    assert client.get(f"/api/lesions/{lesion_id}", headers=ana_h).status_code == 404
    lesion = client.get(f"/api/lesions/{lesion_id}", headers=ben_h)
    assert lesion.status_code == 200, lesion.get_json()
    assert [visit["case_id"] for visit in lesion.get_json()["visits"]] == [only]
    assert lesion.get_json()["lesion"]["label"] == "left scapula, naevus"  # the same lesion
