"""AIClient against fakes over real HTTP: retries, deadline, failure mapping, headers, models.

The time limits here bound faults (the call must not hang); they are not speed benchmarks.
"""

from __future__ import annotations

import base64
import json
import os
import time

import pytest
from gevent import monkey
from pytest_httpserver import HTTPServer
from werkzeug import Response

from app.errors import (
    AIBadResponse,
    AIRejectedInput,
    AIServiceError,
    AIServiceTimeout,
    AIServiceUnavailable,
)
from app.services.ai_client import (
    BASE64_PIECE_BYTES,
    POOL_MAXSIZE,
    AIClient,
    Diagnosis,
    DiagnosisPrediction,
    InlineImage,
    NextQuestion,
    RedFlags,
    _JsonBody,
    get_ai_client,
)

NEXT = "/api/v1/questionnaire/next"
QUESTION = {
    "questionId": "symptom_duration",
    "questionText": "How long has the lesion been there?",
    "questionType": "radio",
    "fieldName": "duration",
    "options": ["<1 week", ">1 month"],
    "isComplete": False,
}
PREDICTION = {
    "diagnoses": [
        {"disease": "melanoma", "probability": 0.62, "confidence": "medium", "icd10": "C43.9"},
        {"disease": "melanocytic nevus", "probability": 0.2, "confidence": "low"},
    ],
    "metadata": {"model_version": "fake-1", "inference_time_ms": 12.5},
    "tier": "possible",
    "confidence": 0.62,
    "refer_to_specialist": True,
    "highlight_count": 1,
}
RED_FLAGS = {
    "hasRedFlags": True,
    "flags": [
        {
            "type": "bleeding",
            "severity": "high",
            "description": "Bleeding lesion",
            "rule": "bleeding or ulcerating lesion",
        }
    ],
    "urgency": "high",
    "recommendation": "See within 2 weeks.",
}
TRIAGE = {
    "priority": "urgent",
    "urgencyScore": 7.5,
    "estimatedWaitTime": "48 hours",
    "recommendedAction": "urgent_referral",
    "reasoning": ["high urgency red flag"],
}


def make_client(url: str, **kwargs) -> AIClient:
    options = {"connect_timeout": 1.0, "read_timeout": 2.0, "retries": 2, **kwargs}
    return AIClient(url, **options)


@pytest.fixture
def client(httpserver: HTTPServer) -> AIClient:
    """An AIClient of the fake, closed after the test."""
    ai = make_client(httpserver.url_for("/"), token="svc-token")
    yield ai
    ai.close()


# --- faults ------------------------------------------------------------------------------------


def test_not_listening_is_unavailable_after_bounded_retries(closed_url):
    ai = make_client(closed_url)
    started = time.monotonic()
    with pytest.raises(AIServiceUnavailable) as caught:
        ai.next_question({})
    elapsed = time.monotonic() - started
    assert caught.value.status == 502
    assert caught.value.code == "ai_service_unavailable"
    assert caught.value.details["attempts"] == 3  # the first try and two retries
    assert elapsed < 3.0  # back-off ~0.1 s + ~0.2 s: fast, no hang


