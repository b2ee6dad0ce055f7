"""The OpenAPI document tells every status an operation can answer; bodies and types as it says."""

from __future__ import annotations

import pytest

from tests.test_api_errors import assert_error

JSON_OPERATIONS_WITH_REQUIRED_BODY = [
    ("post", "/api/auth/login"),
    ("post", "/api/auth/register"),
    ("post", "/api/cases"),
    ("patch", "/api/cases/{case_id}"),
    ("post", "/api/cases/{case_id}/answers"),
    ("post", "/api/ai/red_flags"),
    ("post", "/api/ai/triage"),
    ("post", "/api/cases/{case_id}/review"),
]


@pytest.fixture
def document(client):  # type: ignore[no-untyped-def]
    return client.get("/api/openapi.json").get_json()


def test_every_json_operation_documents_400_413_415_and_every_operation_503(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                assert {"400", "413", "415", "422"} <= statuses, (method, path)
            if content:
                assert {"413", "415"} <= statuses, (method, path)
            if operation.get("security") != []:
                assert "401" in statuses, (method, path)
            if path not in {"/healthy", "/health"}:
                assert "503" in statuses, (method, path)
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")) and path != "/health":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_required_bodies_are_required_and_optional_ones_documented(document):
    for method, path in JSON_OPERATIONS_WITH_REQUIRED_BODY:
        assert document["paths"][path][method]["requestBody"]["required"] is True
    for method, path in [("post", "/api/auth/logout"), ("post", "/api/ai/next_question")]:
        assert document["paths"][path][method]["requestBody"]["required"] is False


def test_a_missing_required_body_is_400(client, make_user, api_headers):
    headers = api_headers(make_user())
    error = assert_error(client.post("/api/cases", headers=headers), 400, "body_required")
    assert "JSON object" in error["message"]
    assert_error(client.post("/api/auth/login"), 400, "body_required")


def test_json_not_object_is_documented_and_answered(client, document, make_user, api_headers):
    assert "400" in document["paths"]["/api/cases"]["post"]["responses"]
    response = client.post("/api/cases", json=[1], headers=api_headers(make_user()))
    assert_error(response, 400, "json_not_object")


@pytest.mark.parametrize(
    "body",
    [
        {
            "anamnesis": {},
            "diagnoses": [{"disease": "x", "probability": False, "confidence": "low"}],
        },
        {
            "anamnesis": {},
            "diagnoses": [{"disease": "x", "probability": "0.5", "confidence": "low"}],
        },
    ],
)
def test_numbers_are_not_coerced(client, make_user, api_headers, body):
    response = client.post("/api/ai/red_flags", json=body, headers=api_headers(make_user()))
    error = assert_error(response, 422, "validation_failed")
    assert any("probability" in field for field in error["details"])


def test_booleans_are_not_coerced(client, make_user, api_headers):
    body = {
        "anamnesis": {},
        "diagnoses": [{"disease": "x", "probability": 0.5, "confidence": "low"}],
        "redFlags": {"hasRedFlags": 0, "flags": [], "urgency": "low", "recommendation": "r"},
    }
    response = client.post("/api/ai/triage", json=body, headers=api_headers(make_user()))
    error = assert_error(response, 422, "validation_failed")
    assert any("hasRedFlags" in field for field in error["details"])
