"""A histology report cannot predate the visit it follows: an outcome dated 1990-01-01 on a
case opened today was accepted and shown in the case, the report, FHIR and the statistics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.models import User
from app.services import diagnosis, outcomes
from tests.fixtures.analysed import analysed_case, differential
from tests.fixtures.portal import csrf_token

MEL = differential(("Melanoma", "C43.9", 0.7), ("Melanocytic nevus", "D22.9", 0.2))
VISIT = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def physician(make_user):
    return make_user(full_name="Dr. Dates")


@pytest.fixture
def case_id(app, physician):
    with app.app_context():
        found = analysed_case(physician, predictions=MEL, visited_at=VISIT)
        diagnosis.review_case(
            actor=db.session.get(User, physician.id), case_id=found, final_diagnosis="Melanoma"
        )
        db.session.remove()
    return found


def _outcome(client, headers, case_id, when):
    body = {"diagnosis": "Compound nevus", "icd10": "D22.5", "outcome_date": when}
    return client.post(f"/api/cases/{case_id}/outcome", json=body, headers=headers)


def test_api_report_before_the_visit_is_refused(client, app, physician, api_headers, case_id):
    headers = api_headers(physician)
    response = _outcome(client, headers, case_id, "1990-01-01")
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["error"]["details"]["outcome_date"]
    assert "2026-11-10" in message and "1990-01-01" in message
    assert _outcome(client, headers, case_id, "2026-11-09").status_code == 422
    with app.app_context():
        assert outcomes.outcome_of(case_id) is None
    response = _outcome(client, headers, case_id, "2026-11-10")  # the day of the visit
    assert response.status_code == 201, response.get_json()


def test_portal_report_before_the_visit_is_an_inline_message(
    client, physician, portal_login, case_id
):
    portal_login(physician, client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(page),
        "diagnosis": "Compound nevus",
        "icd10": "D22.5",
        "outcome_date": "1990-01-01",
    }
    response = client.post(f"/cases/{case_id}/outcome", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "before the visit" in html and "2026-11-10" in html
