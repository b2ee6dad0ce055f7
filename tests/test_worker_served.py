"""Fair turns between connections in the served worker (app/worker.py, issue #15).

One gunicorn worker from ``gunicorn.conf.py``. Connection A pipelines a few thousand ``/healthy``
requests in one write, so its greenlet always finds its next request already buffered; gunicorn's
plain gevent worker serves all of them before it even accepts another connection. Connection B,
opened right after, must be answered while A's batch is still being served.

No speed is asserted: B's wait is compared with the time A's whole batch took, in the same run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT, free_port

BIN = REPO_ROOT / ".venv" / "bin"
PIPELINED = 3000
REQUEST = b"GET /healthy HTTP/1.1\r\nHost: test\r\n\r\n"

pytestmark = pytest.mark.slow


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[int]:
    """One worker of the production gunicorn settings; its port."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "AI_SERVICE", "APP_ENV", "STORAGE_", "WEB_"))
    }
    env.update(
        APP_ENV="development",
        INSTANCE_PATH=str(tmp_path / "instance"),
        WEB_CONCURRENCY="1",
        GUNICORN_ACCESS_LOG="",
        AI_SERVICE_URL="http://127.0.0.1:9",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
            + ["wsgi:app"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthy", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _read_answers(sock: socket.socket, count: int) -> None:
    """Read until ``count`` answers (status lines ``HTTP/1.1 200``) have arrived."""
    marker = b"HTTP/1.1 200"
    seen, tail = 0, b""
    while seen < count:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {seen} of {count} answers"
        data = tail + chunk
        seen += data.count(marker)
        # Keep what could be the start of a marker split between two reads.
        tail = data[-(len(marker) - 1) :] if not data.endswith(marker) else b""


def test_a_new_connection_is_answered_while_a_pipelining_one_is_served(one_worker: int) -> None:
    flood = socket.create_connection(("127.0.0.1", one_worker), timeout=60)
    flood.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = threading.Thread(target=_read_answers, args=(flood, PIPELINED))
    started = time.monotonic()
    flood.sendall(REQUEST * PIPELINED)
    reader.start()
    time.sleep(0.02)  # the worker is busy with the batch

    asked = time.monotonic()
    answer = requests.get(f"http://127.0.0.1:{one_worker}/healthy", timeout=60)
    waited = time.monotonic() - asked
    reader.join(timeout=120)
    batch = time.monotonic() - started
    flood.close()

    assert answer.status_code == 200
    assert not reader.is_alive()
    # Served in turn, the new connection waits a few requests of the batch, not the batch.
    assert waited < batch / 4, f"waited {waited:.3f} s while the batch took {batch:.3f} s"
