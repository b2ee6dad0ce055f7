"""The one error shape on every ``/api`` failure, request ids, and the OpenAPI document."""

from __future__ import annotations

import io
import logging
import re
import uuid

import pytest
from flask import Blueprint


def assert_error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_malformed_json_is_400(client):
    response = client.post(
        "/api/auth/login", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")


def test_json_that_is_not_an_object_is_400(client):
    assert_error(client.post("/api/auth/login", json=[1, 2]), 400, "json_not_object")


def test_wrong_content_type_is_415(client):
    response = client.post("/api/auth/login", data={"email": "a@b.c", "password": "x"})
    assert_error(response, 415, "unsupported_media_type")


def test_validation_error_names_fields(client):
    error = assert_error(client.post("/api/auth/login", json={"email": "a@b.c"}), 422)
    assert "password" in error["details"]


def test_unknown_route_is_404_json(client):
    assert_error(client.get("/api/nope"), 404, "not_found")


def test_wrong_method_is_405_json(client):
    response = client.get("/api/auth/login")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_body_too_large_is_413_json(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    response = app.test_client().post(
        "/api/auth/login", data=b"{" + b" " * 4096 + b"}", content_type="application/json"
    )
    assert_error(response, 413, "payload_too_large")


def test_internal_error_is_500_json_without_traceback(make_app, caplog):
    app = make_app()
    bp = Blueprint("boom_api", __name__)

    @bp.get("/api/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.register_blueprint(bp)
    app.view_functions["boom_api.boom"].is_public = True
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/api/boom")
    error = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert error["details"] == {}


def test_forbidden_is_403_json(make_app):
    app = make_app(REGISTRATION="closed")
    response = app.test_client().post(
        "/api/auth/register",
        json={"email": "x@example.org", "password": "Correct-horse-42", "full_name": "X"},
    )
    assert_error(response, 403)


def test_portal_404_is_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get("/healthy", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthy")
    assert len(generated.headers["X-Request-ID"]) == 32
    unsafe = client.get("/healthy", headers={"X-Request-ID": "bad id <script>" + "x" * 200})
    assert len(unsafe.headers["X-Request-ID"]) == 32
    assert client.get("/api/nope").headers["X-Request-ID"]


def test_request_id_in_json_log_lines(make_app, capsys):
    import json

    app = make_app(LOG_FORMAT="json")
    bp = Blueprint("log_api", __name__)

    @bp.get("/api/log-me")
    def log_me():
        app.logger.info("hello from a view")
        return {"ok": True}

    app.register_blueprint(bp)
    app.view_functions["log_api.log_me"].is_public = True
    app.test_client().get("/api/log-me", headers={"X-Request-ID": "req-42"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert {"message": "hello from a view", "request_id": "req-42"}.items() <= lines[-1].items()


def test_openapi_document_lists_endpoints(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/api/auth/login",
        "/api/auth/register",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/users/me",
        "/healthy",
        "/health",
    ):
        assert path in document["paths"], path
    login = document["paths"]["/api/auth/login"]["post"]
    assert "requestBody" in login
    assert "bearerAuth" in document["components"]["securitySchemes"]
    assert "RegisterIn" in str(document["components"]["schemas"])


def test_docs_page_is_served_offline(client):
    response = client.get("/api/docs", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "swagger" in html.lower()
    assert "cdn" not in html.lower() and "https://" not in html
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        with client.get(asset) as served:
            assert served.status_code == 200, asset


@pytest.mark.parametrize("path", ["/api/users/me", "/api/auth/logout"])
def test_api_is_deny_by_default(client, path):
    method = client.get if path.endswith("me") else client.post
    assert_error(method(path), 401, "token_missing")


def test_deeply_nested_json_is_400_not_500(client):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/auth/login", data=body, content_type="application/json")
    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("path", ["/api/cases", "/api/users/me", "/api/auth/login"])
def test_options_is_answered_with_the_allowed_methods(client, path):
    response = client.options(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "OPTIONS" in response.headers["Allow"]


def test_nul_characters_in_text_are_422_and_nothing_is_written(client, make_user, api_headers):
    from app.extensions import db
    from app.models import Case, User
    from tests.fixtures.cases import MELANOMA, case_payload

    headers = api_headers(make_user())
    case_id = client.post("/api/cases", json=case_payload(), headers=headers).get_json()["id"]
    attempts = [
        ("post", "/api/cases", case_payload(chief_complaint="a\x00b"), "chief_complaint"),
        ("patch", f"/api/cases/{case_id}", {"physician_notes": "a\x00b"}, "physician_notes"),
        ("post", f"/api/cases/{case_id}/answers", {"duration": "a\x00b"}, "duration"),
        ("post", f"/api/cases/{case_id}/answers", {"dur\x00ation": "x"}, "dur\x00ation"),
        (
            "post",
            f"/api/cases/{case_id}/review",
            {"final_diagnosis": "a\x00", "agrees_with_ai": 1},
            "final_diagnosis",
        ),
        ("post", "/api/auth/login", {"email": "a\x00@example.org", "password": "x"}, "email"),
        (
            "post",
            "/api/auth/register",
            {"email": "nul@example.org", "password": "Correct-horse-42", "full_name": "a\x00"},
            "full_name",
        ),
    ]
    for method, path, body, field in attempts:
        response = getattr(client, method)(path, json=body, headers=headers)
        error = assert_error(response, 422, "validation_failed")
        assert any(field in name for name in error["details"]), (path, error)
    error = assert_error(client.get("/api/cases?q=a%00b", headers=headers), 422)
    assert "q" in error["details"]
    response = client.post(
        "/api/diagnosis",
        data={
            "image": (io.BytesIO(MELANOMA.read_bytes()), "m.jpg", "image/jpeg"),
            "anamnesis": '{"duration": "a\\u0000b"}',
        },
        headers=headers,
        content_type="multipart/form-data",
    )
    assert_error(response, 422, "validation_failed")
    with client.application.app_context():
        assert db.session.query(Case).count() == 1
        kept = db.session.get(Case, uuid.UUID(case_id)).anamnesis
        assert kept == {"age": 54, "sex": "female", "location1.primary": "back"}
        assert db.session.query(User).filter_by(email="nul@example.org").count() == 0
