"""The real ``make run`` server path: gunicorn on the SQLite default, with the reference AI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from tests.conftest import REPO_ROOT, STRONG_PASSWORD, free_port

pytestmark = pytest.mark.slow


def wait_for(url: str, timeout: float = 90.0) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.RequestException:  # not listening yet, or workers still booting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stack_env(tmp_path, port: int, ai_port: int) -> dict[str, str]:
    """The environment of a ``make run`` on ``port`` / ``ai_port`` with its own instance."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "AI_SERVICE", "APP_ENV", "STORAGE_", "GATEWAY_"))
    }
    env.update(PORT=str(port), AI_PORT=str(ai_port), INSTANCE_PATH=str(tmp_path / "instance"))
    return env


def _ignore_sigint() -> None:
    # As for a command started in the background (`make test &`, nohup under a
    # non-interactive shell): SIGINT ignored on entry, so bash cannot trap it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_stack(tmp_path, env: dict[str, str], *, ignore_sigint: bool = False):  # type: ignore[no-untyped-def]
    """Start ``scripts/run-stack`` in a session of its own; output to ``run-stack.log``."""
    log = (tmp_path / "run-stack.log").open("wb")  # a file, not a pipe nobody reads
    process = subprocess.Popen(
        [str(REPO_ROOT / "scripts" / "run-stack")],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_ignore_sigint if ignore_sigint else None,  # noqa: PLW1509 - no threads here
    )
    log.close()
    return process


@pytest.fixture
def served(tmp_path, request):  # type: ignore[no-untyped-def]
    port, ai_port = free_port(), free_port()
    env = stack_env(tmp_path, port, ai_port)
    process = start_stack(tmp_path, env, ignore_sigint=getattr(request, "param", False))
    try:
        wait_for(f"http://127.0.0.1:{port}/healthy")
        yield {
            "base": f"http://127.0.0.1:{port}",
            "ai": f"http://127.0.0.1:{ai_port}",
            "process": process,
            "instance": tmp_path / "instance",
            "env": env,
            "log": tmp_path / "run-stack.log",
        }
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_run_stack_serves_round_trip_on_sqlite(served):
    base = served["base"]
    assert requests.get(f"{base}/healthy", timeout=5).json() == {"status": "healthy"}
    assert requests.get(f"{base}/health", timeout=5).json()["database"] == "connected"
    assert (served["instance"] / "dermadetect.db").exists()
    registered = requests.post(
        f"{base}/api/auth/register",
        json={"email": "serve@example.org", "password": STRONG_PASSWORD, "full_name": "Dr. S"},
        timeout=10,
    )
    assert registered.status_code == 202, registered.text  # open registration (make run)
    tokens = requests.post(
        f"{base}/api/auth/login",
        json={"email": "serve@example.org", "password": STRONG_PASSWORD},
        timeout=10,
    ).json()
    me = requests.get(
        f"{base}/api/users/me",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert me.status_code == 200
    assert me.json()["email"] == "serve@example.org"
    # The reference AI service was started beside the gateway.
    ai = requests.get(f"{served['ai']}/api/v1/health", timeout=5).json()
    assert ai["model_version"].startswith("reference-")


@pytest.mark.parametrize(
    "served", [False, True], indirect=True, ids=["foreground", "sigint-ignored"]
)
def test_ctrl_c_stops_both_processes(served):
    process = served["process"]
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=20) is not None
    for url in (served["base"] + "/healthy", served["ai"] + "/api/v1/health"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=1)
    assert not (served["instance"] / "run.env").exists()


def test_running_is_printed_after_healthy_and_run_env_names_the_urls(served):
    # wait_for saw /healthy; run-stack prints "running" after its own check, so allow a moment.
    deadline = time.monotonic() + 20
    while "is running" not in served["log"].read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"is running on {served['base']}" in served["log"].read_text()
    run_env = (served["instance"] / "run.env").read_text()
    assert f"GATEWAY_URL={served['base']}" in run_env
    assert f"AI_SERVICE_URL={served['ai']}" in run_env


def test_flask_check_in_a_second_terminal_follows_ai_port(served):
    env = {**served["env"], "FLASK_APP": "wsgi"}
    deadline = time.monotonic() + 20
    while not (served["instance"] / "run.env").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "flask"), "check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ai_line = next(line for line in result.stdout.splitlines() if "AI Service" in line)
    assert ai_line.startswith("PASS"), result.stdout + result.stderr
    assert served["ai"] in ai_line


@pytest.mark.parametrize("busy", ["PORT", "AI_PORT"])
def test_a_busy_port_fails_at_once_with_one_line(tmp_path, busy):
    port, ai_port = free_port(), free_port()
    env = stack_env(tmp_path, port, ai_port)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env[busy])))
        taken.listen(1)
        process = start_stack(tmp_path, env)
        try:
            assert process.wait(timeout=30) == 1
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    output = (tmp_path / "run-stack.log").read_text().strip().splitlines()
    assert output == [
        line for line in output if f"port {env[busy]}" in line and "already in use" in line
    ]
    assert len(output) == 1


def _raw(base: str, request: bytes) -> tuple[int, bytes, bytes]:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b"Connection: close" not in answer:
                head, _, body = answer.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), head, body


def test_gunicorn_limits_answer_in_the_json_error_shape(served):
    base = served["base"]
    # Over gunicorn's longest request line: its 414, as JSON.
    status, head, body = _raw(base, b"GET /api/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414
    assert b"application/json" in head
    assert json.loads(body)["error"]["code"] == "uri_too_long"
    # 4,094 to 8,190 bytes reach the app (the case): its own JSON 404.
    status, head, body = _raw(
        base, b"GET /api/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"
    # A header over 16 KB: 431, as JSON.
    status, head, body = _raw(
        base, b"GET /api/users/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n"
    )
    assert status == 431
    assert json.loads(body)["error"]["code"] == "header_fields_too_large"


def test_worklist_answers_on_sqlite_after_demo_seed(served):
    # make run's default database is SQLite: the worklist's due time (analysed_at + window)
    # must not rely on PostgreSQL interval arithmetic (it was a 500 on the portal home).
    env = {**served["env"], "FLASK_APP": "wsgi"}
    seeded = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "flask"), "demo", "seed"],
        check=False,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    base = served["base"]
    tokens = requests.post(
        f"{base}/api/auth/login",
        json={"email": "demo@dermadetect.example", "password": "Demo-Derma-2026"},
        timeout=10,
    ).json()
    answer = requests.get(
        f"{base}/api/worklist", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert items, "the demo seed leaves analysed, unreviewed cases"
    dues = [item["due_at"] for item in items]
    overdue = [item for item in items if item["state"] == "overdue"]
    assert items[: len(overdue)] == overdue  # overdue first
    rest = dues[len(overdue) :]
    assert rest == sorted(rest)
