"""What drove the result (evidence) and a visible low-quality override: the reference AI over
real HTTP, pytest-httpserver for an AI without evidence and for an overridden confident tier."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from app.services.clinical_record.evidence import evidence_summary
from tests.fixtures.portal import log_in
from tests.test_api_diagnosis import (
    PHOTOS,
    PREDICTION,
    RED_FLAGS,
    TRIAGE,
    VALIDITY_OK,
    diagnose,
)


def _fake_ai(server: HTTPServer, *, validity=VALIDITY_OK, prediction=PREDICTION, flags=RED_FLAGS):
    server.expect_request("/api/v1/image_quality/validate").respond_with_json(validity)
    server.expect_request("/api/v1/diagnosis/predict").respond_with_json(prediction)
    server.expect_request("/api/v1/diagnosis/red_flags").respond_with_json(flags)
    server.expect_request("/api/v1/diagnosis/triage").respond_with_json(TRIAGE)


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_every_reference_analysis_shows_the_photo_alone_differential(
    ai_client, ai_app, make_user, api_headers, photo
):
    user = make_user()
    body = diagnose(ai_client, api_headers(user), photo).get_json()
    evidence = body["evidence"]
    assert 1 <= len(evidence["image_only"]) <= 5 and 1 <= len(evidence["anamnesis_only"]) <= 5
    assert all(0 <= item["probability"] <= 1 for item in evidence["image_only"])
    portal = ai_app.test_client()
    assert log_in(portal, user.email).status_code == 302
    page = portal.get(f"/cases/{body['case_id']}").get_data(as_text=True)
    top = evidence["image_only"][0]["disease"]
    assert "Photo alone" in page and top in page
    report = portal.get(f"/cases/{body['case_id']}/report").get_data(as_text=True)
    assert "photo alone" in report.lower()


def test_the_photo_and_the_answers_give_different_differentials(ai_client, make_user, api_headers):
    headers = api_headers(make_user())
    melanoma_answers = {
        "age": 72,
        "morphology": "pigmented spot or mole",
        "changed_recently": True,
        "bleeding": True,
        "color": ["brown", "black", "blue-grey"],
    }
    with_answers = diagnose(ai_client, headers, PHOTOS[0], melanoma_answers).get_json()
    alone = diagnose(ai_client, headers, PHOTOS[0], {}).get_json()
    # The photo's part does not depend on the answers; the answers' part does.
    assert with_answers["evidence"]["image_only"] == alone["evidence"]["image_only"]
    assert with_answers["evidence"]["anamnesis_only"] != alone["evidence"]["anamnesis_only"]


def test_without_evidence_the_page_says_it_is_not_available(
    fake_ai_app, httpserver, make_user, api_headers
):
    _fake_ai(httpserver)
    user = make_user()
    client = fake_ai_app.test_client()
    body = diagnose(client, api_headers(user)).get_json()
    assert body["evidence"] is None
    assert log_in(client, user.email).status_code == 302
    page = client.get(f"/cases/{body['case_id']}").get_data(as_text=True)
    assert "Not available: this AI service does not say" in page


def test_an_overridden_photo_is_never_confident_and_says_so_everywhere(
    fake_ai_app, httpserver, make_user, api_headers
):
    dark = dict(VALIDITY_OK, isValid=False, score=0.23, issues=["Poor lighting detected"])
    confident = dict(PREDICTION, tier="confident", confidence=0.99, refer_to_specialist=False)
    calm = {"hasRedFlags": False, "flags": [], "urgency": "low", "recommendation": "None"}
    _fake_ai(httpserver, validity=dark, prediction=confident, flags=calm)
    user = make_user()
    client = fake_ai_app.test_client()
    headers = api_headers(user)
    assert diagnose(client, headers).status_code == 422  # unusable without the override
    body = diagnose(client, headers, accept_low_quality=True).get_json()
    assert body["analysed_despite_low_quality"] is True
    assert body["tier"] == "possible"
    case = client.get(f"/api/cases/{body['case_id']}", headers=headers).get_json()
    analysis = case["latest_analysis"]
    assert analysis["analysed_despite_low_quality"] is True and analysis["tier"] == "possible"
    assert analysis["ai_responses"]["prediction"]["tier"] == "confident"  # the AI's own word
    assert log_in(client, user.email).status_code == 302
    page = client.get(f"/cases/{body['case_id']}").get_data(as_text=True)
    assert "Analysed despite low photo quality" in page  # on the headline
    assert "Photo analysed despite low quality" in page  # on the confidence card
    assert ">Confident<" not in page
    report = client.get(f"/cases/{body['case_id']}/report").get_data(as_text=True)
    assert "Analysed despite low photo quality" in report


def test_a_usable_photo_keeps_the_ais_tier(fake_ai_app, httpserver, make_user, api_headers):
    confident = dict(PREDICTION, tier="confident", confidence=0.99)
    _fake_ai(httpserver, prediction=confident)
    body = diagnose(
        fake_ai_app.test_client(), api_headers(make_user()), accept_low_quality=True
    ).get_json()
    assert body["tier"] == "confident" and body["analysed_despite_low_quality"] is False


# --- the words ------------------------------------------------------------------------------

PREDICTIONS = [{"disease": "Melanoma", "probability": 0.99}]


def test_evidence_in_words_and_a_disagreement_said_in_words():
    evidence = {
        "image_only": [
            {"disease": "Seborrheic keratosis", "probability": 0.31},
            {"disease": "Melanoma", "probability": 0.12},
        ],
        "anamnesis_only": [{"disease": "Melanoma", "probability": 0.9}],
    }
    summary = evidence_summary(evidence, PREDICTIONS)
    assert summary.available
    assert summary.photo == "Seborrheic keratosis 31 %, Melanoma 12 %"
    assert summary.answers == "Melanoma 90 %"
    assert summary.disagreement == (
        "The photo and the answers disagree: the photo alone points to Seborrheic keratosis, "
        "the answers alone to Melanoma; the combined result follows the answers."
    )


def test_agreement_says_nothing_more_and_no_evidence_is_not_invented():
    same = {
        "image_only": [{"disease": "Melanoma", "probability": 0.6}],
        "anamnesis_only": [{"disease": "Melanoma", "probability": 0.7}],
    }
    assert evidence_summary(same, PREDICTIONS).disagreement is None
    assert evidence_summary(None, PREDICTIONS).available is False
    assert evidence_summary({}, PREDICTIONS).photo == ""
