"""The real server over HTTP: ``python -m reference_ai --port N`` in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from reference_ai.tests.conftest import REPO

TOKEN = "server-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, body: dict | None = None, token: str | None = TOKEN) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Request-ID", "server-test-1")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def wait_until_healthy(base: str, process: subprocess.Popen, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}")
        try:
            if call(f"{base}/api/v1/health", token=None)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail("server did not become healthy")


@pytest.mark.slow
def test_real_server_answers_over_http(tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "REFERENCE_AI_TOKEN": TOKEN, "REFERENCE_AI_DELAY_MS": "0"}
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "reference_ai", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(base, process)
            status, health = call(f"{base}/api/v1/health", token=None)
            assert (status, health["model_version"]) == (200, "reference-1.0")

            url = f"{base}/api/v1/questionnaire/next"
            assert call(url, {"anamnesis": {}}, token=None)[0] == 401
            status, question = call(url, {"anamnesis": {}})
            assert status == 200
            assert question["fieldName"] == "age"

            status, error = call(url, {"anamnesis": []})
            assert status == 422
            assert "detail" in error
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert "request_id=server-test-1" in log_path.read_text()