def test_accepting_but_silent_service_times_out_by_the_read_timeout(black_hole_url):
    ai = make_client(black_hole_url, read_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(AIServiceTimeout) as caught:
        ai.next_question({})
    elapsed = time.monotonic() - started
    assert (caught.value.status, caught.value.code) == (504, "ai_service_timeout")
    assert 0.9 <= elapsed <= 2.0


def test_503_twice_then_200_succeeds_with_three_calls(client, httpserver):
    for _ in range(2):
        httpserver.expect_ordered_request(NEXT, method="POST").respond_with_json(
            {"detail": "model loading"}, status=503
        )
    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_json(QUESTION)
    question = client.next_question({})
    assert question.question_id == "symptom_duration"
    assert len(httpserver.log) == 3
    httpserver.check_assertions()


@pytest.mark.parametrize("status", [502, 503, 504])
def test_persistent_gateway_errors_give_up_after_the_retries(client, httpserver, status):
    httpserver.expect_request(NEXT).respond_with_data("busy", status=status)
    with pytest.raises(AIServiceUnavailable) as caught:
        client.next_question({})
    assert len(httpserver.log) == 3
    assert caught.value.details == {"status": status, "attempts": 3}


def test_retries_stop_at_the_deadline(httpserver):
    httpserver.expect_request(NEXT).respond_with_data("loading", status=503)
    ai = make_client(httpserver.url_for("/"), read_timeout=0.5, retries=50)
    started = time.monotonic()
    with pytest.raises(AIServiceUnavailable):
        ai.next_question({})
    assert time.monotonic() - started < 1.5
    assert 1 < len(httpserver.log) < 10


@pytest.mark.parametrize("status", [500, 404])
def test_other_errors_are_unavailable_without_retry(client, httpserver, status):
    httpserver.expect_request(NEXT).respond_with_data("oops", status=status)
    with pytest.raises(AIServiceUnavailable) as caught:
        client.next_question({})
    assert len(httpserver.log) == 1
    assert caught.value.details["status"] == status


@pytest.mark.parametrize("status", [401, 403])
def test_refused_service_token_is_unavailable_naming_the_token(client, httpserver, status):
    httpserver.expect_request(NEXT).respond_with_json({"detail": "bad token"}, status=status)
    with pytest.raises(AIServiceUnavailable) as caught:
        client.next_question({})
    assert "AI_SERVICE_TOKEN" in caught.value.message
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [400, 422])
def test_rejected_input_carries_the_service_detail(client, httpserver, status):
    detail = [{"loc": ["anamnesis", "age"], "msg": "must be a number"}]
    httpserver.expect_request(NEXT).respond_with_json({"detail": detail}, status=status)
    with pytest.raises(AIRejectedInput) as caught:
        client.next_question({"age": "old"})
    assert (caught.value.status, caught.value.code) == (422, "ai_rejected_input")
    assert caught.value.details["detail"] == detail
    assert len(httpserver.log) == 1


def test_rejection_without_json_keeps_the_text(client, httpserver):
    httpserver.expect_request(NEXT).respond_with_data("bad anamnesis", status=400)
    with pytest.raises(AIRejectedInput) as caught:
        client.next_question({})
    assert caught.value.details["detail"] == "bad anamnesis"


@pytest.mark.parametrize("body", ["<html>oops</html>", "", "[1, 2"])
def test_non_json_answer_is_a_bad_response(client, httpserver, body):
    httpserver.expect_request(NEXT).respond_with_data(body, content_type="text/html")
    with pytest.raises(AIBadResponse) as caught:
        client.next_question({})
    assert (caught.value.status, caught.value.code) == (502, "ai_bad_response")


def test_answer_missing_question_id_is_a_bad_response(client, httpserver):
    body = {k: v for k, v in QUESTION.items() if k != "questionId"}
    httpserver.expect_request(NEXT).respond_with_json(body)
    with pytest.raises(AIBadResponse) as caught:
        client.next_question({})
    assert "questionId" in caught.value.details["fields"]


@pytest.mark.parametrize(
    "change",
    [
        {"questionType": "slider"},
        {"options": []},  # a radio question without choices cannot be answered
        {"fieldName": ""},
        {"isComplete": "perhaps"},
    ],
)
def test_unanswerable_question_is_a_bad_response(client, httpserver, change):
    httpserver.expect_request(NEXT).respond_with_json({**QUESTION, **change})
    with pytest.raises(AIBadResponse):
        client.next_question({})


def test_every_ai_error_is_an_ai_service_error():
    for error in (AIServiceUnavailable, AIServiceTimeout, AIRejectedInput, AIBadResponse):
        assert issubclass(error, AIServiceError)


# --- headers, paths and bodies -----------------------------------------------------------------


def test_request_id_and_service_token_are_sent(client, httpserver):
    httpserver.expect_request(
        NEXT,
        method="POST",
        headers={"X-Request-ID": "trace-123", "Authorization": "Bearer svc-token"},
        json={"anamnesis": {"age": 54, "color": ["brown"], "bleeding": False}},
    ).respond_with_json(QUESTION)
    client.next_question({"age": 54, "color": ["brown"], "bleeding": False}, request_id="trace-123")
    httpserver.check_assertions()


def test_without_token_no_authorization_and_a_generated_request_id(httpserver):
    httpserver.expect_request(NEXT).respond_with_json(QUESTION)
    make_client(httpserver.url_for("/")).next_question({})
    request, _ = httpserver.log[0]
    assert "Authorization" not in request.headers
    assert len(request.headers["X-Request-ID"]) == 32  # a fresh uuid4 hex outside a request


def test_unknown_fields_are_ignored_and_optional_ones_tolerated(client, httpserver):
    httpserver.expect_request(NEXT).respond_with_json(
        {**QUESTION, "newField": {"x": 1}, "progress": {"answered": 3, "estimatedTotal": 17}}
    )
    question = client.next_question({})
    assert question.help_text is None and question.required is True
    assert question.progress.estimated_total == 17
    assert "newField" not in question.model_dump()


