"""Nothing typed is lost at the idle lock: an answer or review posted after the session ended
by inactivity is kept as a draft of that user and case, and filled back into the form (with a
message) after the next login. A cookie replayed after logout leaves nothing behind."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Case, Draft, PortalSession, User
from app.models.base import utcnow
from app.services import questionnaire
from tests.fixtures.cases import case_payload
from tests.fixtures.portal import HTMX, csrf_token, log_in, ready_for_photo
from tests.test_portal_diagnosis import NEVUS, WORRYING

QUESTION_TOKEN = re.compile(r'name="question" value="([^"]+)"')
NOTES = "Dermoscopy: regular network.\nFollow up in 12 months."


@pytest.fixture
def physician(make_user):
    return make_user(email="drafts@example.org", full_name="Dr. Draft")


@pytest.fixture
def browser(ai_app, physician, portal_login):
    return portal_login(physician, ai_app.test_client())


def page(client, case_id) -> str:
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def go_idle(app, user) -> None:
    """Let the user's sessions sit idle past the limit (15 minutes, plus the minute of slack)."""
    with app.app_context():
        db.session.execute(
            update(PortalSession)
            .where(PortalSession.user_id == user.id)
            .values(last_seen_at=utcnow() - timedelta(minutes=17))
        )
        db.session.commit()
        db.session.remove()


def drafts_of(app, user) -> list[Draft]:
    with app.app_context():
        found = list(db.session.scalars(select(Draft).where(Draft.user_id == user.id)))
        db.session.remove()
        return found


def case_row(app, case_id) -> Case:
    with app.app_context():
        case = db.session.get(Case, case_id)
        db.session.expunge(case)
        return case


@pytest.fixture
def analysed(browser, ai_app, physician) -> uuid.UUID:
    case_id = ready_for_photo(ai_app, physician, WORRYING)
    form = {"csrf_token": csrf_token(page(browser, case_id))}
    html = page(browser, case_id)
    if match := QUESTION_TOKEN.search(html):
        form["question"] = match.group(1)
    form["photo"] = (NEVUS.open("rb"), NEVUS.name)
    response = browser.post(
        f"/cases/{case_id}/photo", data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    return case_id


def review(token: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "final_diagnosis": "Melanocytic nevus",
        "icd10": "D22.5",
        "agrees_with_ai": "no",
        "notes": NOTES,
    }


def test_a_review_posted_after_the_idle_end_is_restored_after_the_login(
    ai_app, browser, physician, analysed
):
    token = csrf_token(page(browser, analysed))
    go_idle(ai_app, physician)
    response = browser.post(f"/cases/{analysed}/review", data=review(token))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/cases/{analysed}"
    assert case_row(ai_app, analysed).reviewed_at is None  # nothing recorded as a review
    [draft] = drafts_of(ai_app, physician)
    assert draft.form == "review" and draft.case_id == analysed
    assert draft.fields["notes"] == [NOTES] and "csrf_token" not in draft.fields

    login = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing is lost" in unescape(login)
    response = browser.post(
        f"/login?next=/cases/{analysed}",
        data={
            "csrf_token": csrf_token(login),
            "email": physician.email,
            "password": "Correct-horse-42",
        },
    )
    assert response.headers["Location"] == f"/cases/{analysed}"
    html = unescape(page(browser, analysed))
    assert "What you sent after the page locked was kept: your review" in html
    assert NOTES in html and 'value="Melanocytic nevus"' in html and 'value="D22.5"' in html
    assert 'class="review-form" data-draft="restored"' in html  # kept again at the next lock
    assert drafts_of(ai_app, physician) == []  # handed back once
    assert NOTES not in unescape(page(browser, analysed))


def test_an_htmx_answer_after_the_idle_end_is_kept_and_restored(ai_app, browser, physician):
    with ai_app.app_context():
        actor = db.session.get(User, physician.id)
        case_id = questionnaire.open_case(actor=actor, **case_payload()).id
        db.session.remove()
    html = page(browser, case_id)
    assert "How long has it been present?" in html
    data = {
        "csrf_token": csrf_token(html),
        "question": QUESTION_TOKEN.search(html).group(1),
        "answer": "1-3 months",
    }
    go_idle(ai_app, physician)
    response = browser.post(f"/cases/{case_id}/answers", data=data, headers=HTMX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == f"/login?next=/cases/{case_id}"
    assert "duration" not in case_row(ai_app, case_id).anamnesis

    log_in(browser, physician.email)
    html = unescape(page(browser, case_id))
    assert "your answer is filled in" in html
    assert 'value="1-3 months" class="choice chosen"' in html  # one-click answers (buttons)
    assert 'class="question-form" data-draft="restored"' in html


def test_a_cookie_replayed_after_logout_leaves_no_draft(ai_app, browser, physician, analysed):
    token = csrf_token(page(browser, analysed))
    saved = browser.get_cookie("session").value
    browser.post("/logout", data={"csrf_token": token})
    thief = ai_app.test_client()
    thief.set_cookie("session", saved)
    response = thief.post(f"/cases/{analysed}/review", data=review(token))
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert drafts_of(ai_app, physician) == []


def test_a_draft_needs_the_sessions_csrf_token(ai_app, browser, physician, analysed):
    page(browser, analysed)
    go_idle(ai_app, physician)
    response = browser.post(f"/cases/{analysed}/review", data=review("forged"))
    assert response.status_code == 302
    assert drafts_of(ai_app, physician) == []


def test_no_draft_for_a_case_of_someone_else(ai_app, browser, physician, make_user, make_case):
    other = make_case(make_user(email="other@example.org"))
    token = csrf_token(page(browser, ready_for_photo(ai_app, physician)))
    go_idle(ai_app, physician)
    response = browser.post(f"/cases/{other}/review", data=review(token))
    assert response.status_code == 302
    assert drafts_of(ai_app, physician) == []


def test_a_later_draft_of_the_same_form_replaces_the_earlier(ai_app, browser, physician, analysed):
    token = csrf_token(page(browser, analysed))
    go_idle(ai_app, physician)
    browser.post(f"/cases/{analysed}/review", data=review(token))
    browser.post(f"/cases/{analysed}/review", data={**review(token), "notes": "Second try."})
    [draft] = drafts_of(ai_app, physician)
    assert draft.fields["notes"] == ["Second try."]
