"""The per-worker cache of ``questionnaire/next`` answers (``AI_QUESTION_CACHE_*``).

The same anamnesis sent to the same AI service is asked once per time to live; identical
questions asked at once share one call; failures are never kept. Over real HTTP against
pytest-httpserver, through the API and through :class:`AIClient`; expiry with an injected clock.
"""

from __future__ import annotations

import threading
import time

import gevent
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.errors import AIRejectedInput, AIServiceTimeout, AIServiceUnavailable
from app.services.ai_client import AIClient, NextQuestion, get_ai_client
from app.services.answer_cache import AnswerCache, WaitedTooLong, body_key
from tests.test_api_errors import assert_error
from tests.test_services_ai_client import NEXT, PREDICTION
from tests.test_services_ai_client import QUESTION as BASE_QUESTION

QUESTION = {**BASE_QUESTION, "progress": {"answered": 0, "estimatedTotal": 8}}
ASKED = {"anamnesis": {}}


@pytest.fixture
def headers(make_user, api_headers):
    """Access-token headers of a fresh physician."""
    return api_headers(make_user())


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cached_client(httpserver: HTTPServer, **kwargs) -> AIClient:
    options = {
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "retries": 0,
        "question_cache_seconds": 60,
        **kwargs,
    }
    return AIClient(httpserver.url_for("/"), **options)


def calls(httpserver: HTTPServer) -> list[dict]:
    """The bodies of the ``questionnaire/next`` calls the fake received, in order."""
    return [request.get_json() for request, _ in httpserver.log if request.path == NEXT]


# --- through the API ---------------------------------------------------------------------------


def test_the_app_caches_by_default(fake_ai_app):
    assert fake_ai_app.config["AI_QUESTION_CACHE_SECONDS"] == 60
    assert fake_ai_app.config["AI_QUESTION_CACHE_ENTRIES"] == 2048
    with fake_ai_app.app_context():
        cache = get_ai_client().question_cache
    assert cache is not None
    assert (cache.ttl, cache.max_entries) == (60, 2048)