def test_completion_may_have_empty_strings(client, httpserver):
    httpserver.expect_request(NEXT).respond_with_json(
        {
            "questionId": "",
            "questionText": "",
            "questionType": "",
            "fieldName": "",
            "isComplete": True,
        }
    )
    assert client.next_question({"age": 3}).is_complete is True


def test_health(client, httpserver):
    httpserver.expect_request("/api/v1/health", method="GET").respond_with_json(
        {"status": "healthy", "model_version": "reference-1.0", "note": "not for clinical use"}
    )
    assert client.health().model_version == "reference-1.0"


def test_validate_image_sends_base64(client, httpserver):
    httpserver.expect_request("/api/v1/image_quality/validate", method="POST").respond_with_json(
        {
            "isValid": False,
            "score": 0.3,
            "issues": ["Image is too blurry"],
            "feedback": {"blur": 0.1, "lighting": 0.9, "framing": 0.8},
        }
    )
    validity = client.validate_image(b"\xff\xd8\xffdata", "image/jpeg")
    assert validity.is_valid is False and validity.feedback.blur == 0.1
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent == {
        "imageData": base64.b64encode(b"\xff\xd8\xffdata").decode(),
        "contentType": "image/jpeg",
    }


def test_predict_sends_anamnesis_and_images(client, httpserver):
    httpserver.expect_request("/api/v1/diagnosis/predict", method="POST").respond_with_json(
        PREDICTION
    )
    prediction = client.predict({"age": 60}, [(b"png-bytes", "image/png")])
    assert isinstance(prediction, DiagnosisPrediction)
    assert prediction.diagnoses[0].icd10 == "C43.9"
    assert prediction.diagnoses[1].icd10 is None
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent == {
        "anamnesis": {"age": 60},
        "images": [
            {"imageData": base64.b64encode(b"png-bytes").decode(), "contentType": "image/png"}
        ],
        "tta": False,
    }


def test_prediction_out_of_range_is_a_bad_response(client, httpserver):
    bad = {**PREDICTION, "diagnoses": [{"disease": "x", "probability": 1.7, "confidence": "high"}]}
    httpserver.expect_request("/api/v1/diagnosis/predict").respond_with_json(bad)
    with pytest.raises(AIBadResponse) as caught:
        client.predict({}, [(b"x", "image/jpeg")])
    assert "diagnoses.0.probability" in caught.value.details["fields"]


def test_red_flags_and_triage_send_models_in_wire_names(client, httpserver):
    httpserver.expect_request("/api/v1/diagnosis/red_flags").respond_with_json(RED_FLAGS)
    httpserver.expect_request("/api/v1/diagnosis/triage").respond_with_json(TRIAGE)
    diagnoses = [Diagnosis(disease="melanoma", probability=0.62, confidence="medium")]
    flags = client.red_flags({"bleeding": True}, diagnoses)
    assert isinstance(flags, RedFlags) and flags.flags[0].rule == "bleeding or ulcerating lesion"
    triage = client.triage({"bleeding": True}, diagnoses, flags)
    assert triage.priority == "urgent" and triage.urgency_score == 7.5

    red_flags_body = json.loads(httpserver.log[0][0].get_data())
    assert red_flags_body == {
        "anamnesis": {"bleeding": True},
        "diagnoses": [{"disease": "melanoma", "probability": 0.62, "confidence": "medium"}],
    }
    triage_body = json.loads(httpserver.log[1][0].get_data())
    assert triage_body["redFlags"] == RED_FLAGS
    assert triage_body["diagnoses"] == red_flags_body["diagnoses"]


def test_red_flags_without_diagnoses_omits_them(client, httpserver):
    httpserver.expect_request("/api/v1/diagnosis/red_flags").respond_with_json(
        {"hasRedFlags": False, "urgency": "low", "recommendation": "Routine review."}
    )
    assert client.red_flags({"age": 30}).flags == []
    assert json.loads(httpserver.log[0][0].get_data()) == {"anamnesis": {"age": 30}}


def test_redirect_is_not_followed(client, httpserver):
    httpserver.expect_request(NEXT).respond_with_response(
        Response(status=302, headers={"Location": "http://example.invalid/"})
    )
    with pytest.raises(AIServiceUnavailable) as caught:
        client.next_question({})
    assert caught.value.details["status"] == 302


# --- the session: pooled, per process ----------------------------------------------------------


