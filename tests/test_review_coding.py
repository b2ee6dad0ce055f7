"""A review whose ICD-10 code contradicts its diagnosis is refused (422 ``icd10_mismatch``):
"Melanoma" with the nevus code D22.9 was stored, counted as benign by the statistics and as
agreement by the code, and carried into FHIR and the export. A free-text diagnosis the
vocabulary does not know keeps any valid code; a contradiction the physician confirms is kept,
and its agreement is asked, never worked out from the code."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.fixtures.analysed import analysed_case, differential, stored_case
from tests.fixtures.portal import csrf_token

#: The AI's top suggestion is the nevus, as in the tester's portal report.
NEVUS_FIRST = differential(
    ("Melanocytic nevus", "D22.9", 0.58),
    ("Melanoma", "C43.9", 0.21),
    ("Basal cell carcinoma", "C44.91", 0.08),
    ("Squamous cell carcinoma", "C44.92", 0.05),
)


@pytest.fixture
def physician(make_user):
    return make_user(full_name="Dr. Code")


@pytest.fixture
def case_id(app, physician):
    with app.app_context():
        found = analysed_case(physician, predictions=NEVUS_FIRST)
        db.session.remove()
    return found


def _review(client, headers, case_id, **body):
    return client.post(f"/api/cases/{case_id}/review", json=body, headers=headers)


def test_api_melanoma_with_the_nevus_code_is_refused(client, app, physician, api_headers, case_id):
    response = _review(
        client, api_headers(physician), case_id, final_diagnosis="Melanoma", icd10="D22.9"
    )
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "icd10_mismatch"
    for part in ("Melanoma", "D22.9", "C43.9"):
        assert part in error["message"]
    assert error["details"]["expected_icd10"] == "C43.9"
    assert "icd10" in error["details"]
    with app.app_context():
        case = stored_case(case_id)
        assert (case.status, case.final_diagnosis, case.final_icd10) == ("analyzed", None, None)


@pytest.mark.parametrize(
    "pair",
    [
        ("melanocytic  nevus", "C43.9"),  # the names are matched ignoring case and spacing
        ("Squamous cell carcinoma", "C44.91"),  # same category, but basal cell carcinoma's code
        ("Psoriasis", "C43.9"),  # a known diagnosis that is not in this differential
    ],
)
def test_api_other_contradictions_are_refused(client, physician, api_headers, case_id, pair):
    name, code = pair
    response = _review(client, api_headers(physician), case_id, final_diagnosis=name, icd10=code)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "icd10_mismatch"


def test_api_a_more_specific_code_of_the_same_diagnosis_is_kept(
    client, physician, api_headers, case_id
):
    response = _review(
        client, api_headers(physician), case_id, final_diagnosis="Melanoma", icd10="c43.5"
    )
    assert response.status_code == 200, response.get_json()
    review = response.get_json()["review"]
    assert (review["final_icd10"], review["agreement"]) == ("C43.5", "in_differential")


def test_api_free_text_diagnosis_keeps_any_valid_code(client, physician, api_headers, case_id):
    response = _review(
        client,
        api_headers(physician),
        case_id,
        final_diagnosis="Lentigo simplex",
        icd10="L81.4",
        agreement="differs",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["review"]["final_icd10"] == "L81.4"


def test_api_confirmed_contradiction_is_kept_and_its_agreement_asked(
    client, app, physician, api_headers, case_id
):
    headers = api_headers(physician)
    body = {"final_diagnosis": "Melanoma", "icd10": "D22.9", "confirm_icd10": True}
    response = _review(client, headers, case_id, **body)
    assert response.status_code == 422, response.get_json()
    assert "agreement" in response.get_json()["error"]["details"]  # not derived from D22.9
    response = _review(client, headers, case_id, **body, agreement="in_differential")
    assert response.status_code == 200, response.get_json()
    review = response.get_json()["review"]
    assert (review["final_icd10"], review["agreement"]) == ("D22.9", "in_differential")
    with app.app_context():
        from app.models import AuditEvent

        event = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.action == "case.review")
        ).one()
        assert event.details["icd10_confirmed"] == {"expected_icd10": "C43.9"}


def test_portal_contradiction_shown_inline_then_confirmable(
    client, app, physician, portal_login, case_id
):
    portal_login(physician, client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "final_diagnosis": "Melanoma", "icd10": "D22.9"}
    response = client.post(f"/cases/{case_id}/review", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "C43.9" in html and "D22.9" in html
    assert 'name="confirm_icd10"' in html
    assert 'id="saved-review"' not in html  # nothing signed
    with app.app_context():
        assert stored_case(case_id).status == "analyzed"
    form["icd10"] = ""
    response = client.post(f"/cases/{case_id}/review", data=form)
    assert response.status_code == 303
    with app.app_context():
        case = stored_case(case_id)
        assert (case.final_icd10, case.ai_agreement) == ("C43.9", "in_differential")
