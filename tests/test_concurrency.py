"""The concurrency model (issue #15): gevent workers, CPU-bound work in native threads.

- The suite itself runs gevent-patched (tests/conftest.py), as the workers do (gunicorn.conf.py).
- A 10 MB photo being decoded, rotated and re-encoded does not stall the worker: ``/healthy``
  keeps answering while it is processed (a real gunicorn with ``gunicorn.conf.py``, one worker).
- Every library on the request path waits cooperatively: psycopg, redis (with ``limits``), and
  requests / boto3 (their own tests run in this patched process against real sockets).

No test here asserts a speed: the bounds compare waits that overlap (seconds) with waits that
would queue (many times longer), so a busy machine cannot make them fail.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import threading
import time
import uuid
from pathlib import Path

import gevent
import psycopg
import pytest
import redis
import requests
from gevent import monkey
from PIL import Image

from app.concurrency import (
    LOW_PRIORITY_NICENESS,
    gevent_patched,
    run_at_low_priority,
    run_cpu_bound,
    warm_up_worker,
)
from tests.conftest import ADMIN_URL, REPO_ROOT, STRONG_PASSWORD, free_port
from tests.fixtures.cases import case_payload
from tests.fixtures.served import stop

BIN = REPO_ROOT / ".venv" / "bin"


def test_the_suite_runs_under_the_production_model():
    assert gevent_patched()
    for module in ("socket", "ssl", "threading", "select", "time", "subprocess"):
        assert monkey.is_module_patched(module), module
    settings = __import__("runpy").run_path(str(REPO_ROOT / "gunicorn.conf.py"))
    assert settings["worker_class"] == "app.worker.FairGeventWorker"


def test_cpu_bound_work_runs_in_a_native_thread_and_raises_its_errors():
    main_ident = threading.get_ident()
    native = monkey.get_original("threading", "get_ident")
    assert run_cpu_bound(native) != native()  # another OS thread
    assert threading.get_ident() == main_ident

    def fail() -> None:
        raise ValueError("from the pool")

    with pytest.raises(ValueError, match="from the pool"):
        run_cpu_bound(fail)


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)  # Linux: the calling thread's


def test_password_work_runs_at_low_priority_and_image_work_does_not():
    """Hashes (run_at_low_priority) get niceness 10 in threads of their own; the worker's
    thread and the image pool's threads keep theirs (a thread cannot get it back)."""
    native = monkey.get_original("threading", "get_ident")
    before = _niceness()
    assert run_at_low_priority(_niceness) == max(before, LOW_PRIORITY_NICENESS)
    assert run_at_low_priority(native) != native()  # another OS thread
    assert _niceness() == before
    assert [run_cpu_bound(_niceness) for _ in range(4)] == [before] * 4

    def fail() -> None:
        raise ValueError("from the low-priority pool")

    with pytest.raises(ValueError, match="from the low-priority pool"):
        run_at_low_priority(fail)


def test_a_worker_is_warmed_up_with_the_hash_unknown_emails_are_checked_against(app, make_app):
    """Else the first login with an unknown email in each new worker hashed twice."""
    app = make_app()  # a fresh app: nothing hashed yet
    assert "dummy" not in app.extensions.get("password_hashers", {})
    warm_up_worker(app)
    assert app.extensions["password_hashers"]["dummy"].startswith("$argon2id$")


