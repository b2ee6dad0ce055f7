"""A lesion recorded as excised or resolved gets no new follow-up visit (409 ``lesion_closed``
on the API, the New visit button replaced by an explanation on the portal, a stale form post
refused with the same explanation); set back to monitoring (audited), it gets visits again.
PostgreSQL; no AI needed (a new visit is a draft case)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case
from tests.fixtures.portal import csrf_token
from tests.lesion_visits import make_lesion


def _visits(app, lesion_id) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Case).where(Case.lesion_id == lesion_id)
        )
        db.session.remove()
    return count


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("status", ["excised", "resolved"])
def test_the_api_refuses_a_new_visit_of_a_closed_lesion(
    client, app, make_user, api_headers, status
):
    owner = make_user()
    headers = api_headers(owner)
    _, lesion_id = make_lesion(app, owner)
    first = client.post(f"/api/lesions/{lesion_id}/cases", json={}, headers=headers)
    assert first.status_code == 201, first.get_json()
    closed = client.patch(f"/api/lesions/{lesion_id}", json={"status": status}, headers=headers)
    assert closed.status_code == 200, closed.get_json()

    refused = client.post(f"/api/lesions/{lesion_id}/cases", json={}, headers=headers)
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "lesion_closed"
    assert status in error["message"] and "monitoring" in error["message"]
    assert "new lesion" in error["message"]  # a recurrence at the scar is a lesion of its own
    assert error["details"] == {"lesion_id": str(lesion_id), "status": status}
    assert _visits(app, lesion_id) == 1  # nothing half-written

    reopened = client.patch(
        f"/api/lesions/{lesion_id}", json={"status": "monitoring"}, headers=headers
    )
    assert reopened.status_code == 200
    again = client.post(f"/api/lesions/{lesion_id}/cases", json={}, headers=headers)
    assert again.status_code == 201, again.get_json()
    assert _visits(app, lesion_id) == 2
    with app.app_context():
        changes = [
            event.details["changes"]["status"]
            for event in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "lesion.update")
                .order_by(AuditEvent.id)
            )
        ]
        assert changes == [
            {"before": "monitoring", "after": status},
            {"before": status, "after": "monitoring"},
        ]
        db.session.remove()


def test_the_openapi_document_lists_the_409_of_a_new_visit(client):
    document = client.get("/api/openapi.json").get_json()
    responses = document["paths"]["/api/lesions/{lesion_id}/cases"]["post"]["responses"]
    assert "409" in responses


def test_the_portal_explains_instead_of_offering_a_new_visit(app, client, make_user, portal_login):
    owner = make_user()
    _, lesion_id = make_lesion(app, owner)
    portal_login(owner, client)
    html = client.get(f"/lesions/{lesion_id}").get_data(as_text=True)
    assert re.search(r'<button type="submit">New visit</button>', html)
    stale_form = {"csrf_token": csrf_token(html)}

    saved = client.post(
        f"/lesions/{lesion_id}",
        data={
            "csrf_token": csrf_token(html),
            "label": "left scapula, naevus",
            "body_site": "back",
            "status": "excised",
        },
    )
    assert saved.status_code == 303
    page = client.get(f"/lesions/{lesion_id}").get_data(as_text=True)
    assert not re.search(r'<button type="submit">New visit</button>', page)
    assert re.search(r"<button[^>]*disabled[^>]*>New visit</button>", page)
    words = _text(page)
    assert "This lesion is recorded as excised" in words
    assert "set its status back to Monitoring" in words
    assert "add a new lesion" in words

    # the page shown before the change, posted again without JavaScript
    refused = client.post(f"/lesions/{lesion_id}/visits", data=stale_form)
    assert refused.status_code == 303
    assert refused.headers["Location"] == f"/lesions/{lesion_id}"
    shown = _text(client.get(refused.headers["Location"]).get_data(as_text=True))
    assert "excised" in shown and "no new follow-up visits" in shown
    assert _visits(app, lesion_id) == 0
