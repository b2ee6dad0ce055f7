"""The patient's consent on the case page: the form (JavaScript off and htmx), the advisory
warning, and CONSENT_POLICY=enforced holding the questionnaire and the photo step until the
consent is recorded, with nothing entered lost (reference AI over real HTTP)."""

from __future__ import annotations

import io
import re

import pytest

from app.extensions import db
from app.models import CaseConsent, CaseImage, User
from app.services import consent
from tests.fixtures.cases import MELANOMA
from tests.fixtures.consent import count_rows
from tests.fixtures.portal import csrf_token, htmx, ready_for_photo


@pytest.fixture
def physician(make_user):
    return make_user(email="consent@example.org", full_name="Dr. Consent")


@pytest.fixture
def client_ai(ai_app, physician, portal_login):
    return portal_login(physician, ai_app.test_client())


def page(client, case_id, status=200) -> str:
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == status
    return response.get_data(as_text=True)


def post_consent(client, case_id, headers=None, **decisions):
    token = csrf_token(page(client, case_id))
    return client.post(
        f"/cases/{case_id}/consent", data={"csrf_token": token, **decisions}, headers=headers or {}
    )


def record(app, user, case_id, **decisions):
    with app.app_context():
        consent.record_consent(
            actor=db.session.get(User, user.id), case_id=case_id, decisions=decisions
        )
        db.session.remove()