def test_the_orm_is_configured_when_the_app_is_made():
    """In a fresh process, create_app configures the mappers (else the first query of each
    gunicorn worker did, 0.3-0.5 s of CPU with every other request of the worker waiting)."""
    script = (
        "from app import create_app; from sqlalchemy.orm import Mapper; "
        "create_app(); from app.models import User, Case; "
        "print(User.__mapper__.configured, Case.__mapper__.configured)"
    )
    env = {**os.environ, "APP_ENV": "development", "INSTANCE_PATH": "/tmp"}
    done = subprocess.run(
        [str(BIN / "python"), "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_concurrent_postgresql_waits_overlap():
    """20 greenlets each wait 0.5 s in PostgreSQL: together ~0.5 s, not 10 s."""

    def nap() -> None:
        with psycopg.connect(ADMIN_URL) as conn:
            conn.execute("SELECT pg_sleep(0.5)")

    started = time.monotonic()
    gevent.joinall([gevent.spawn(nap) for _ in range(20)], raise_error=True)
    assert time.monotonic() - started < 5.0  # serial would be 10 s


def test_concurrent_redis_waits_overlap():
    """10 greenlets each block 0.5 s on an empty Redis list: together ~0.5 s, not 5 s."""
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    key = f"i15-concurrency-{uuid.uuid4().hex}"

    def wait_on_empty_list() -> None:
        assert client.blpop([key], timeout=0.5) is None

    started = time.monotonic()
    gevent.joinall([gevent.spawn(wait_on_empty_list) for _ in range(10)], raise_error=True)
    assert time.monotonic() - started < 3.0  # serial would be 5 s


def test_limits_counts_through_redis_from_concurrent_greenlets():
    """The login throttle's library (``limits``) over Redis, hit from 20 greenlets at once."""
    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    limiter = MovingWindowRateLimiter(storage_from_string("redis://127.0.0.1:6379/0"))
    limit = parse("10 per minute")
    key = f"i15-limits-{uuid.uuid4().hex}"
    results = [gevent.spawn(limiter.hit, limit, key) for _ in range(20)]
    gevent.joinall(results, raise_error=True)
    assert sorted(r.value for r in results) == [False] * 10 + [True] * 10


# --- a real worker: /healthy while a 10 MB photo is processed ---------------------------------


def _big_rotated_jpeg() -> bytes:
    """A 4000x3000 JPEG just under 10 MiB with EXIF orientation 6 (decode, rotate, re-encode)."""
    width, height = 4000, 3000
    rng = random.Random(15)
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(base, noise, 0.35)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    for quality in (92, 88, 84, 80, 75, 70):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
        if buffer.tell() <= 10 * 1024 * 1024 - 64 * 1024:
            return buffer.getvalue()
    raise AssertionError("could not make a photo under 10 MiB")


@pytest.fixture
def one_gevent_worker(tmp_path: Path):
    """gunicorn with gunicorn.conf.py and one worker, on SQLite and local storage; its base URL."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "AI_SERVICE", "APP_ENV", "STORAGE_", "WEB_CONC"))
    }
    env.update(
        APP_ENV="development",
        INSTANCE_PATH=str(tmp_path / "instance"),
        WEB_CONCURRENCY="1",
        AI_SERVICE_URL=f"http://127.0.0.1:{free_port()}",
        GUNICORN_ACCESS_LOG="",
    )
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/healthy", timeout=2)
                break
            except requests.RequestException:
                assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield base
    finally:
        stop(process)
        log.close()


@pytest.mark.slow
def test_healthy_answers_while_a_10_mb_photo_is_processed(one_gevent_worker):
    base = one_gevent_worker
    email = f"cpu-{uuid.uuid4().hex[:8]}@example.org"
    registered = requests.post(
        f"{base}/api/auth/register",
        json={"email": email, "password": STRONG_PASSWORD, "full_name": "Dr. CPU"},
        timeout=30,
    )
    assert registered.status_code in (201, 202), registered.text
    token = requests.post(
        f"{base}/api/auth/login", json={"email": email, "password": STRONG_PASSWORD}, timeout=30
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    case = requests.post(f"{base}/api/cases", json=case_payload(), headers=auth, timeout=30)
    assert case.status_code == 201, case.text
    photo = _big_rotated_jpeg()

    outcome: dict[str, object] = {}

    def upload() -> None:
        outcome["started"] = time.monotonic()
        outcome["response"] = requests.post(
            f"{base}/api/cases/{case.json()['id']}/images",
            files={"image": ("lesion.jpg", photo, "image/jpeg")},
            headers=auth,
            timeout=120,
        )
        outcome["finished"] = time.monotonic()

    uploading = gevent.spawn(upload)
    gevent.sleep(0)
    probes: list[tuple[float, float]] = []
    while not uploading.dead:
        sent = time.monotonic()
        assert requests.get(f"{base}/healthy", timeout=120).status_code == 200
        probes.append((sent, time.monotonic()))
    uploading.get()

    response = outcome["response"]
    assert response.status_code == 201, response.text
    stored = response.json()
    assert (stored["width"], stored["height"]) == (3000, 4000)  # rotated: it was decoded
    started, finished = outcome["started"], outcome["finished"]
    during = [(s, e) for s, e in probes if s >= started and e <= finished]
    slowest = max(e - s for s, e in probes)
    # Served in a native thread, the photo leaves the worker free: /healthy keeps answering,
    # each answer a small part of the upload's time. Processed on the worker's own thread,
    # every probe sent meanwhile would wait for the whole decode-rotate-encode.
    assert len(during) >= 3, (len(during), finished - started)
    assert slowest < (finished - started) / 2, (slowest, finished - started)


def test_a_worker_builds_its_s3_client_before_it_accepts_requests(s3_app):
    """botocore's models take a few hundred ms of CPU to load; in a request that would stall
    every other request of the gevent worker, so the warm-up (post_worker_init) builds it."""
    from app.concurrency import warm_up_worker
    from app.services.case_images import _STORAGE_EXTENSION

    s3_app.extensions.pop(_STORAGE_EXTENSION, None)
    warm_up_worker(s3_app)
    storage = s3_app.extensions[_STORAGE_EXTENSION]
    assert storage._client is not None
    assert storage.client.meta.service_model.service_name == "s3"
