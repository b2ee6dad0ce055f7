"""Diagnoses admitted at the door of a real gunicorn gevent worker (app/services/admission.py).

One worker with ``DIAGNOSIS_CONCURRENCY=1`` and ``DIAGNOSIS_QUEUE_LIMIT=2``, the reference AI
over HTTP with a delay on every call: the first diagnosis runs, the next two wait in line and
run in their order of arrival, the fourth is refused at once (503 in the error shape with
``Retry-After``), and a waiting request whose client closed its connection is never started (no
case, no AI call). ``/healthy`` answers throughout.

No speed is asserted: the bounds compare a refusal (immediate) with diagnoses that each take at
least two AI delays.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT, SAMPLES, STRONG_PASSWORD, free_port
from tests.fixtures.served import (
    BIN,
    development_env,
    start_gunicorn,
    stop,
    wait_until_up,
)

PHOTO = SAMPLES / "images" / "mel_ISIC_0033454.jpg"
AI_DELAY_MS = 700
ANAMNESIS = {"age": 61, "sex": "male", "location1.primary": "back", "bleeding": False}

pytestmark = pytest.mark.slow


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A slow reference AI and one gevent worker admitting one diagnosis at a time, two waiting;
    the gateway's base URL and the AI's log."""
    ai_port, port = free_port(), free_port()
    ai_log = tmp_path / "ai.log"
    ai_env = dict(os.environ, REFERENCE_AI_DELAY_MS=str(AI_DELAY_MS))
    with ai_log.open("wb") as out:
        ai = subprocess.Popen(
            [sys.executable, "-m", "reference_ai", "--host", "127.0.0.1", "--port", str(ai_port)],
            cwd=REPO_ROOT,
            env=ai_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{ai_port}/api/v1/health", ai, ai_log)
        env = development_env(
            tmp_path,
            WEB_CONCURRENCY="1",
            AI_SERVICE_URL=f"http://127.0.0.1:{ai_port}",
            DIAGNOSIS_CONCURRENCY="1",
            DIAGNOSIS_QUEUE_LIMIT="2",
        )
        subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        log = tmp_path / "gunicorn.log"
        worker = start_gunicorn(env, port, log)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/healthy", worker, log)
            yield base, ai_log
        finally:
            stop(worker)
    finally:
        stop(ai)


def _token(base: str) -> str:
    email = f"door-{uuid.uuid4().hex[:8]}@example.org"
    registered = requests.post(
        f"{base}/api/auth/register",
        json={"email": email, "password": STRONG_PASSWORD, "full_name": "Dr. Door"},
        timeout=30,
    )
    assert registered.status_code in (201, 202), registered.text
    login = requests.post(
        f"{base}/api/auth/login", json={"email": email, "password": STRONG_PASSWORD}, timeout=30
    )
    return login.json()["access_token"]


def _diagnosis_request(base: str, token: str, reference: str) -> requests.PreparedRequest:
    return requests.Request(
        "POST",
        f"{base}/api/diagnosis",
        headers={"Authorization": f"Bearer {token}"},
        files={"image": (PHOTO.name, PHOTO.read_bytes(), "image/jpeg")},
        data={"anamnesis": json.dumps({**ANAMNESIS, "patient_reference": reference})},
    ).prepare()


def test_diagnoses_wait_in_line_a_full_queue_answers_503_and_gone_clients_are_not_started(
    gateway,
):
    base, ai_log = gateway
    token = _token(base)
    auth = {"Authorization": f"Bearer {token}"}
    finished: dict[str, tuple[float, requests.Response]] = {}

    def send(name: str) -> None:
        with requests.Session() as session:
            response = session.send(_diagnosis_request(base, token, f"DOOR-{name}"), timeout=120)
        finished[name] = (time.monotonic(), response)

    first = threading.Thread(target=send, args=("first",))
    first.start()
    time.sleep(0.5)  # the first holds the one slot, waiting on the AI
    second = threading.Thread(target=send, args=("second",))
    second.start()
    time.sleep(0.2)

    # The third waits too, then its client goes away before its turn.
    gone = _diagnosis_request(base, token, "DOOR-gone")
    host, port = base.removeprefix("http://").split(":")
    raw = socket.create_connection((host, int(port)))
    head = f"POST /api/diagnosis HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in gone.headers.items()
    )
    raw.sendall(head.encode() + b"\r\n" + gone.body)
    time.sleep(0.2)

    # The queue (two waiting) is full: refused at once, in the error shape, with Retry-After.
    sent = time.monotonic()
    with requests.Session() as session:
        refused = session.send(_diagnosis_request(base, token, "DOOR-refused"), timeout=120)
    refused_after = time.monotonic() - sent
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "diagnosis_queue_full"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused_after < 2 * AI_DELAY_MS / 1000, refused_after  # not after a diagnosis
    raw.close()  # the waiting client gives up

    probes = []
    while first.is_alive() or second.is_alive():
        start = time.monotonic()
        assert requests.get(f"{base}/healthy", timeout=30).status_code == 200
        probes.append(time.monotonic() - start)
        time.sleep(0.05)
    first.join()
    second.join()
    for name in ("first", "second"):
        assert finished[name][1].status_code == 200, finished[name][1].text
    assert finished["first"][0] < finished["second"][0]  # first come, first served
    assert probes and max(probes) < AI_DELAY_MS / 1000, probes

    # A new diagnosis is admitted again once the line is empty.
    third = threading.Thread(target=send, args=("after",))
    third.start()
    third.join()
    assert finished["after"][1].status_code == 200, finished["after"][1].text

    listed = requests.get(f"{base}/api/cases", headers=auth, timeout=30).json()
    references = sorted(case["patient_reference"] for case in listed["items"])
    assert references == ["DOOR-after", "DOOR-first", "DOOR-second"]  # the gone client: no case
    # Three diagnoses, four AI calls each (quality, prediction, red flags, then triage).
    calls = [
        line for line in ai_log.read_text().splitlines() if "reference_ai: POST /api/v1/" in line
    ]
    assert len(calls) == 3 * 4, calls
