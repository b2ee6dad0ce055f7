"""The differential: shape and invariants on real photos, the tier rule, and sensible answers."""

from __future__ import annotations

from typing import Any

import pytest

from reference_ai import anamnesis as A
from reference_ai.anamnesis import read_findings
from reference_ai.colour import NO_LESION
from reference_ai.prediction import (
    CONDITIONS,
    confidence_label,
    highlight_count,
    predict,
    probabilities,
    tier_for,
)
from reference_ai.tests.conftest import GOOD_PHOTOS, photo_body

URL = "/api/v1/diagnosis/predict"

ICD10 = {
    "Melanoma": "C43.9",
    "Melanocytic nevus": "D22.9",
    "Basal cell carcinoma": "C44.91",
    "Squamous cell carcinoma": "C44.92",
    "Actinic keratosis": "L57.0",
    "Seborrheic keratosis": "L82.1",
    "Dermatofibroma": "D23.9",
    "Vascular lesion": "D18.00",
    "Eczema": "L30.9",
    "Psoriasis": "L40.9",
    "Acne": "L70.0",
    "Rosacea": "L71.9",
    "Contact dermatitis": "L25.9",
    "Tinea": "B35.9",
    "Urticaria": "L50.9",
}


def predict_over_http(client, anamnesis: dict[str, Any], path) -> dict[str, Any]:
    response = client.post(URL, json={"anamnesis": anamnesis, "images": [photo_body(path)]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("path", GOOD_PHOTOS, ids=lambda p: p.name)
def test_empty_anamnesis_and_a_real_photo_give_a_valid_distribution(client, path):
    result = predict_over_http(client, {}, path)
    diagnoses = result["diagnoses"]
    probs = [d["probability"] for d in diagnoses]
    assert {d["disease"] for d in diagnoses} == set(ICD10)
    assert all(0 <= p <= 1 for p in probs)
    assert probs == sorted(probs, reverse=True)
    assert 0.5 < sum(probs) <= 1
    assert all(d["icd10"] == ICD10[d["disease"]] for d in diagnoses)
    assert all(d["confidence"] == confidence_label(d["probability"]) for d in diagnoses)
    assert result["confidence"] == probs[0]
    assert result["tier"] == tier_for(probs[0])
    assert result["highlight_count"] == highlight_count(result["tier"], probs)
    assert isinstance(result["refer_to_specialist"], bool)
    assert result["metadata"]["model_version"].startswith("reference-")
    assert result["metadata"]["inference_time_ms"] >= 0
    # A photo alone is not enough to be confident; it is still a spread, not a uniform guess.
    assert result["tier"] == "refer"
    assert probs[0] > 2 * probs[-1]


def test_evidence_is_the_photo_alone_and_the_answers_alone(client, mel_photo):
    answers = {A.AGE: 25, A.SEX: "female"}
    result = predict_over_http(client, answers, mel_photo)
    evidence = result["evidence"]
    assert len(evidence["image_only"]) == 5 and len(evidence["anamnesis_only"]) == 5
    for side in evidence.values():
        probs = [item["probability"] for item in side]
        assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs)
        assert all(item["icd10"] == ICD10[item["disease"]] for item in side)
    # The photo's side does not move with the answers, and the answers' side not with the photo.
    other_answers = predict_over_http(client, {A.AGE: 80}, mel_photo)["evidence"]
    assert other_answers["image_only"] == evidence["image_only"]
    assert other_answers["anamnesis_only"] != evidence["anamnesis_only"]
    vascular = next(path for path in GOOD_PHOTOS if path.name.startswith("vasc"))
    other_photo = predict_over_http(client, answers, vascular)["evidence"]
    assert other_photo["anamnesis_only"] == evidence["anamnesis_only"]
    assert other_photo["image_only"] != evidence["image_only"]


def test_photos_move_the_differential(client):
    by_name = {path.name.split("_")[0]: path for path in GOOD_PHOTOS}
    assert predict_over_http(client, {}, by_name["mel"])["diagnoses"][0]["disease"] == "Melanoma"
    vascular = predict_over_http(client, {}, by_name["vasc"])["diagnoses"][0]["disease"]
    assert vascular == "Vascular lesion"


def test_prediction_is_deterministic(client, mel_photo):
    first = predict_over_http(client, {A.AGE: 60}, mel_photo)
    second = predict_over_http(client, {A.AGE: 60}, mel_photo)
    for result in (first, second):
        del result["metadata"]["inference_time_ms"]
    assert first == second


@pytest.mark.parametrize(
    ("probability", "tier"),
    [(0.815, "confident"), (0.8149, "possible"), (0.444, "possible"), (0.4439, "refer")],
)
def test_tier_boundaries(probability, tier):
    assert tier_for(probability) == tier


@pytest.mark.parametrize(
    ("tier", "probs", "count"),
    [
        ("confident", [0.9, 0.05], 1),
        ("possible", [0.5, 0.3, 0.1], 2),
        ("possible", [0.45, 0.26, 0.26, 0.26], 3),  # at most 3
        ("possible", [0.5, 0.25, 0.2], 1),  # strictly above 0.25
        ("refer", [0.3, 0.29], 0),
    ],
)
def test_highlight_count(tier, probs, count):
    assert highlight_count(tier, probs) == count


def test_probabilities_leave_room_for_other_conditions():
    probs = probabilities({c.key: 0.0 for c in CONDITIONS})
    assert sum(probs.values()) < 1
    extreme = probabilities({c.key: (50.0 if c.key == "melanoma" else -50.0) for c in CONDITIONS})
    assert sum(extreme.values()) <= 1


SCENARIOS = {
    "Melanoma": {
        A.AGE: 62,
        A.SITE: "back",
        A.DURATION: "3-12 months",
        A.MORPHOLOGY: A.PIGMENTED,
        A.COLOR: ["light brown", "dark brown", "black"],
        A.PIGMENTED_FEATURES: [A.ASYMMETRIC, A.IRREGULAR_BORDER],
        A.DIAMETER: 9,
        A.CHANGED: True,
        A.CHANGE_FEATURES: [A.CHANGE_SIZE, A.CHANGE_COLOUR],
    },
    "Melanocytic nevus": {
        A.AGE: 24,
        A.DURATION: ">1 year",
        A.MORPHOLOGY: A.PIGMENTED,
        A.COLOR: ["light brown"],
        A.PIGMENTED_FEATURES: [],
        A.DIAMETER: 4,
        A.CHANGED: False,
    },
    "Basal cell carcinoma": {
        A.AGE: 72,
        A.SITE: "face",
        A.DURATION: ">1 year",
        A.MORPHOLOGY: A.BUMP,
        A.COLOR: ["pink or red", "skin-coloured"],
        A.SURFACE: [A.SURFACE_ULCERATED],
        A.BLEEDING: True,
    },
    "Eczema": {
        A.AGE: 8,
        A.MORPHOLOGY: A.RED_RASH,
        A.LESION_COUNT: "more than 10",
        A.DISTRIBUTION: A.DIST_FLEXURAL,
        A.RASH_FEATURES: [A.RASH_SCALY],
        A.ITCH: 4,
    },
    "Psoriasis": {
        A.AGE: 35,
        A.DURATION: ">1 year",
        A.MORPHOLOGY: A.RED_RASH,
        A.LESION_COUNT: "2-10",
        A.DISTRIBUTION: A.DIST_EXTENSOR,
        A.RASH_FEATURES: [A.RASH_SILVERY],
    },
    "Acne": {
        A.AGE: 16,
        A.SITE: "face",
        A.MORPHOLOGY: A.PUSTULES,
        A.RASH_FEATURES: [A.RASH_COMEDONES],
    },
    "Urticaria": {
        A.MORPHOLOGY: A.WHEALS,
        A.DURATION: "<1 week",
        A.RASH_FEATURES: [A.RASH_TRANSIENT],
        A.ITCH: 5,
    },
    "Tinea": {A.MORPHOLOGY: A.RED_RASH, A.RASH_FEATURES: [A.RASH_RING, A.RASH_SCALY]},
    "Contact dermatitis": {
        A.MORPHOLOGY: A.RED_RASH,
        A.DURATION: "<1 week",
        A.RASH_FEATURES: [A.RASH_CONTACT, A.RASH_BLISTERS],
        A.ITCH: 4,
    },
}


@pytest.mark.parametrize(("expected", "answers"), SCENARIOS.items(), ids=SCENARIOS.keys())
def test_typical_answers_put_the_typical_condition_first(expected, answers):
    result = predict(read_findings(answers), NO_LESION)
    assert result["diagnoses"][0]["disease"] == expected
    assert result["tier"] in {"confident", "possible"}


def test_classic_melanoma_is_confident_and_referred():
    result = predict(read_findings(SCENARIOS["Melanoma"]), NO_LESION)
    assert result["tier"] == "confident"
    assert result["highlight_count"] == 1
    assert result["refer_to_specialist"] is True
    assert result["diagnoses"][0]["confidence"] == "high"


def test_typical_nevus_is_not_referred():
    result = predict(read_findings(SCENARIOS["Melanocytic nevus"]), NO_LESION)
    assert result["refer_to_specialist"] is False


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"images": []}, 422),  # anamnesis missing
        ({"anamnesis": {}}, 422),  # images missing
        ({"anamnesis": {}, "images": []}, 422),
        ({"anamnesis": {}, "images": "x"}, 422),
        ({"anamnesis": {}, "images": [{"imageData": "%%%"}]}, 400),
        ({"anamnesis": [], "images": [{"imageData": "aGk="}]}, 422),
    ],
)
def test_bad_predict_bodies(client, body, status):
    response = client.post(URL, json=body)
    assert response.status_code == status
    assert response.get_json()["detail"]
