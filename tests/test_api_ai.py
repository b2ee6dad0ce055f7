"""The AI endpoints of the gateway: the questionnaire and the thin proxies.

Happy paths run against the real reference AI service over HTTP; faults against
pytest-httpserver fakes, a closed port and a socket that never answers. Time limits bound faults
(no hang); they are not benchmarks.
"""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from PIL import Image

from tests.conftest import SAMPLES
from tests.fixtures.ai import FAKE_READ_TIMEOUT, FAKE_SERVICE_TOKEN
from tests.test_api_errors import assert_error

NEXT = "/api/v1/questionnaire/next"
QUESTION = {
    "questionId": "patient_age",
    "questionText": "How old is the patient?",
    "questionType": "number",
    "fieldName": "age",
    "options": [],
    "isComplete": False,
    "min": 0,
    "max": 120,
    "unit": "years",
}
PHOTO = SAMPLES / "images" / "nv_ISIC_0026828.jpg"
GPS_PHOTO = SAMPLES / "bad" / "exif_gps_orientation6_mel_ISIC_0030002.jpg"
ENDPOINTS = [
    "/api/ai/next_question",
    "/api/ai/image_validity",
    "/api/ai/predict_diagnosis",
    "/api/ai/red_flags",
    "/api/ai/triage",
]


@pytest.fixture
def headers(make_user, api_headers):
    """Access-token headers of a fresh physician."""
    return api_headers(make_user())


def answer_for(question: dict):
    """A plausible answer to ``question``: first option, the minimum, true, or some text."""
    kind = question["questionType"]
    if kind == "radio":
        return question["options"][0]
    if kind == "checkbox":
        return question["options"][:1]
    if kind == "number":
        return question.get("min", 0)
    if kind in ("bool", "camera"):
        return True
    return "text"


def photo_upload(path=PHOTO, **fields):
    return {"image": (io.BytesIO(path.read_bytes()), path.name), **fields}


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_access_token_required(fake_ai_client, httpserver, path):
    assert_error(fake_ai_client.post(path, json={}), 401, "token_missing")
    assert len(httpserver.log) == 0


# --- the questionnaire against the reference AI service --------------------------------------


def test_walk_the_questionnaire_to_completion(ai_client, headers):
    anamnesis: dict = {}
    asked = []
    for _ in range(25):
        response = ai_client.post("/api/ai/next_question", json=anamnesis, headers=headers)
        assert response.status_code == 200, response.get_json()
        question = response.get_json()
        if question["isComplete"]:
            break
        assert question["fieldName"] not in anamnesis  # every answer moves the walk on
        asked.append(question)
        anamnesis[question["fieldName"]] = answer_for(question)
    else:
        pytest.fail(f"not complete after 25 questions: {[q['questionId'] for q in asked]}")
    assert 12 <= len(asked) <= 20
    assert asked[0]["questionId"] and asked[0]["questionText"]
    assert asked[-1]["questionType"] == "camera"  # the photo is the last step
    assert set(asked[0]) >= {"questionId", "questionType", "fieldName", "options", "isComplete"}