def test_advisory_warns_and_the_form_records_consent_without_javascript(
    client_ai, ai_app, physician, make_case
):
    case_id = make_case(physician)
    html = page(client_ai, case_id)
    assert "Patient consent" in html
    assert "The patient&#39;s consent to AI analysis is not recorded." in html
    assert html.count("Not recorded") == 3
    assert 'name="question"' in html  # advisory holds nothing back

    response = post_consent(
        client_ai,
        case_id,
        ai_analysis="granted",
        image_storage="granted",
        teaching_research="refused",
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{case_id}#consent")
    html = page(client_ai, case_id)
    assert "Consent saved." in html
    assert "consent to AI analysis is not recorded" not in html
    assert html.count('class="consent-granted"') == 2
    assert html.count('class="consent-refused"') == 1
    assert "by Dr. Consent" in html
    assert re.search(r'<input checked id="consent-teaching_research-1"[^>]*value="refused"', html)

    post_consent(client_ai, case_id, teaching_research="granted")
    html = page(client_ai, case_id)
    assert "Earlier decisions" in html and "Teaching and research use: refused" in html
    assert count_rows(ai_app, CaseConsent, case_id) == 4


def test_the_form_over_htmx_answers_the_case_region(client_ai, ai_app, physician, make_case):
    case_id = make_case(physician)
    response = post_consent(client_ai, case_id, headers=htmx("case"), ai_analysis="refused")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="consent"' in html
    assert "Consent saved." in html
    assert "The patient refused AI analysis" in html  # the advisory warning follows


def test_a_consent_form_with_nothing_chosen_is_an_inline_422(
    client_ai, ai_app, physician, make_case
):
    case_id = make_case(physician)
    response = post_consent(client_ai, case_id)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Record at least one scope" in html
    assert 'class="review-edit consent-edit" open' in html
    assert count_rows(ai_app, CaseConsent, case_id) == 0


def test_another_physician_cannot_record_consent(client_ai, ai_app, make_user, make_case):
    case_id = make_case(make_user())
    token = csrf_token(client_ai.get("/cases/new").get_data(as_text=True))
    response = client_ai.post(
        f"/cases/{case_id}/consent", data={"csrf_token": token, "ai_analysis": "granted"}
    )
    assert response.status_code == 404
    assert count_rows(ai_app, CaseConsent, case_id) == 0


# --- CONSENT_POLICY=enforced ------------------------------------------------------------------


@pytest.fixture
def enforced(enforced_app, physician, portal_login):
    return portal_login(physician, enforced_app.test_client())


def test_enforced_holds_the_questionnaire_until_ai_consent_is_recorded(
    enforced, enforced_app, physician, make_case
):
    case_id = make_case(physician)
    html = page(enforced, case_id)
    assert "The questionnaire and the analysis wait for the patient&#39;s consent" in html
    assert "consent to AI analysis is not recorded" in html
    assert 'name="question"' not in html and 'name="photo"' not in html
    assert 'class="review-edit consent-edit" open' in html  # the form at hand

    response = post_consent(enforced, case_id, ai_analysis="granted")
    assert response.status_code == 303
    html = page(enforced, case_id)
    assert "wait for the patient" not in html
    assert 'name="question"' in html  # the questionnaire goes on


def test_enforced_htmx_consent_opens_the_questionnaire_in_the_region(
    enforced, enforced_app, physician, make_case
):
    case_id = make_case(physician)
    response = post_consent(enforced, case_id, headers=htmx("case"), ai_analysis="granted")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'name="question"' in html


def test_enforced_refuses_a_photo_posted_without_consent_and_keeps_the_answers(
    enforced, enforced_app, ai_app, physician
):
    case_id = ready_for_photo(ai_app, physician)  # answered under advisory, then enforced
    with enforced_app.app_context():
        from app.models import Case

        answers = dict(db.session.get(Case, case_id).anamnesis)
        db.session.remove()
    html = page(enforced, case_id)
    assert "wait for the patient" in html
    token = csrf_token(html)
    response = enforced.post(
        f"/cases/{case_id}/photo",
        data={"csrf_token": token, "photo": (io.BytesIO(MELANOMA.read_bytes()), "mel.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "consent to AI analysis is not recorded" in html
    assert 'id="consent"' in html and 'class="review-edit consent-edit" open' in html
    assert count_rows(enforced_app, CaseImage, case_id) == 0
    with enforced_app.app_context():
        from app.models import Case

        assert db.session.get(Case, case_id).anamnesis == answers  # nothing lost
        db.session.remove()
    # The answers are still listed on the page.
    assert "Answers so far" in html or "answers" in html.lower()


def test_enforced_photo_step_waits_when_image_storage_is_refused(
    enforced, enforced_app, ai_app, physician
):
    case_id = ready_for_photo(ai_app, physician)
    record(enforced_app, physician, case_id, ai_analysis="granted", image_storage="refused")
    html = page(enforced, case_id)
    assert "The photo step waits for the patient&#39;s consent" in html
    assert "refused the storage of images" in html
    assert 'name="photo"' not in html
    post_consent(enforced, case_id, image_storage="granted")
    html = page(enforced, case_id)
    assert 'name="photo"' in html and "wait for the patient" not in html


def test_enforced_retry_of_the_analysis_is_refused_inline_after_withdrawal(
    enforced, enforced_app, physician, make_case
):
    case_id = make_case(physician)
    record(enforced_app, physician, case_id, ai_analysis="granted", image_storage="granted")
    token = csrf_token(page(enforced, case_id))
    uploaded = enforced.post(
        f"/cases/{case_id}/photo",
        data={"csrf_token": token, "photo": (io.BytesIO(MELANOMA.read_bytes()), "mel.jpg")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 303
    record(enforced_app, physician, case_id, ai_analysis="refused")
    token = csrf_token(page(enforced, case_id))
    response = enforced.post(
        f"/cases/{case_id}/analysis", data={"csrf_token": token}, headers=htmx("case")
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "The patient refused AI analysis" in html
    assert "AI results" in html  # the earlier results stay on the page


def test_the_report_page_and_pdf_carry_the_consent_in_one_line(
    client_ai, ai_app, physician, make_case
):
    from pypdf import PdfReader

    case_id = make_case(physician)
    record(ai_app, physician, case_id, ai_analysis="granted", teaching_research="refused")
    html = client_ai.get(f"/cases/{case_id}/report").get_data(as_text=True)
    line = "AI analysis: granted · Image storage: not recorded · Teaching and research use: refused"
    assert "<dt>Patient consent</dt>" in html and line in html
    response = client_ai.get(f"/cases/{case_id}/report.pdf")
    assert response.status_code == 200
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "Patient consent" in text
    assert "Teaching and research use: refused" in " ".join(text.split())
