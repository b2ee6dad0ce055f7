"""Security headers: no caching of patient data, Permissions-Policy, HSTS in production."""

from __future__ import annotations

from app import create_app
from config import ProductionConfig
from tests.fixtures.cases import case_payload


def test_api_answers_with_patient_data_are_not_cached(client, make_user, api_headers):
    headers = api_headers(make_user())
    created = client.post("/api/cases", json=case_payload(), headers=headers)
    assert created.status_code == 201
    case_id = created.get_json()["id"]
    for response in (
        created,
        client.get(f"/api/cases/{case_id}", headers=headers),
        client.get("/api/cases", headers=headers),
        client.get("/api/users/me", headers=headers),
        client.get(f"/api/cases/{case_id}", headers={"Authorization": "Bearer x"}),
    ):
        assert response.headers["Cache-Control"] == "no-store", response.status_code


def test_every_answer_has_a_permissions_policy(client):
    for path in ("/login", "/api/openapi.json", "/healthy"):
        policy = client.get(path).headers["Permissions-Policy"]
        assert "geolocation=()" in policy
        assert "microphone=()" in policy


def test_no_hsts_outside_production(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_production_sends_hsts_behind_https():
    config = type(
        "Prod",
        (ProductionConfig,),
        {
            "SECRET_KEY": "s" * 40,
            "JWT_SECRET_KEY": "j" * 40,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1:1/db",
        },
    )
    app = create_app(config)
    response = app.test_client().get(
        "/healthy", headers={"X-Forwarded-Proto": "https"}, base_url="https://gateway.example"
    )
    assert response.headers["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains")
    assert "Permissions-Policy" in response.headers
