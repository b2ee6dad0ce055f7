"""The real ``make run`` server path: gunicorn on the SQLite default, with the reference AI."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests

from tests.conftest import REPO_ROOT, STRONG_PASSWORD, free_port

pytestmark = pytest.mark.slow


def wait_for(url: str, timeout: float = 30.0) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.RequestException:  # not listening yet, or workers still booting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def served(tmp_path):
    port, ai_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "AI_SERVICE", "APP_ENV", "STORAGE_"))
    }
    env.update(PORT=str(port), AI_PORT=str(ai_port), INSTANCE_PATH=str(tmp_path / "instance"))
    log = (tmp_path / "run-stack.log").open("wb")  # a file, not a pipe nobody reads
    process = subprocess.Popen(
        [str(REPO_ROOT / "scripts" / "run-stack")],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthy")
        yield {
            "base": f"http://127.0.0.1:{port}",
            "ai": f"http://127.0.0.1:{ai_port}",
            "process": process,
            "instance": tmp_path / "instance",
        }
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


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


def test_ctrl_c_stops_both_processes(served):
    process = served["process"]
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=20) is not None
    for url in (served["base"] + "/healthy", served["ai"] + "/api/v1/health"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=1)