def test_the_same_anamnesis_twice_asks_the_ai_once(fake_ai_client, httpserver, headers):
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    answers = [
        fake_ai_client.post("/api/ai/next_question", json={}, headers=headers) for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json() == answers[1].get_json() == {**QUESTION, "required": True}
    assert calls(httpserver) == [ASKED]


def test_another_anamnesis_asks_again_and_key_order_does_not(fake_ai_client, httpserver, headers):
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    for body in ({}, {"age": 40, "sex": "female"}, {"sex": "female", "age": 40}, {"age": 41}):
        response = fake_ai_client.post("/api/ai/next_question", json=body, headers=headers)
        assert response.status_code == 200
    assert calls(httpserver) == [
        ASKED,
        {"anamnesis": {"age": 40, "sex": "female"}},
        {"anamnesis": {"age": 41}},
    ]


def test_zero_seconds_asks_every_time(make_app, app, httpserver, headers):
    uncached = make_app(
        AI_SERVICE_URL=httpserver.url_for("/").rstrip("/"), AI_QUESTION_CACHE_SECONDS=0
    )
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    client = uncached.test_client()
    for _ in range(3):
        assert client.post("/api/ai/next_question", json={}, headers=headers).status_code == 200
    assert calls(httpserver) == [ASKED] * 3
    with uncached.app_context():
        assert get_ai_client().question_cache is None


def test_a_failed_answer_is_not_kept(fake_ai_client, httpserver, headers):
    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_json(
        {"detail": "age must be a number"}, status=422
    )
    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_json(QUESTION)
    first = fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    assert_error(first, 502, "ai_service_unavailable")
    second = fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    assert_error(second, 422, "ai_rejected_input")
    third = fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    assert third.status_code == 200
    assert third.get_json() == {**QUESTION, "required": True}
    fourth = fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    assert fourth.get_json() == third.get_json()
    assert calls(httpserver) == [ASKED] * 3
    httpserver.check_assertions()


def test_an_answer_outside_the_contract_is_not_kept(fake_ai_client, httpserver, headers):
    broken = {key: value for key, value in QUESTION.items() if key != "questionId"}
    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_json(broken)
    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_json(QUESTION)
    first = fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    assert_error(first, 502, "ai_bad_response")
    second = fake_ai_client.post("/api/ai/next_question", json={}, headers=headers)
    assert second.status_code == 200
    assert len(calls(httpserver)) == 2


def test_each_request_keeps_its_request_id(fake_ai_client, httpserver, headers):
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    ids = []
    for request_id in ("first-request", "second-request"):
        response = fake_ai_client.post(
            "/api/ai/next_question", json={}, headers={**headers, "X-Request-ID": request_id}
        )
        ids.append(response.headers["X-Request-ID"])
    assert ids == ["first-request", "second-request"]
    (asked, _), *_ = httpserver.log
    assert asked.headers["X-Request-ID"] == "first-request"


# --- the client --------------------------------------------------------------------------------


def test_callers_get_copies_they_cannot_spoil(httpserver):
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    ai = cached_client(httpserver)
    first = ai.next_question({})
    first.options.append("forever")
    first.question_text = "changed"
    first.progress.answered = 7
    second = ai.next_question({})
    assert second == NextQuestion.model_validate(QUESTION)
    assert second is not first
    assert len(calls(httpserver)) == 1


def test_concurrent_identical_misses_make_one_call(httpserver):
    def slow(request: Request) -> Response:
        time.sleep(0.3)
        return Response(NextQuestion.model_validate(QUESTION).model_dump_json(), 200)

    httpserver.expect_request(NEXT, method="POST").respond_with_handler(slow)
    ai = cached_client(httpserver)
    answers: list[NextQuestion] = []
    threads = [
        threading.Thread(target=lambda: answers.append(ai.next_question({}))) for _ in "12345678"
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(answers) == 8
    assert all(answer == NextQuestion.model_validate(QUESTION) for answer in answers)
    assert len({id(answer) for answer in answers}) == 8  # each its own copy
    assert len(calls(httpserver)) == 1


def test_concurrent_waiters_get_the_error_of_the_call_they_shared(httpserver):
    def slow_refusal(request: Request) -> Response:
        time.sleep(0.3)
        return Response('{"detail": "bad anamnesis"}', 422, content_type="application/json")

    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_handler(slow_refusal)
    httpserver.expect_ordered_request(NEXT, method="POST").respond_with_json(QUESTION)
    ai = cached_client(httpserver)
    errors: list[Exception] = []

    def ask() -> None:
        try:
            ai.next_question({})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(errors) == 8
    assert all(isinstance(error, AIRejectedInput) for error in errors)
    assert {str(error.to_dict()) for error in errors} == {str(errors[0].to_dict())}
    assert errors[0].details == {"status": 422, "detail": "bad anamnesis"}
    assert len(calls(httpserver)) == 1
    assert ai.next_question({}) == NextQuestion.model_validate(QUESTION)  # not kept: asked again
    assert len(calls(httpserver)) == 2


def test_the_least_recently_used_answer_goes_first(httpserver):
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    ai = cached_client(httpserver, question_cache_entries=2)
    a, b, c = {"age": 1}, {"age": 2}, {"age": 3}
    for anamnesis in (a, b, a, c):  # a used again after b: c evicts b
        ai.next_question(anamnesis)
    assert len(ai.question_cache) == 2
    ai.next_question(a)  # kept
    ai.next_question(b)  # asked again (evicts c, the least recently used now)
    ai.next_question(a)
    assert [body["anamnesis"] for body in calls(httpserver)] == [a, b, c, b]


def test_an_answer_expires_after_its_time_to_live(httpserver):
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    clock = Clock()
    ai = cached_client(httpserver, question_cache_seconds=60, clock=clock)
    ai.next_question({})
    clock.now += 59.9
    ai.next_question({})
    assert len(calls(httpserver)) == 1
    clock.now += 0.1
    ai.next_question({})
    assert len(calls(httpserver)) == 2
    clock.now += 30
    ai.next_question({})
    assert len(calls(httpserver)) == 2


def test_a_new_model_version_forgets_the_cached_questions(httpserver):
    predict = "/api/v1/diagnosis/predict"
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    ai = cached_client(httpserver)
    photo = [(b"\xff\xd8 not decoded by the stand-in", "image/jpeg")]

    def predicted_by(version: str) -> None:
        answer = {**PREDICTION, "metadata": {"model_version": version, "inference_time_ms": 9}}
        httpserver.expect_oneshot_request(predict, method="POST").respond_with_json(answer)
        assert ai.predict({}, photo).metadata.model_version == version

    ai.next_question({})
    predicted_by("model-1")  # the first version seen: nothing to forget
    ai.next_question({})
    assert len(calls(httpserver)) == 1
    predicted_by("model-1")
    ai.next_question({})
    assert len(calls(httpserver)) == 1
    predicted_by("model-2")  # the service was upgraded: its questionnaire may differ
    assert len(ai.question_cache) == 0
    ai.next_question({})
    assert len(calls(httpserver)) == 2


def test_the_client_asks_every_time_unless_told_to_cache(httpserver):
    httpserver.expect_request(NEXT, method="POST").respond_with_json(QUESTION)
    ai = AIClient(httpserver.url_for("/"), retries=0)  # the checks' client: no cache
    ai.next_question({})
    ai.next_question({})
    assert ai.question_cache is None
    assert len(calls(httpserver)) == 2


def test_an_answer_is_kept_per_ai_service(httpserver):
    """The key holds the URL: two services (e.g. two apps) never answer for each other."""
    assert body_key("http://a/api/v1/questionnaire/next", ASKED) != body_key(
        "http://b/api/v1/questionnaire/next", ASKED
    )
    assert body_key("http://a", {"x": 1, "y": [1, 2]}) == body_key(
        "http://a", {"y": [1, 2], "x": 1}
    )
    assert body_key("http://a", {"x": True}) != body_key("http://a", {"x": 1})
    assert body_key("http://a", {"x": float("nan")}) is None  # not JSON: not cached


def test_a_waiter_past_its_deadline_is_a_timeout(httpserver):
    release = threading.Event()

    def stuck(request: Request) -> Response:
        release.wait(5)
        return Response(NextQuestion.model_validate(QUESTION).model_dump_json(), 200)

    httpserver.expect_request(NEXT, method="POST").respond_with_handler(stuck)
    leader_ai = cached_client(httpserver, read_timeout=5.0)
    leader = gevent.spawn(leader_ai.next_question, {})
    gevent.sleep(0.1)
    leader_ai.questionnaire_deadline = 0.2  # the waiter's own deadline is shorter
    started = time.monotonic()
    with pytest.raises(AIServiceTimeout) as caught:
        leader_ai.next_question({})
    assert time.monotonic() - started < 2.0
    assert caught.value.details == {"timeout_seconds": 0.2}
    release.set()
    assert leader.get(timeout=5) == NextQuestion.model_validate(QUESTION)


# --- the cache itself --------------------------------------------------------------------------


def test_waiters_of_a_killed_call_call_again():
    cache: AnswerCache[str] = AnswerCache(60, 10)
    started = threading.Event()

    def hangs() -> str:
        started.set()
        gevent.sleep(10)
        return "never"

    leader = gevent.spawn(cache.get, b"k", hangs, wait_seconds=10)
    started.wait(2)
    waiter = gevent.spawn(cache.get, b"k", lambda: "asked again", wait_seconds=10)
    gevent.sleep(0.05)
    leader.kill()  # GreenletExit is not an answer to share
    assert waiter.get(timeout=5) == "asked again"
    assert cache.get(b"k", lambda: "not asked", wait_seconds=1) == "asked again"


def test_a_waiter_that_waits_too_long_is_told_so():
    cache: AnswerCache[str] = AnswerCache(60, 10)
    release = threading.Event()
    leader = gevent.spawn(cache.get, b"k", lambda: release.wait(5) and "late", wait_seconds=10)
    gevent.sleep(0.01)
    with pytest.raises(WaitedTooLong):
        cache.get(b"k", lambda: "not asked", wait_seconds=0.05)
    release.set()
    assert leader.get(timeout=5) == "late"


def test_errors_are_copied_for_each_waiter():
    cache: AnswerCache[str] = AnswerCache(60, 10)
    error = AIServiceUnavailable(details={"status": 500})

    def fails() -> str:
        gevent.sleep(0.1)
        raise error

    greenlets = [gevent.spawn(cache.get, b"k", fails, wait_seconds=5) for _ in range(3)]
    gevent.joinall(greenlets, timeout=5)
    raised = [g.exception for g in greenlets]
    assert raised[0] is error  # the caller that called raises its own error
    for other in raised[1:]:
        assert type(other) is AIServiceUnavailable and other is not error
        assert other.to_dict() == error.to_dict() and other.status == 502


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("AI_QUESTION_CACHE_SECONDS", -1),
        ("AI_QUESTION_CACHE_SECONDS", float("nan")),
        ("AI_QUESTION_CACHE_ENTRIES", 0),
    ],
)
def test_bad_cache_settings_refuse_to_start(make_app, setting, value):
    with pytest.raises(RuntimeError, match=setting):
        make_app(**{setting: value})
