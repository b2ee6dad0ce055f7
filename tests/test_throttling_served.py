"""The throttle under gunicorn as deployed: two workers sharing Redis, behind one trusted proxy.

Measures ``/healthy`` while 64 anonymous logins arrive at once with the production argon2 cost
(the attack of issue #13: 1.1 GB per worker, ``/healthy`` 4.8 s). The bound asserted is generous
(timings on the shared test machines are noisy); the figures measured are printed (``-s``).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import REPO_ROOT, STRONG_PASSWORD, free_port
from tests.test_serve import wait_for

pytestmark = pytest.mark.slow
WRONG = "Wrong-password-99"
PROBE = """
import json, sys, time, urllib.request
print("ready", flush=True)
sys.stdin.readline()
latencies = []
for _ in range(20):
    began = time.perf_counter()
    with urllib.request.urlopen(sys.argv[1], timeout=30) as answer:
        assert answer.status == 200
    latencies.append(time.perf_counter() - began)
    time.sleep(0.05)
print(json.dumps(latencies), flush=True)
"""


@pytest.fixture
def gateway(database_url, app, tmp_path):
    """gunicorn with 2 workers on the test database, counts in Redis under a fresh prefix."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "AI_SERVICE", "APP_ENV", "RATELIMIT", "LOGIN_"))
    }
    env.update(
        APP_ENV="development",
        DATABASE_URL=database_url,
        INSTANCE_PATH=str(tmp_path / "instance"),
        WEB_CONCURRENCY="2",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
        RATELIMIT_KEY_PREFIX=f"served-{uuid.uuid4().hex[:8]}",
        LOGIN_RATE_LIMIT="4 per minute",
        AUTH_ADDRESS_RATE_LIMIT="30 per minute",
        TRUSTED_PROXY_HOPS="1",
        GUNICORN_ACCESS_LOG="",
        AI_SERVICE_URL="http://127.0.0.1:9",  # never called here
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
            + ["--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/healthy")
            yield {"base": f"http://127.0.0.1:{port}", "log": log_path}
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def login(base, email, password, client_address):
    return requests.post(
        f"{base}/api/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": client_address, "Connection": "close"},
        timeout=60,
    )


def test_two_workers_share_the_counts_in_redis(gateway, make_user):
    user = make_user()
    base = gateway["base"]
    login(base, user.email, STRONG_PASSWORD, "198.51.100.20")  # the owner's usual address
    # New connections each time, so gunicorn hands them to either worker.
    codes = [login(base, user.email, WRONG, "203.0.113.7").status_code for _ in range(10)]
    assert codes == [401] * 4 + [429] * 6  # memory:// counts would let ~8 through
    assert login(base, user.email, STRONG_PASSWORD, "198.51.100.20").status_code == 200


def test_64_concurrent_anonymous_logins_leave_healthy_fast(gateway):
    base = gateway["base"]
    start = threading.Barrier(65)
    latencies: list[float] = []

    def anonymous_login(n: int) -> int:
        start.wait()
        return login(base, f"nobody{n}@example.org", WRONG, f"192.0.2.{n + 1}").status_code

    # The probe runs in another process, so the 64 client threads here cannot delay it.
    prober = subprocess.Popen(
        [sys.executable, "-c", PROBE, f"{base}/healthy"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert prober.stdout.readline().strip() == "ready"

    def probe_health() -> None:
        start.wait()
        prober.stdin.write("go\n")
        prober.stdin.flush()
        latencies.extend(json.loads(prober.stdout.readline()))
        prober.wait(timeout=30)

    with ThreadPoolExecutor(max_workers=65) as pool:
        probe = pool.submit(probe_health)
        codes = list(pool.map(anonymous_login, range(64)))
        probe.result()
    assert set(codes) <= {401, 429}, codes
    assert codes.count(429) > 0  # the hash cap answered some at once instead of queueing them
    median = statistics.median(latencies)
    print(
        f"\n/healthy during 64 concurrent logins (ms): {[round(x * 1000) for x in latencies]}; "
        f"median {median * 1000:.0f}, max {max(latencies) * 1000:.0f}; "
        f"logins 401: {codes.count(401)}, 429: {codes.count(429)}"
    )
    # Generous bounds (shared, loaded test machines): the issue measured 4.8 s before the cap.
    # Under gevent the probe that meets the burst waits for the CPU of the burst's requests on
    # its worker (no preemption), so one probe may take a second or more; the rest stay fast.
    assert median < 0.5
    assert max(latencies) < 10.0


def test_several_workers_without_a_shared_store_are_reported(tmp_path, database_url, app):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RATELIMIT", "APP_ENV"))}
    env.update(
        APP_ENV="development",
        DATABASE_URL=database_url,
        INSTANCE_PATH=str(tmp_path),
        WEB_CONCURRENCY="2",
        GUNICORN_ACCESS_LOG="",
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        + ["--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthy")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert "RATELIMIT_STORAGE_URI=memory://" in output
    assert "2 workers count login attempts separately" in output
