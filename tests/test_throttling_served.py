"""The throttle under gunicorn as deployed: two workers sharing Redis, behind one trusted proxy.

Measures ``/healthy`` while 64 anonymous logins arrive at once with the production argon2 cost
(the attack of issue #13: 1.1 GB per worker, ``/healthy`` 4.8 s) against the issue's bound of
100 ms; the figures measured are printed (``-s``).
"""

from __future__ import annotations

import json
import math
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
from tests.fixtures.served import stop
from tests.test_serve import wait_for

pytestmark = pytest.mark.slow
WRONG = "Wrong-password-99"
PROBES = 40
PROBE = """
import json, sys, time, urllib.request

def get(url):
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.status == 200
        answer.read()
    return time.perf_counter() - began

for _ in range(3):  # this process's first request imports and builds what urllib needs
    get(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
latencies = []
for _ in range(int(sys.argv[2])):
    latencies.append(get(sys.argv[1]))
    time.sleep(0.025)
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
            stop(process)


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


@pytest.fixture
def control_server(tmp_path):
    """A trivial HTTP server in a process of its own (Python's http.server, a static file): what
    the same probe measures there during the burst is what this machine's load (the 64 client
    threads here, the other developers' suites) costs any server, not what the gateway does."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("ok")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path / "www",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=10)


def start_prober(url: str) -> subprocess.Popen:
    """A process that times ``PROBES`` GETs of ``url`` (25 ms apart) once told to go."""
    prober = subprocess.Popen(
        [sys.executable, "-c", PROBE, url, str(PROBES)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert prober.stdout.readline().strip() == "ready"
    return prober


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.95 → p95) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def test_64_concurrent_anonymous_logins_leave_healthy_fast(gateway, control_server):
    """Issue #13: "64 concurrent anonymous logins keep /healthy under 100 ms".

    ``PROBES`` probes of ``/healthy``, 25 ms apart from the moment the 64 logins are sent (the
    burst is over within about a second). Asserted: the p95 under the issue's 100 ms, and the
    slowest probe under 100 ms plus what this shared machine itself did to a trivial server
    probed the same way at the same time (``control_server``: its slowest probe less its
    median; printed). On a quiet machine that allowance is a few ms; with the other developers'
    suites running it has been up to 280 ms.

    Before the login door (``app/services/rate_limits/login_door.py``) each worker's one thread
    went through the Flask start of every login it received before the hash cap refused it, and
    the slowest probe was 45-142 ms on a quiet machine (0.2-1.16 s at load 7-10); with the door,
    6-44 ms (8 runs).
    """
    base = gateway["base"]
    start = threading.Barrier(65)
    latencies: list[float] = []
    control: list[float] = []

    def anonymous_login(n: int) -> int:
        start.wait()
        return login(base, f"nobody{n}@example.org", WRONG, f"192.0.2.{n + 1}").status_code

    # The probes run in other processes, so the 64 client threads here cannot delay them.
    prober, control_prober = start_prober(f"{base}/healthy"), start_prober(control_server)

    def probe_health() -> None:
        start.wait()
        for process in (prober, control_prober):
            process.stdin.write("go\n")
            process.stdin.flush()
        latencies.extend(json.loads(prober.stdout.readline()))
        control.extend(json.loads(control_prober.stdout.readline()))
        for process in (prober, control_prober):
            process.wait(timeout=30)

    with ThreadPoolExecutor(max_workers=65) as pool:
        probe = pool.submit(probe_health)
        codes = list(pool.map(anonymous_login, range(64)))
        probe.result()
    assert set(codes) <= {401, 429}, codes
    assert codes.count(429) > 0  # the hash cap answered some at once instead of queueing them
    p95, slowest, noise = percentile(latencies, 0.95), max(latencies), max(control)
    print(
        f"\n/healthy during 64 concurrent logins (ms): {[round(x * 1000) for x in latencies]}; "
        f"median {statistics.median(latencies) * 1000:.0f}, p95 {p95 * 1000:.0f}, "
        f"max {slowest * 1000:.0f}; control server max {noise * 1000:.0f}; "
        f"logins 401: {codes.count(401)}, 429: {codes.count(429)}"
    )
    assert p95 < 0.100
    assert slowest < 0.100 + max(0.0, noise - statistics.median(control))


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
