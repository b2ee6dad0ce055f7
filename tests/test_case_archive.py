"""Archiving a reviewed (signed) case is refused like every other change to it (409
``case_reviewed``: reopen it with a reason first); a case archived by mistake can be
unarchived with a reason (API for its owner or an admin, ``flask cases unarchive``), back to
the status it had, audited with the status before and after."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Case
from tests.fixtures.analysed import analysed_case, differential, stored_case

DIFFERENTIAL = differential(("Melanoma", "C43.9", 0.7), ("Melanocytic nevus", "D22.9", 0.2))


@pytest.fixture
def physician(make_user):
    return make_user(full_name="Dr. Archive")


@pytest.fixture
def case_id(app, physician):
    with app.app_context():
        found = analysed_case(physician, predictions=DIFFERENTIAL)
        db.session.remove()
    return found


@pytest.fixture
def reviewed_id(client, physician, api_headers, case_id):
    response = client.post(
        f"/api/cases/{case_id}/review",
        json={"final_diagnosis": "Melanoma"},
        headers=api_headers(physician),
    )
    assert response.status_code == 200, response.get_json()
    return case_id


def _events(case_id, action):
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == action)
        )
    )


def test_api_archiving_a_reviewed_case_is_refused_until_reopened(
    client, app, physician, api_headers, reviewed_id
):
    headers = api_headers(physician)
    response = client.delete(f"/api/cases/{reviewed_id}", headers=headers)
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "case_reviewed"
    assert "reopen" in error["message"].lower()
    with app.app_context():
        assert stored_case(reviewed_id).status == "reviewed"
        assert _events(reviewed_id, "case.archive") == []
    reopened = client.post(
        f"/api/cases/{reviewed_id}/reopen", json={"reason": "Duplicate visit"}, headers=headers
    )
    assert reopened.status_code == 200
    response = client.delete(f"/api/cases/{reviewed_id}", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "archived"


def test_api_unarchive_returns_the_case_to_its_status(client, app, physician, api_headers, case_id):
    headers = api_headers(physician)
    assert client.delete(f"/api/cases/{case_id}", headers=headers).status_code == 200
    missing = client.post(f"/api/cases/{case_id}/unarchive", json={"reason": " "}, headers=headers)
    assert missing.status_code == 422
    assert "reason" in missing.get_json()["error"]["details"]
    response = client.post(
        f"/api/cases/{case_id}/unarchive",
        json={"reason": "Archived the wrong visit by mistake"},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "analyzed"
    again = client.post(
        f"/api/cases/{case_id}/unarchive", json={"reason": "twice"}, headers=headers
    )
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "case_not_archived"
    with app.app_context():
        (event,) = _events(case_id, "case.unarchive")
        assert event.actor_id == physician.id
        assert event.details["reason"] == "Archived the wrong visit by mistake"
        assert event.details["changes"] == {"status": {"before": "archived", "after": "analyzed"}}


def test_api_unarchive_of_another_physicians_case_is_not_found(
    client, make_user, api_headers, physician, case_id
):
    assert client.delete(f"/api/cases/{case_id}", headers=api_headers(physician)).status_code == 200
    other = make_user(email="other@example.org", full_name="Dr. Other")
    response = client.post(
        f"/api/cases/{case_id}/unarchive", json={"reason": "mine?"}, headers=api_headers(other)
    )
    assert response.status_code == 404
    admin = make_user(email="admin@example.org", full_name="Admin", role="admin")
    body = {"reason": "owner asked"}
    response = client.post(f"/api/cases/{case_id}/unarchive", json=body, headers=api_headers(admin))
    assert response.status_code == 200


def _archive_signed_case_as_before_the_fix(case_id):
    """A reviewed case archived by the old DELETE (status archived, audit ``from`` reviewed)."""
    case = db.session.get(Case, case_id)
    case.status = "archived"
    db.session.add(
        AuditEvent(
            actor_id=case.owner_id,
            action="case.archive",
            case_id=case.id,
            details={"from": "reviewed"},
        )
    )
    db.session.commit()


def test_cli_unarchive_restores_a_signed_case_archived_by_mistake(
    app, client, physician, api_headers, reviewed_id
):
    with app.app_context():
        _archive_signed_case_as_before_the_fix(reviewed_id)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cases", "unarchive", str(reviewed_id)])
    assert result.exit_code != 0 and "reason" in result.output.lower()
    result = runner.invoke(
        args=["cases", "unarchive", str(reviewed_id), "--reason", "Archived by mistake (ticket 12)"]
    )
    assert result.exit_code == 0, result.output
    assert "reviewed" in result.output
    with app.app_context():
        assert stored_case(reviewed_id).status == "reviewed"
        (event,) = _events(reviewed_id, "case.unarchive")
        assert event.actor_id is None
        assert event.details["changes"]["status"] == {"before": "archived", "after": "reviewed"}
    # signed again: a histology outcome can be recorded, the review stands
    response = client.get(f"/api/cases/{reviewed_id}", headers=api_headers(physician))
    assert response.get_json()["status"] == "reviewed"
