"""Cases services without HTTP: workflow transitions, policies, audit outside a request."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import AuditEvent, Case, User
from app.services import audit, cases, policies


def test_policies_owner_admin_other_and_inactive():
    owner = SimpleNamespace(id=1, is_active=True, is_admin=False)
    other = SimpleNamespace(id=2, is_active=True, is_admin=False)
    admin = SimpleNamespace(id=3, is_active=True, is_admin=True)
    inactive_admin = SimpleNamespace(id=4, is_active=False, is_admin=True)
    case = SimpleNamespace(owner_id=1)
    assert policies.can_view_case(owner, case)
    assert policies.can_edit_case(owner, case)
    assert not policies.can_view_case(other, case)
    assert not policies.can_edit_case(other, case)
    assert policies.can_view_case(admin, case)
    assert not policies.can_view_case(inactive_admin, case)
    assert not policies.can_view_case(None, case)
    assert policies.can_list_all_cases(admin)
    assert not policies.can_list_all_cases(owner)


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("draft", "questionnaire", True),
        ("questionnaire", "awaiting_image", True),
        ("awaiting_image", "analyzed", True),
        ("awaiting_image", "analysis_failed", True),
        ("analysis_failed", "analyzed", True),
        ("analyzed", "reviewed", True),
        ("reviewed", "analyzed", True),
        ("reviewed", "archived", True),
        ("draft", "reviewed", False),
        ("awaiting_image", "draft", False),
        ("archived", "draft", False),
        ("archived", "analyzed", False),
    ],
)
def test_transitions(start, target, allowed):
    case = Case(status=start)
    if allowed:
        assert cases.transition(case, target) is True
        assert case.status == target
    else:
        with pytest.raises(Conflict) as caught:
            cases.transition(case, target)
        assert caught.value.code == "invalid_status_transition"
        assert case.status == start


def test_transition_to_the_same_status_is_a_no_op():
    case = Case(status="analyzed")
    assert cases.transition(case, "analyzed") is False
    with pytest.raises(ValueError, match="unknown case status"):
        cases.transition(case, "deleted")


def test_mark_awaiting_image_and_cli_audit_without_request(app, make_user, make_case):
    owner = make_user()
    case_id = make_case(owner)
    with app.app_context():
        actor = db.session.get(User, owner.id)
        assert cases.mark_awaiting_image(actor=actor, case_id=case_id).status == "awaiting_image"
        # Further along: unchanged.
        assert cases.mark_awaiting_image(actor=actor, case_id=case_id).status == "awaiting_image"
        audit.record(None, "case.export", case_id=case_id, details={"format": "json"})
        db.session.commit()
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case.export"))
        assert event.actor_id is None
        assert event.request_id is None
        assert event.client_address is None
        status_events = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.action == "case.update"
            )
        ).all()
        assert [e.details["to"] for e in status_events] == ["awaiting_image"]


def test_require_case_hides_other_peoples_cases(app, make_user, make_case):
    case_id = make_case(make_user())
    other = make_user()
    with app.app_context():
        actor = db.session.get(User, other.id)
        with pytest.raises(NotFound) as caught:
            cases.require_case(actor=actor, case_id=case_id)
        assert caught.value.code == "case_not_found"