def test_session_is_created_lazily_and_reused(client, httpserver):
    assert client._session is None  # nothing opened at construction
    httpserver.expect_request(NEXT).respond_with_json(QUESTION)
    client.next_question({})
    first = client.session
    client.next_question({})
    assert client.session is first
    adapter = first.get_adapter("http://127.0.0.1/")
    assert adapter._pool_maxsize == POOL_MAXSIZE


def test_a_forked_process_gets_its_own_session(client, httpserver, tmp_path):
    # The OS's own fork and waitpid: gevent's (the suite runs patched) reap children through
    # its hub's SIGCHLD watcher, which this bare fork-and-wait does not need to exercise. The
    # child answers through a file: nothing is shared with it but what the fork copied.
    fork, waitpid = monkey.get_original("os", ["fork", "waitpid"])
    httpserver.expect_request(NEXT).respond_with_json(QUESTION)
    client.next_question({})
    parent_session = client.session
    answer_file = tmp_path / "answer"
    pid = fork()
    if pid == 0:  # child: must not reuse the parent's sockets
        try:
            answer_file.write_bytes(b"new" if client.session is not parent_session else b"same")
        finally:
            os._exit(0)
    waitpid(pid, 0)
    assert answer_file.read_bytes() == b"new"
    assert client.session is parent_session


def test_get_ai_client_builds_from_config_once(make_app):
    app = make_app(AI_SERVICE_URL="http://ai.internal:9000/", AI_SERVICE_RETRIES=1)
    with app.app_context():
        ai = get_ai_client()
        assert get_ai_client() is ai
    assert get_ai_client(app) is ai
    assert ai.base_url == "http://ai.internal:9000"
    assert ai.retries == 1 and ai.read_timeout == app.config["AI_SERVICE_TIMEOUT"]


def test_next_question_model_has_camel_case_wire_names():
    question = NextQuestion.model_validate(QUESTION)
    assert question.model_dump(exclude_none=True)["questionId"] == "symptom_duration"


# --- streamed image bodies --------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 3, BASE64_PIECE_BYTES - 1, 2 * BASE64_PIECE_BYTES + 1])
def test_streamed_body_is_the_json_of_the_images_in_base64(size):
    data = os.urandom(size)
    body = {
        "anamnesis": {"age": 60, "note": 'quote " and \u00e9'},
        "images": [{"imageData": InlineImage(data), "contentType": "image/jpeg"}],
        "tta": False,
    }
    streamed = _JsonBody(body)
    sent = b"".join(streamed)
    assert len(sent) == len(streamed)  # the Content-Length requests will send
    assert json.loads(sent) == {
        "anamnesis": {"age": 60, "note": 'quote " and \u00e9'},
        "images": [{"imageData": base64.b64encode(data).decode(), "contentType": "image/jpeg"}],
        "tta": False,
    }
    assert b"".join(streamed) == sent  # every iteration starts over (a retry sends it again)


def test_streamed_body_holds_no_base64_copy_of_the_image():
    data = os.urandom(3 * BASE64_PIECE_BYTES + 5)
    streamed = _JsonBody({"a": InlineImage(data), "b": InlineImage(data[:10])})
    pieces = list(streamed)
    # The image goes out in bounded pieces, never as one base64 (or JSON) text.
    assert max(len(piece) for piece in pieces) == 4 * BASE64_PIECE_BYTES // 3
    decoded = json.loads(b"".join(pieces))
    assert base64.b64decode(decoded["a"]) == data
    assert base64.b64decode(decoded["b"]) == data[:10]


def test_streamed_body_refuses_other_objects():
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        _JsonBody({"x": object()})


def test_image_call_sends_content_length_and_is_retried_whole(client, httpserver):
    data = os.urandom(BASE64_PIECE_BYTES + 7)
    httpserver.expect_ordered_request("/api/v1/image_quality/validate").respond_with_data(
        "busy", status=503
    )
    httpserver.expect_ordered_request("/api/v1/image_quality/validate").respond_with_json(
        {"isValid": True, "score": 0.9, "issues": []}
    )
    assert client.validate_image(data, "image/jpeg").is_valid is True
    assert len(httpserver.log) == 2
    for request, _response in httpserver.log:
        assert request.headers["Content-Type"] == "application/json"
        assert "Transfer-Encoding" not in request.headers
        assert int(request.headers["Content-Length"]) == len(request.get_data())
        sent = json.loads(request.get_data())
        assert base64.b64decode(sent["imageData"]) == data
