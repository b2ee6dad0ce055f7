"""Answers of a case through the API: a case opened by ``POST /api/cases`` starts with the same
answers as one opened by the portal form (age, sex, body site), and each answer posted to
``POST /api/cases/<id>/answers`` is checked against the question the AI Service asks for it."""

from __future__ import annotations

import pytest

from tests.fixtures.cases import case_payload


@pytest.fixture
def headers(make_user, api_headers):
    return api_headers(make_user(email="answers@example.org"))


def open_case(client, headers, **overrides):
    response = client.post("/api/cases", json=case_payload(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_api_case_starts_with_the_answers_its_facts_give(ai_client, headers):
    case = open_case(ai_client, headers, patient_age=45, patient_sex="female", body_site="back")
    assert case["anamnesis"] == {"age": 45, "sex": "female", "location1.primary": "back"}
    assert case["answer_order"] == ["age", "sex", "location1.primary"]
    assert case["status"] == "questionnaire"
    # the AI's next question is the first one the facts do not answer
    question = ai_client.post("/api/ai/next_question", json=case["anamnesis"], headers=headers)
    assert question.get_json()["fieldName"] == "duration"


def test_api_case_with_unknown_facts_leaves_them_to_the_questionnaire(ai_client, headers):
    case = open_case(ai_client, headers, patient_sex="unknown", body_site="nail")
    assert case["anamnesis"] == {"age": 54}


def test_answers_with_a_stale_if_match_are_refused_412(ai_client, headers):
    case = open_case(ai_client, headers)
    url = f"/api/cases/{case['id']}"
    etag = ai_client.get(url, headers=headers).headers["ETag"]
    first = ai_client.post(
        f"{url}/answers", json={"duration": "<1 week"}, headers={**headers, "If-Match": etag}
    )
    assert first.status_code == 200, first.get_json()
    assert first.headers["ETag"] != etag
    assert ai_client.get(url, headers=headers).headers["ETag"] == first.headers["ETag"]

    stale = ai_client.post(
        f"{url}/answers", json={"duration": ">1 month"}, headers={**headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    error = stale.get_json()["error"]
    assert error["code"] == "precondition_failed"
    assert error["details"] == {"etag": first.headers["ETag"]}
    assert ai_client.get(url, headers=headers).get_json()["anamnesis"]["duration"] == "<1 week"
    # a client sending no precondition still works
    plain = ai_client.post(f"{url}/answers", json={"duration": ">1 month"}, headers=headers)
    assert plain.status_code == 200
    assert plain.get_json()["anamnesis"]["duration"] == ">1 month"
