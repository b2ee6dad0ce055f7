"""REFERENCE_AI_MODEL: the older reference model scores the answers only, deterministically."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from reference_ai import Settings, create_app

PHOTO = Path(__file__).resolve().parents[3] / "shared" / "samples" / "images"
ANAMNESIS = {
    "age": 45,
    "morphology": "pigmented spot or mole",
    "color": ["light brown"],
    "diameter_mm": 6,
}


def _predict(model_version: str, photo: str) -> dict:
    client = create_app(Settings(model_version=model_version)).test_client()
    image = base64.b64encode((PHOTO / photo).read_bytes()).decode()
    body = {"anamnesis": ANAMNESIS, "images": [{"imageData": image, "contentType": "image/jpeg"}]}
    response = client.post("/api/v1/diagnosis/predict", json=body)
    assert response.status_code == 200
    assert client.get("/api/v1/health").get_json()["model_version"] == model_version
    return response.get_json()


def test_the_older_model_ignores_the_photo_and_gives_no_evidence():
    older = [
        _predict("reference-0.9", photo)
        for photo in ("nv_ISIC_0026828.jpg", "mel_ISIC_0033454.jpg")
    ]
    assert older[0]["diagnoses"] == older[1]["diagnoses"]  # the photo changes nothing
    assert older[0]["metadata"]["model_version"] == older[0]["model_version"] == "reference-0.9"
    assert "evidence" not in older[0]
    current = _predict("reference-1.0", "mel_ISIC_0033454.jpg")
    assert current["diagnoses"] != older[1]["diagnoses"] and "evidence" in current
    again = _predict("reference-0.9", "mel_ISIC_0033454.jpg")  # deterministic
    assert again["diagnoses"] == older[1]["diagnoses"] and again["tier"] == older[1]["tier"]


def test_an_unknown_model_stops_the_service(monkeypatch):
    monkeypatch.setenv("REFERENCE_AI_MODEL", "reference-2.0")
    with pytest.raises(ValueError, match="REFERENCE_AI_MODEL"):
        Settings.from_env()
