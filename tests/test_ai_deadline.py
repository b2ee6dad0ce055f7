"""AI Service faults over real HTTP: a trickling answer meets the call's deadline, an oversized
one the byte budget; the case, answers and photo are kept and the client may retry."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.errors import AIBadResponse, AIServiceTimeout
from app.extensions import db
from app.models import Analysis
from app.services.ai_client import AIClient
from tests.test_api_ai import QUESTION
from tests.test_api_diagnosis import ANSWERS, counts, diagnose


class TricklingAI:
    """A raw-socket AI Service: reads each request whole, then answers a valid JSON body for its
    path (``ANSWERS``, else the first question) ``step`` bytes every ``pause`` seconds, or
    ``size`` bytes of padded JSON at once (``chunked``: without ``Content-Length``)."""

    def __init__(self, *, step: int = 8, pause: float = 0.2) -> None:
        self.step, self.pause = step, pause
        self.size: int | None = None
        self.chunked = False
        self.requests = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self._stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                path = self._read_request(conn)
                self.requests += 1
                body = json.dumps(ANSWERS.get(path, QUESTION)).encode()
                if self.size is not None:
                    body = body[:-1] + b', "padding": "' + b"x" * self.size + b'"}'
                    self._send_at_once(conn, body)
                else:
                    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode())
                    for start in range(0, len(body), self.step):
                        if self._stopped.wait(self.pause):
                            return
                        conn.sendall(body[start : start + self.step])
            except OSError:
                return  # the gateway hung up (its deadline): expected

    def _send_at_once(self, conn: socket.socket, body: bytes) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if not self.chunked:
            conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            return
        conn.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
        for start in range(0, len(body), 65536):
            piece = body[start : start + 65536]
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    @staticmethod
    def _read_request(conn: socket.socket) -> str:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                raise OSError("closed")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            (
                int(v)
                for k, _, v in (h.partition(":") for h in lines[1:])
                if k.lower() == "content-length"
            ),
            0,
        )
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                raise OSError("closed")
            rest += chunk
        return lines[0].split()[1]

    def stop(self) -> None:
        self._stopped.set()
        self._sock.close()


@pytest.fixture
def trickling_ai() -> Iterator[TricklingAI]:
    fake = TricklingAI()
    yield fake
    fake.stop()


def test_a_trickled_answer_is_cut_off_at_the_deadline(trickling_ai):
    # QUESTION is ~300 bytes: at 8 bytes per 0.2 s it would take ~8 s; each read is quick.
    ai = AIClient(trickling_ai.url, read_timeout=1.0, questionnaire_deadline=1.5, retries=2)
    started = time.monotonic()
    with pytest.raises(AIServiceTimeout) as caught:
        ai.next_question({})
    elapsed = time.monotonic() - started
    assert caught.value.status == 504
    assert 1.4 <= elapsed < 4.0  # the deadline, not the ~8 s the trickle needs
    assert trickling_ai.requests == 1  # a timeout is not retried


def test_a_slow_but_timely_answer_is_read_whole(trickling_ai):
    trickling_ai.step = 100
    trickling_ai.pause = 0.05
    ai = AIClient(trickling_ai.url, read_timeout=1.0, questionnaire_deadline=10.0)
    assert ai.next_question({}).question_id == QUESTION["questionId"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_answer_over_the_byte_budget_is_a_bad_response(trickling_ai, chunked):
    trickling_ai.size = 3 * 1024 * 1024
    trickling_ai.chunked = chunked
    ai = AIClient(trickling_ai.url, read_timeout=5.0, deadline=10.0)
    with pytest.raises(AIBadResponse) as caught:
        ai.next_question({})
    assert caught.value.status == 502
    assert caught.value.details == {"max_bytes": 2 * 1024 * 1024}


def test_a_padded_answer_under_the_budget_is_accepted(trickling_ai):
    trickling_ai.size = 1024 * 1024
    ai = AIClient(trickling_ai.url, read_timeout=5.0, deadline=10.0)
    assert ai.next_question({}).question_id == QUESTION["questionId"]


def test_a_trickling_ai_gives_a_diagnosis_504_in_its_deadline_with_nothing_lost(
    make_app, app, trickling_ai, make_user, api_headers
):
    gateway = make_app(
        AI_SERVICE_URL=trickling_ai.url, AI_SERVICE_TIMEOUT=1.0, AI_SERVICE_DEADLINE=2.0
    )
    started = time.monotonic()
    response = diagnose(gateway.test_client(), api_headers(make_user()))
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "ai_service_timeout"
    # One deadline for the whole pipeline (quality, prediction, red flags, triage).
    assert elapsed < 6.0
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 1}
    assert {"case_id", "image_id", "analysis_id"} <= set(error["details"])
    with app.app_context():
        assert db.session.scalars(select(Analysis)).one().status == "failed"
        db.session.remove()


def test_a_trickling_ai_gives_next_question_504_in_its_deadline(
    make_app, app, trickling_ai, make_user, api_headers
):
    gateway = make_app(
        AI_SERVICE_URL=trickling_ai.url, AI_SERVICE_TIMEOUT=1.0, AI_QUESTIONNAIRE_DEADLINE=1.0
    )
    started = time.monotonic()
    response = gateway.test_client().post(
        "/api/ai/next_question", json={}, headers=api_headers(make_user())
    )
    assert response.status_code == 504
    assert time.monotonic() - started < 4.0
