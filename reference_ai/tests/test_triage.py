"""Triage: priority, action and window from red-flag urgency and the top diagnosis."""

from __future__ import annotations

import pytest

from reference_ai import anamnesis as A
from reference_ai.triage import BANDS, triage

URL = "/api/v1/diagnosis/triage"
NEVUS = [{"disease": "Melanocytic nevus", "probability": 0.9}]


def flags(urgency: str, count: int = 1) -> dict:
    if urgency == "low":
        count = 0
    return {"urgency": urgency, "flags": [{"description": f"flag {i}"} for i in range(count)]}


@pytest.mark.parametrize(
    ("urgency", "priority", "action", "wait"),
    [
        ("emergency", "emergency", "emergency_referral_now", "immediately"),
        ("high", "urgent", "urgent_dermatology_referral_2_weeks", "2 weeks"),
        ("medium", "soon", "physician_review_within_24h", "24 hours"),
        ("low", "routine", "routine_dermatology_review", "4-6 weeks"),
    ],
)
def test_red_flag_urgency_sets_the_priority(urgency, priority, action, wait):
    result = triage(red_flags=flags(urgency), diagnoses=NEVUS)
    assert result["priority"] == priority
    assert result["recommendedAction"] == action
    assert result["estimatedWaitTime"] == wait
    start, end = BANDS[priority]
    assert start <= result["urgencyScore"] <= end
    assert result["reasoning"]


@pytest.mark.parametrize(
    ("top", "priority"),
    [
        ({"disease": "Melanoma", "probability": 0.6}, "urgent"),
        ({"disease": "Squamous cell carcinoma", "probability": 0.444}, "urgent"),
        ({"disease": "Basal cell carcinoma", "probability": 0.7}, "soon"),
        ({"disease": "Seborrheic keratosis", "probability": 0.3}, "soon"),  # tier refer
        ({"disease": "Seborrheic keratosis", "probability": 0.7}, "routine"),
    ],
)
def test_top_diagnosis_raises_the_priority(top, priority):
    result = triage(red_flags=flags("low"), diagnoses=[top])
    assert result["priority"] == priority


def test_top_diagnosis_never_lowers_red_flag_priority():
    result = triage(red_flags=flags("emergency"), diagnoses=NEVUS)
    assert result["priority"] == "emergency"


def test_more_flags_and_cancer_probability_raise_the_score_within_the_band():
    one = triage(red_flags=flags("high", 1), diagnoses=NEVUS)["urgencyScore"]
    three = triage(red_flags=flags("high", 3), diagnoses=NEVUS)["urgencyScore"]
    assert 7 <= one < three <= 9


def test_red_flags_are_evaluated_when_not_given(client):
    anamnesis = {A.MORPHOLOGY: A.RED_RASH, A.FEVER: True, A.SPREADING_REDNESS: True}
    response = client.post(URL, json={"anamnesis": anamnesis, "diagnoses": []})
    assert response.status_code == 200
    assert response.get_json()["priority"] == "emergency"


def test_given_red_flags_are_used_over_http(client):
    body = {"anamnesis": {}, "diagnoses": NEVUS, "redFlags": flags("high")}
    result = client.post(URL, json=body).get_json()
    assert result["priority"] == "urgent"
    assert result["model_version"].startswith("reference-")


@pytest.mark.parametrize(
    "body",
    [
        {"anamnesis": {}, "redFlags": {"urgency": "very"}},
        {"anamnesis": {}, "redFlags": {"urgency": "low", "flags": "none"}},
        {"anamnesis": {}, "diagnoses": [{"disease": "Melanoma", "probability": 1.5}]},
        {"anamnesis": {}, "diagnoses": {"disease": "Melanoma"}},
        {"diagnoses": []},
    ],
)
def test_bad_triage_bodies(client, body):
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.get_json()["detail"]
