"""The worklist: due time from the headline urgency, overdue first then by due time, in the
portal home and ``GET /api/worklist``; counts in the navigation; reassigning (admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services.worklist import state_of, time_in_words, window
from tests.fixtures.analysed import analysed_case, differential, stored_case
from tests.fixtures.portal import csrf_token

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
MEL = differential(("Melanoma", "C43.9", 0.7), ("Melanocytic nevus", "D22.9", 0.2))


@pytest.mark.parametrize(
    ("urgency", "days", "want"),
    [
        ("emergency", 28, timedelta(0)),
        ("high", 28, timedelta(days=14)),
        ("medium", 28, timedelta(hours=24)),
        ("low", 28, timedelta(days=28)),
        ("low", 7, timedelta(days=7)),
        (None, 28, timedelta(hours=24)),  # not assessed: never routine
    ],
)
def test_review_window_per_urgency(urgency, days, want):
    assert window(urgency, days) == want


def test_states_and_words():
    assert state_of(NOW - timedelta(seconds=1), NOW) == "overdue"
    assert state_of(NOW + timedelta(hours=24), NOW) == "due_today"
    assert state_of(NOW + timedelta(hours=25), NOW) == "upcoming"
    assert time_in_words(NOW - timedelta(hours=3, minutes=5), NOW) == "overdue by 3 hours"
    assert time_in_words(NOW + timedelta(days=13, hours=1), NOW) == "due in 13 days"
    assert time_in_words(NOW + timedelta(hours=47), NOW) == "due in 47 hours"
    assert time_in_words(NOW + timedelta(seconds=20), NOW) == "due in 1 minute"
    assert time_in_words(NOW - timedelta(days=1), NOW) == "overdue by 24 hours"


@pytest.fixture
def people(make_user):
    return {
        "dr": make_user(full_name="Dr. Queue"),
        "other": make_user(full_name="Dr. Other"),
        "admin": make_user(role="admin", full_name="Ada Admin"),
    }


@pytest.fixture
def queue(app, people):
    """Five analysed cases of Dr. Queue (one reviewed) and one of Dr. Other."""
    now = datetime.now(UTC)
    with app.app_context():
        ids = {
            "routine": analysed_case(
                people["dr"],
                predictions=MEL,
                patient_reference="PT-ROUTINE",
                analysed_at=now - timedelta(days=1),
            ),
            "soon": analysed_case(
                people["dr"],
                predictions=MEL,
                priority="soon",
                patient_reference="PT-SOON",
                analysed_at=now - timedelta(hours=2),
            ),
            "pathway": analysed_case(
                people["dr"],
                predictions=MEL,
                priority="urgent",
                patient_reference="PT-PATHWAY",
                analysed_at=now - timedelta(days=15),
            ),
            "emergency": analysed_case(
                people["dr"],
                predictions=MEL,
                red_flag_urgency="emergency",
                patient_reference="PT-EMERGENCY",
                analysed_at=now - timedelta(hours=1),
            ),
            "reviewed": analysed_case(
                people["dr"], predictions=MEL, patient_reference="PT-REVIEWED"
            ),
            "others": analysed_case(
                people["other"],
                predictions=MEL,
                priority="urgent",
                patient_reference="PT-OTHERS",
                analysed_at=now - timedelta(days=20),
            ),
        }
        stored_case(ids["reviewed"]).status = "reviewed"
        db.session.commit()
        db.session.remove()
    return ids


MINE = ["PT-PATHWAY", "PT-EMERGENCY", "PT-SOON", "PT-ROUTINE"]


def test_api_orders_overdue_first_then_by_due_time(client, people, api_headers, queue):
    response = client.get("/api/worklist", headers=api_headers(people["dr"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [item["patient_reference"] for item in body["items"]] == MINE
    first = body["items"][0]
    assert (first["state"], first["urgency"]) == ("overdue", "high")
    assert first["due_in_words"] == "overdue by 24 hours"
    assert first["action_text"] == "Refer on the 2-week suspected-cancer pathway"
    assert first["top_diagnosis"] == "Melanoma" and first["top_probability"] == 0.7
    due = datetime.fromisoformat(first["due_at"]) - datetime.fromisoformat(first["analysed_at"])
    assert due == timedelta(days=14)
    assert [item["state"] for item in body["items"]] == [
        "overdue",
        "overdue",
        "due_today",
        "upcoming",
    ]
    assert body["items"][3]["due_in_words"] == "due in 27 days"
    assert body["counts"] == {"overdue": 2, "due_today": 1, "upcoming": 1}


def test_api_filters(client, people, api_headers, queue):
    headers = api_headers(people["dr"])
    overdue = client.get("/api/worklist?state=overdue", headers=headers).get_json()["items"]
    assert [item["patient_reference"] for item in overdue] == MINE[:2]
    low = client.get("/api/worklist?urgency=low", headers=headers).get_json()["items"]
    assert [item["patient_reference"] for item in low] == ["PT-ROUTINE"]
    one = client.get("/api/worklist?limit=1", headers=headers).get_json()["items"]
    assert [item["patient_reference"] for item in one] == ["PT-PATHWAY"]
    bad = client.get("/api/worklist?state=later", headers=headers)
    assert bad.status_code == 422
    mine = client.get(f"/api/worklist?physician_id={people['dr'].id}", headers=headers)
    assert mine.status_code == 200
    theirs = client.get(f"/api/worklist?physician_id={people['other'].id}", headers=headers)
    assert theirs.status_code == 403
    assert client.get("/api/worklist").status_code == 401


def test_admins_see_every_queue(client, people, api_headers, queue):
    headers = api_headers(people["admin"])
    body = client.get("/api/worklist", headers=headers).get_json()
    refs = [item["patient_reference"] for item in body["items"]]
    assert refs == ["PT-OTHERS", *MINE]  # due 6 days ago: the most overdue
    assert body["items"][0]["physician_name"] == "Dr. Other"
    only = client.get(f"/api/worklist?physician_id={people['other'].id}", headers=headers)
    assert [item["patient_reference"] for item in only.get_json()["items"]] == ["PT-OTHERS"]


def test_portal_home_is_the_worklist_with_counts(client, people, portal_login, queue):
    portal_login(people["dr"], client)
    html = client.get("/").get_data(as_text=True)
    positions = [html.index(reference) for reference in MINE]
    assert positions == sorted(positions)
    assert "PT-OTHERS" not in html and "PT-REVIEWED" not in html
    assert "2 overdue" in html and "1 due today" in html
    assert "Overdue by 24 hours" in html and "Due in 27 days" in html
    assert "AI's top diagnosis: Melanoma (70 %)" in html
    assert "Reassign to" not in html
    assert client.get("/cases").status_code == 200  # the full case list moved here


def test_admin_reassigns_from_the_worklist(client, app, people, portal_login, queue):
    portal_login(people["admin"], client)
    html = client.get("/").get_data(as_text=True)
    assert "Reassign to" in html and "Dr. Other" in html
    response = client.post(
        f"/cases/{queue['soon']}/reassign",
        data={"csrf_token": csrf_token(html), "physician_id": str(people["other"].id)},
    )
    assert response.status_code == 303
    with app.app_context():
        assert stored_case(queue["soon"]).owner_id == people["other"].id
        event = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == queue["soon"], AuditEvent.action == "case.reassign"
            )
        ).one()
        case = stored_case(queue["soon"])
        assert event.details["from"] == people["dr"].id
        assert event.details["to"] == people["other"].id
        # its only visit: the case's lesion moved with it to the new owner's patient
        assert event.details["patient_id"]["after"] == str(case.patient_id)
        assert "lesion_id" not in event.details
        assert event.actor_id == people["admin"].id
        db.session.remove()


def test_odd_physician_numbers_on_the_worklist_are_not_a_500(client, people, portal_login, queue):
    """``"²".isdigit()`` is True but ``int("²")`` raises; a number beyond the id column's range
    matches nobody. The filter is ignored and the reassignment refused, inline."""
    portal_login(people["admin"], client)
    for odd in ("²", "99999999999999999999999"):
        response = client.get(f"/?physician={odd}")
        assert response.status_code == 200, odd
        assert "PT-OTHERS" in response.get_data(as_text=True)
        html = client.get("/").get_data(as_text=True)
        response = client.post(
            f"/cases/{queue['soon']}/reassign",
            data={"csrf_token": csrf_token(html), "physician_id": odd},
            follow_redirects=True,
        )
        assert response.status_code == 200, odd
        assert "Choose an active physician" in response.get_data(as_text=True)


def test_only_admins_reassign(client, people, api_headers, queue):
    body = {"physician_id": people["dr"].id}
    response = client.post(
        f"/api/cases/{queue['others']}/reassign", json=body, headers=api_headers(people["dr"])
    )
    assert response.status_code == 403
    admin = api_headers(people["admin"])
    response = client.post(
        f"/api/cases/{queue['others']}/reassign", json={"physician_id": 999999}, headers=admin
    )
    assert response.status_code == 422
    response = client.post(f"/api/cases/{queue['others']}/reassign", json=body, headers=admin)
    assert response.status_code == 200
    assert response.get_json()["owner_id"] == people["dr"].id


def test_openapi_lists_the_worklist(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/api/worklist" in paths and "/api/cases/{case_id}/reassign" in paths