def test_first_question_from_an_empty_body(ai_client, headers):
    response = ai_client.post("/api/ai/next_question", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["isComplete"] is False


# --- the proxies against the reference AI service ---------------------------------------------


def test_proxies_happy_path(ai_client, headers):
    response = ai_client.post("/api/ai/image_validity", data=photo_upload(), headers=headers)
    assert response.status_code == 200, response.get_json()
    validity = response.get_json()
    assert validity["isValid"] is True and 0 <= validity["score"] <= 1
    assert set(validity["feedback"]) == {"blur", "lighting", "framing"}

    anamnesis = {
        "age": 61,
        "sex": "male",
        "location1.primary": "back",
        "duration": ">1 month",
        "changed_recently": True,
        "color": ["brown", "black"],
        "bleeding": True,
    }
    response = ai_client.post(
        "/api/ai/predict_diagnosis",
        data=photo_upload(anamnesis=json.dumps(anamnesis)),
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    prediction = response.get_json()
    assert prediction["diagnoses"] and prediction["tier"] in {"confident", "possible", "refer"}
    assert prediction["metadata"]["model_version"].startswith("reference-")
    assert all(d["icd10"] for d in prediction["diagnoses"])

    response = ai_client.post(
        "/api/ai/red_flags",
        json={"anamnesis": anamnesis, "diagnoses": prediction["diagnoses"]},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    red_flags = response.get_json()
    assert red_flags["hasRedFlags"] is True  # bleeding
    assert all(flag["rule"] for flag in red_flags["flags"])

    response = ai_client.post(
        "/api/ai/triage",
        json={
            "anamnesis": anamnesis,
            "diagnoses": prediction["diagnoses"],
            "redFlags": red_flags,
        },
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["priority"] in {"routine", "soon", "urgent", "emergency"}


# --- faults of the AI Service, through the gateway ---------------------------------------------


def test_ai_not_listening_is_502_fast(make_app, app, closed_url, headers):
    client = make_app(AI_SERVICE_URL=closed_url).test_client()
    started = time.monotonic()
    response = client.post("/api/ai/next_question", json={}, headers=headers)
    assert_error(response, 502, "ai_service_unavailable")
    assert time.monotonic() - started < 3.0


def test_ai_never_answering_is_504_by_the_read_timeout(make_app, app, black_hole_url, headers):
    client = make_app(AI_SERVICE_URL=black_hole_url, AI_SERVICE_TIMEOUT=1.0).test_client()
    started = time.monotonic()
    response = client.post("/api/ai/next_question", json={}, headers=headers)
    assert_error(response, 504, "ai_service_timeout")
    assert time.monotonic() - started <= 1.0 + 1.0


def test_ai_503_twice_then_200_succeeds(fake_ai_client, httpserver, headers):
    for _ in range(2):
        httpserver.expect_ordered_request(NEXT, method="POST").respond_with_data(
            "loading", status=503
        )
    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_json(QUESTION)
    response = fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {**QUESTION, "required": True}  # camelCase, default filled
    assert len(httpserver.log) == 3
    httpserver.check_assertions()


@pytest.mark.parametrize(
    "respond",
    [
        lambda r: r.respond_with_data("<html>not json</html>", content_type="text/html"),
        lambda r: r.respond_with_json({k: v for k, v in QUESTION.items() if k != "questionId"}),
    ],
    ids=["not-json", "missing-questionId"],
)
def test_ai_bad_body_is_502_bad_response(fake_ai_client, httpserver, headers, respond):
    respond(httpserver.expect_request(NEXT))
    response = fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    assert_error(response, 502, "ai_bad_response")


def test_ai_422_is_422_rejected_input_with_its_detail(fake_ai_client, httpserver, headers):
    detail = "sex: must be one of female, male, other"
    httpserver.expect_request(NEXT).respond_with_json({"detail": detail}, status=422)
    response = fake_ai_client.post("/api/ai/next_question", json={"sex": "x"}, headers=headers)
    error = assert_error(response, 422, "ai_rejected_input")
    assert error["details"]["detail"] == detail


@pytest.mark.parametrize(
    ("anamnesis", "field"),
    [
        ({"location": {"primary": "back"}}, "anamnesis.location"),
        ({f"q{i}": True for i in range(201)}, "anamnesis"),
        ({"notes": "x" * 5000}, "anamnesis.notes"),
        ({"color": ["brown", 3]}, "anamnesis.color"),
        ({"age": None}, "anamnesis.age"),
        ({"age": 300}, "anamnesis.age"),
    ],
    ids=["nested", "201-keys", "5000-chars", "list-of-non-strings", "null", "age-300"],
)
def test_bad_anamnesis_is_422_and_the_ai_is_not_called(
    fake_ai_client, httpserver, headers, anamnesis, field
):
    response = fake_ai_client.post("/api/ai/next_question", json=anamnesis, headers=headers)
    error = assert_error(response, 422, "validation_failed")
    assert field in error["details"]
    assert len(httpserver.log) == 0


def test_anamnesis_with_dotted_keys_and_200_answers_is_forwarded(
    fake_ai_client, httpserver, headers
):
    anamnesis = {f"q.{i}": "x" * 2000 for i in range(199)} | {"itch.scale_0_to_5": 3}
    httpserver.expect_request(NEXT, json={"anamnesis": anamnesis}).respond_with_json(QUESTION)
    response = fake_ai_client.post("/api/ai/next_question", json=anamnesis, headers=headers)
    assert response.status_code == 200
    httpserver.check_assertions()


@pytest.mark.parametrize(
    "case",
    [
        ({"data": "{nope", "content_type": "application/json"}, 400, "malformed_json"),
        ({"json": ["age", 3]}, 400, "json_not_object"),
        ({"data": "age=3", "content_type": "application/x-www-form-urlencoded"}, 415, None),
    ],
)
def test_malformed_body_gets_the_error_shape(fake_ai_client, httpserver, headers, case):
    kwargs, status, code = case
    response = fake_ai_client.post("/api/ai/next_question", headers=headers, **kwargs)
    assert_error(response, status, code)
    assert len(httpserver.log) == 0


def test_request_id_and_service_token_reach_the_ai(fake_ai_client, httpserver, headers):
    httpserver.expect_request(NEXT).respond_with_json(QUESTION)
    response = fake_ai_client.post(
        "/api/ai/next_question",
        json={"age": 54},
        headers={**headers, "X-Request-ID": "portal-req-42"},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "portal-req-42"
    received, _ = httpserver.log[0]
    assert received.headers["X-Request-ID"] == "portal-req-42"
    assert received.headers["Authorization"] == f"Bearer {FAKE_SERVICE_TOKEN}"
    assert json.loads(received.get_data()) == {"anamnesis": {"age": 54}}


def test_gateway_token_is_not_forwarded_to_the_ai(fake_ai_client, httpserver, headers):
    httpserver.expect_request(NEXT).respond_with_json(QUESTION)
    fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    received, _ = httpserver.log[0]
    assert received.headers["Authorization"] != headers["Authorization"]


def test_fake_app_read_timeout_is_short(fake_ai_app):
    assert fake_ai_app.config["AI_SERVICE_TIMEOUT"] == FAKE_READ_TIMEOUT


# --- the proxies: body checks and the image intake ---------------------------------------------


def test_image_validity_without_image_is_422_naming_it(fake_ai_client, httpserver, headers):
    response = fake_ai_client.post("/api/ai/image_validity", data={"other": "x"}, headers=headers)
    error = assert_error(response, 422, "validation_failed")
    assert "image" in error["details"]
    assert len(httpserver.log) == 0


def test_image_as_text_field_is_422(fake_ai_client, headers):
    response = fake_ai_client.post(
        "/api/ai/image_validity", data={"image": "not a file"}, headers=headers
    )
    assert "image" in assert_error(response, 422, "validation_failed")["details"]


def test_two_images_are_422(fake_ai_client, httpserver, headers):
    data = {"image": [(io.BytesIO(PHOTO.read_bytes()), "a.jpg"), (io.BytesIO(b"x"), "b.jpg")]}
    response = fake_ai_client.post("/api/ai/image_validity", data=data, headers=headers)
    assert "image" in assert_error(response, 422, "validation_failed")["details"]
    assert len(httpserver.log) == 0


def test_predict_with_neither_part_names_both(fake_ai_client, headers):
    response = fake_ai_client.post("/api/ai/predict_diagnosis", data={"note": "x"}, headers=headers)
    details = assert_error(response, 422, "validation_failed")["details"]
    assert set(details) == {"image", "anamnesis"}


def test_image_validity_with_json_body_is_415(fake_ai_client, headers):
    response = fake_ai_client.post("/api/ai/image_validity", json={"image": "x"}, headers=headers)
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "case",
    [
        ("not_an_image.jpg", 415, "unsupported_image_type"),
        ("tiny_32x32_bcc_ISIC_0028059.jpg", 422, "image_too_small"),
        ("truncated_half_bkl_ISIC_0028995.jpg", 422, "image_corrupt"),
    ],
)
def test_bad_files_get_the_intake_error_and_never_reach_the_ai(
    fake_ai_client, httpserver, headers, case
):
    name, status, code = case
    response = fake_ai_client.post(
        "/api/ai/image_validity", data=photo_upload(SAMPLES / "bad" / name), headers=headers
    )
    assert_error(response, status, code)
    assert len(httpserver.log) == 0


def test_only_a_metadata_free_image_reaches_the_ai(fake_ai_client, httpserver, headers):
    httpserver.expect_request("/api/v1/image_quality/validate").respond_with_json(
        {"isValid": True, "score": 0.9, "issues": []}
    )
    response = fake_ai_client.post(
        "/api/ai/image_validity", data=photo_upload(GPS_PHOTO), headers=headers
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"isValid": True, "score": 0.9, "issues": []}
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["contentType"] == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(sent["imageData"]))) as image:
        assert not image.getexif()  # no GPS, no orientation: the pixels are upright
    assert "exif" not in image.info


def test_predict_with_invalid_anamnesis_json_is_422(fake_ai_client, httpserver, headers):
    for bad in ("{not json", '{"nested": {"a": 1}}', "[1, 2]"):
        response = fake_ai_client.post(
            "/api/ai/predict_diagnosis", data=photo_upload(anamnesis=bad), headers=headers
        )
        error = assert_error(response, 422, "validation_failed")
        assert any(key.startswith("anamnesis") for key in error["details"]), error
    assert len(httpserver.log) == 0


def test_predict_without_anamnesis_is_422_naming_it(fake_ai_client, headers):
    response = fake_ai_client.post(
        "/api/ai/predict_diagnosis", data=photo_upload(), headers=headers
    )
    assert "anamnesis" in assert_error(response, 422, "validation_failed")["details"]


def test_red_flags_and_triage_check_their_bodies(fake_ai_client, httpserver, headers):
    response = fake_ai_client.post(
        "/api/ai/red_flags", json={"anamnesis": {"a": {"b": 1}}}, headers=headers
    )
    assert "anamnesis.a" in assert_error(response, 422, "validation_failed")["details"]
    response = fake_ai_client.post(
        "/api/ai/triage", json={"anamnesis": {}, "diagnoses": []}, headers=headers
    )
    assert "redFlags" in assert_error(response, 422, "validation_failed")["details"]
    response = fake_ai_client.post(
        "/api/ai/red_flags",
        json={"anamnesis": {}, "diagnoses": [{"disease": "x", "probability": 2}]},
        headers=headers,
    )
    assert_error(response, 422, "validation_failed")
    assert len(httpserver.log) == 0


def test_proxy_ai_failure_maps_like_the_questionnaire(fake_ai_client, httpserver, headers):
    httpserver.expect_request("/api/v1/diagnosis/red_flags").respond_with_data("x", status=500)
    response = fake_ai_client.post("/api/ai/red_flags", json={"anamnesis": {}}, headers=headers)
    assert_error(response, 502, "ai_service_unavailable")


# --- the OpenAPI document ----------------------------------------------------------------------


def test_endpoints_are_in_the_openapi_document(client):
    document = client.get("/api/openapi.json").get_json()
    for path in ENDPOINTS:
        assert "post" in document["paths"][path], path
    next_question = document["paths"]["/api/ai/next_question"]["post"]
    assert "application/json" in next_question["requestBody"]["content"]
    assert "200" in next_question["responses"]
    upload = document["paths"]["/api/ai/image_validity"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    schemas = document["components"]["schemas"]
    assert "questionId" in schemas["NextQuestion"]["properties"]
