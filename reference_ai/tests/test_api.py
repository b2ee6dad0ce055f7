"""Cross-cutting behaviour: health, error shape, service token, delay, tracing, settings."""

from __future__ import annotations

import logging
import time

import pytest

from reference_ai import Settings, create_app
from reference_ai.tests.conftest import photo_body

POSTS = [
    "/api/v1/questionnaire/next",
    "/api/v1/image_quality/validate",
    "/api/v1/diagnosis/predict",
    "/api/v1/diagnosis/red_flags",
    "/api/v1/diagnosis/triage",
]


def test_health_says_not_for_clinical_use(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "healthy"
    assert body["model_version"] == "reference-1.0"
    assert body["clinical_use"] is False
    assert "not for clinical use" in body["notice"]


@pytest.mark.parametrize("url", POSTS)
def test_body_that_is_not_a_json_object_is_a_400(client, url):
    for data in ("not json", "[1, 2]"):
        response = client.post(url, data=data, content_type="application/json")
        assert response.status_code == 400
        assert "JSON object" in response.get_json()["detail"]


@pytest.mark.parametrize("url", [u for u in POSTS if "image_quality" not in u])
@pytest.mark.parametrize(
    ("anamnesis", "words"),
    [
        (None, "required"),
        ([], "object"),
        ("age=5", "object"),
        ({"age": {"value": 5}}, "'age'"),
        ({"color": ["brown", 3]}, "'color'"),
        ({f"k{i}": 1 for i in range(201)}, "200"),
        ({"k" * 101: 1}, "100"),
        ({"notes": "x" * 2001}, "'notes'"),
    ],
)
def test_bad_anamnesis_is_a_422_naming_the_problem(client, url, anamnesis, words):
    body = {"images": [{"imageData": "aGk="}]}
    if anamnesis is not None:
        body["anamnesis"] = anamnesis
    response = client.post(url, json=body)
    assert response.status_code == 422
    assert words in response.get_json()["detail"]


def test_unknown_path_and_wrong_method_answer_json(client):
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.get_json()["detail"]
    wrong = client.get("/api/v1/diagnosis/predict")
    assert wrong.status_code == 405
    assert wrong.get_json()["detail"]


def test_too_large_body_answers_json_413(app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = app.test_client().post(
        "/api/v1/diagnosis/red_flags", data="x" * 2000, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.get_json()["detail"]


def test_token_is_required_when_set():
    client = create_app(Settings(token="s3cret")).test_client()
    body = {"anamnesis": {}}
    url = "/api/v1/questionnaire/next"
    assert client.post(url, json=body).status_code == 401
    wrong = client.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "token" in wrong.get_json()["detail"]
    right = client.post(url, json=body, headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200
    assert client.get("/api/v1/health").status_code == 200  # probes need no token


def test_no_token_needed_when_unset(client):
    assert client.post("/api/v1/questionnaire/next", json={"anamnesis": {}}).status_code == 200


def test_delay_applies_to_posts_only():
    client = create_app(Settings(delay_ms=150)).test_client()
    started = time.perf_counter()
    client.post("/api/v1/questionnaire/next", json={"anamnesis": {}})
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    client.get("/api/v1/health")
    assert time.perf_counter() - started < 0.15


def test_request_id_is_logged_and_echoed(client, caplog):
    with caplog.at_level(logging.INFO, logger="reference_ai"):
        response = client.post(
            "/api/v1/diagnosis/red_flags",
            json={"anamnesis": {}},
            headers={"X-Request-ID": "req-123"},
        )
    assert response.headers["X-Request-ID"] == "req-123"
    assert any("request_id=req-123" in record.getMessage() for record in caplog.records)


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("REFERENCE_AI_DELAY_MS", "25")
    monkeypatch.setenv("REFERENCE_AI_TOKEN", " tok ")
    assert Settings.from_env() == Settings(delay_ms=25.0, token="tok")
    monkeypatch.delenv("REFERENCE_AI_DELAY_MS")
    monkeypatch.delenv("REFERENCE_AI_TOKEN")
    assert Settings.from_env() == Settings()
    monkeypatch.setenv("REFERENCE_AI_DELAY_MS", "-1")
    with pytest.raises(ValueError, match="REFERENCE_AI_DELAY_MS"):
        Settings.from_env()


@pytest.mark.parametrize("url", POSTS)
def test_every_post_carries_a_reference_model_version(client, url, mel_photo):
    photo = photo_body(mel_photo)
    body = {"anamnesis": {}, "images": [photo], **photo}
    response = client.post(url, json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["model_version"].startswith("reference-")
