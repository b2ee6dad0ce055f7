"""What the audit trail says of a worklist: one ``worklist.view`` per list shown (the cases and
the photos on it), not one ``image.view`` per thumbnail; opening a photo itself stays an
``image.view``. Against PostgreSQL, with cases diagnosed by the reference AI over HTTP."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import AuditEvent
from tests.fixtures.portal import log_in
from tests.test_api_diagnosis import diagnose

THUMB = re.compile(r'<img src="([^"]+)"[^>]*class="work-thumb"')


def _events(app, action):
    with app.app_context():
        found = db.session.query(AuditEvent).filter_by(action=action).all()
        db.session.remove()
        return found


@pytest.fixture
def three_cases(ai_client, make_user, api_headers):
    user = make_user(full_name="Dr. Thumbs")
    headers = api_headers(user)
    bodies = [diagnose(ai_client, headers).get_json() for _ in range(3)]
    return user, headers, bodies


def test_the_portal_worklist_is_one_audit_event_and_its_thumbnails_none(
    ai_client, ai_app, three_cases
):
    user, _headers, bodies = three_cases
    portal = ai_app.test_client()
    assert log_in(portal, user.email).status_code == 302
    html = portal.get("/").get_data(as_text=True)
    thumbs = THUMB.findall(html)
    assert len(thumbs) == 3
    for url in thumbs:
        response = portal.get(url.replace("&amp;", "&"))
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg" and response.data[:2] == b"\xff\xd8"
        # A private copy, revalidated (its ETag: tests/test_thumbnails.py).
        assert response.headers["Cache-Control"] == "private, no-cache"
    assert _events(ai_app, "image.view") == []
    [listed] = _events(ai_app, "worklist.view")
    assert listed.actor_id == user.id
    assert sorted(listed.details["cases"]) == sorted(b["case_id"] for b in bodies)
    assert sorted(listed.details["images"]) == sorted(b["image_id"] for b in bodies)

    # Opening the photo on the case page is still audited, once per view.
    case_id, image_id = bodies[0]["case_id"], bodies[0]["image_id"]
    assert portal.get(f"/cases/{case_id}/images/{image_id}").status_code == 200
    [viewed] = _events(ai_app, "image.view")
    assert (str(viewed.case_id), str(viewed.image_id)) == (case_id, image_id)


def test_a_thumbnail_url_without_the_worklists_token_is_audited_or_refused(
    ai_client, ai_app, make_user, three_cases
):
    user, _headers, bodies = three_cases
    portal = ai_app.test_client()
    assert log_in(portal, user.email).status_code == 302
    [url, *_] = [u.replace("&amp;", "&") for u in THUMB.findall(portal.get("/").get_data(True))]
    bare = url.split("?")[0]
    assert portal.get(bare).status_code == 200  # no token: served, and audited as a view
    assert portal.get(bare + "?t=forged").status_code == 200
    assert len(_events(ai_app, "image.view")) == 2

    stranger = make_user(full_name="Dr. Elsewhere")
    other = ai_app.test_client()
    assert log_in(other, stranger.email).status_code == 302
    assert other.get(url).status_code == 404  # another physician's token or case: not found
    assert len(_events(ai_app, "image.view")) == 2


def test_the_api_worklist_is_one_audit_event(ai_client, ai_app, three_cases):
    _user, headers, bodies = three_cases
    response = ai_client.get("/api/worklist", headers=headers)
    assert response.status_code == 200
    [listed] = _events(ai_app, "worklist.view")
    assert sorted(listed.details["images"]) == sorted(b["image_id"] for b in bodies)
