"""Fair turns between connections in the served worker (app/worker.py, issue #15).

One gunicorn worker from ``gunicorn.conf.py``. Connection A pipelines a few thousand ``/healthy``
requests in one write, so its greenlet always finds its next request already buffered; gunicorn's
plain gevent worker serves all of them before it even accepts another connection. Connection B,
opened right after, must be answered while A's batch is still being served.

No speed is asserted: B's wait is compared with the time A's whole batch took, in the same run.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.fixtures.served import development_env, start_gunicorn, stop, wait_until_up

PIPELINED = 3000
REQUEST = b"GET /healthy HTTP/1.1\r\nHost: test\r\n\r\n"

pytestmark = pytest.mark.slow


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[int]:
    """One worker of the production gunicorn settings; its port."""
    port = free_port()
    env = development_env(tmp_path, WEB_CONCURRENCY="1", AI_SERVICE_URL="http://127.0.0.1:9")
    log = tmp_path / "gunicorn.log"
    worker = start_gunicorn(env, port, log)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthy", worker, log)
        yield port
    finally:
        stop(worker)


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
