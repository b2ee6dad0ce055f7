"""Admission of diagnoses at the door: a per-worker FIFO queue with bounded concurrency.

Under gunicorn's gevent worker nothing preempts a greenlet. When every connection of a worker
starts a diagnosis at once, the CPU is shared among all of them (processor sharing): with 128
in flight every diagnosis waits a full round of all the others between two of its steps, and
none finishes within seconds. Measured side by side (bench/README.md, 2026-12-03): 32 concurrent
diagnoses ran at the original stack's rate, 128 collapsed to 0 per second.

So a diagnosis (``POST /api/diagnosis``, ``POST /api/cases/<id>/analyze`` and the portal's
photo and analysis forms) is admitted before anything of it is done, its body not yet read:

- at most ``DIAGNOSIS_CONCURRENCY`` diagnoses of a worker run at once, from admission to the
  response, the AI wait included: throughput stays at the saturation level however many
  connections arrive, and the latency of each admitted one stays that of a lightly loaded
  worker;
- the others wait in first-in, first-out order (no CPU, no database connection, their bodies
  still in the kernel's socket buffers);
- beyond ``DIAGNOSIS_QUEUE_LIMIT`` waiting, the answer is 503 ``diagnosis_queue_full`` with
  ``Retry-After`` at once, rather than a time-out later;
- a waiting request whose client has closed its connection meanwhile is not started
  (:func:`client_gone`: the socket's TCP state, one ``getsockopt``, at admission and again
  once the body is read), so the backlog of clients that gave up costs nothing.

The queue is per worker process; the load balancer and gunicorn spread connections over workers.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import struct
import threading
import time
from collections import deque
from typing import Any

from flask import Flask, current_app, g, has_request_context, request

from app.errors import AppError

log = logging.getLogger(__name__)

#: Linux TCP states (``include/net/tcp_states.h``) in which the peer has closed or reset.
_TCP_CLOSED_STATES = frozenset({7, 8, 9})  # TCP_CLOSE, TCP_CLOSE_WAIT, TCP_LAST_ACK
_TCP_INFO = getattr(socket, "TCP_INFO", None)


class DiagnosisQueueFull(AppError):
    """503: the worker's diagnosis queue is full; ``retry_after`` in whole seconds."""

    status = 503
    code = "diagnosis_queue_full"
    message = (
        "The service is busy with other diagnoses and cannot queue this one; nothing was "
        "stored. Please send it again after the time given in Retry-After."
    )

    def __init__(self, retry_after: int, *, waiting: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(details={"retry_after_seconds": self.retry_after, "waiting": waiting})


class ClientClosedRequest(AppError):
    """499 (nginx's convention): the client closed its connection while the request waited."""

    status = 499
    code = "client_closed_request"
    message = "The client closed the connection before the diagnosis started; nothing was done."


class DoorQueue:
    """At most ``limit`` holders at once; up to ``queue_limit`` waiters, served first come first.

    Works with gevent's patched ``threading`` (greenlets) and with native threads alike. A slot
    freed by :meth:`leave` is handed to the oldest waiter directly, so a newcomer cannot
    overtake the queue.
    """

    def __init__(self, limit: int, queue_limit: int) -> None:
        if limit < 1 or queue_limit < 0:
            raise ValueError("limit must be >= 1 and queue_limit >= 0")
        self.limit = limit
        self.queue_limit = queue_limit
        self._lock = threading.Lock()
        self._active = 0
        self._waiters: deque[threading.Event] = deque()
        self._service_s = 1.0  # moving average of a holder's time, for Retry-After

    @property
    def active(self) -> int:
        """Holders now."""
        return self._active

    @property
    def waiting(self) -> int:
        """Waiters now."""
        return len(self._waiters)

    def retry_after(self) -> int:
        """Seconds after which the queue has likely moved on (the wait a newcomer would face)."""
        return max(1, math.ceil(self._service_s * (1 + len(self._waiters) / self.limit)))

    def enter(self) -> None:
        """Take a slot, waiting in line for it.

        Raises:
            DiagnosisQueueFull: ``queue_limit`` requests are already waiting.
        """
        with self._lock:
            if self._active < self.limit and not self._waiters:
                self._active += 1
                return
            if len(self._waiters) >= self.queue_limit:
                raise DiagnosisQueueFull(self.retry_after(), waiting=len(self._waiters))
            turn = threading.Event()
            self._waiters.append(turn)
        try:
            turn.wait()
        except BaseException:  # killed or interrupted while waiting: give the turn back
            with self._lock:
                try:
                    self._waiters.remove(turn)
                    return_slot = False
                except ValueError:  # the slot was handed to us meanwhile
                    return_slot = True
            if return_slot:
                self.leave()
            raise

    def leave(self, held_s: float | None = None) -> None:
        """Give the slot back (to the oldest waiter, if any); ``held_s``: how long it was held."""
        if held_s is not None:
            self._service_s = 0.8 * self._service_s + 0.2 * held_s
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()  # the slot passes on; _active is unchanged
                return
            self._active -= 1


_queue: tuple[int, DoorQueue] | None = None


def door_queue(limit: int, queue_limit: int) -> DoorQueue:
    """This worker process's diagnosis queue (made on first use, again after a fork)."""
    global _queue  # noqa: PLW0603 - one queue per process
    current = _queue
    if current is None or current[0] != os.getpid():
        current = _queue = (os.getpid(), DoorQueue(limit, queue_limit))
    return current[1]


def client_gone(environ: dict[str, Any]) -> bool:
    """Whether the client of this request has closed (or reset) its TCP connection.

    Reads the kernel's TCP state of gunicorn's socket (``TCP_INFO``; Linux): ``CLOSE_WAIT``
    once the peer's FIN arrived, ``CLOSE`` after a reset. Unread body bytes do not hide a
    closed connection, unlike a ``recv(MSG_PEEK)``. False when it cannot tell (no socket, not
    TCP, not Linux).
    """
    sock = environ.get("gunicorn.socket")
    if sock is None or _TCP_INFO is None:
        return False
    try:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False
        (state,) = struct.unpack_from("B", sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 8))
    except (OSError, ValueError, struct.error):
        return False
    return state in _TCP_CLOSED_STATES


def admit_diagnosis() -> None:
    """Admit the current request as a diagnosis (see the module docstring); call before its
    body is read. The slot is given back when the request ends (:func:`init_app`).

    Raises:
        DiagnosisQueueFull: 503, too many diagnoses waiting in this worker.
        ClientClosedRequest: 499, the client went away while the request waited.
    """
    if "diagnosis_admitted_at" in g:
        return
    config = current_app.config
    queue = door_queue(config["DIAGNOSIS_CONCURRENCY"], config["DIAGNOSIS_QUEUE_LIMIT"])
    queue.enter()
    g.diagnosis_admitted_at = time.monotonic()
    g.diagnosis_queue = queue
    refuse_if_client_gone()


def refuse_if_client_gone() -> None:
    """Raise :class:`ClientClosedRequest` when the client of the current request has gone.

    Called at admission, again by the views once the body has been read (a client that closes
    its connection while part of a large body is still unsent queues its FIN behind that data,
    so the close shows only once the body has been read), and by the diagnosis once the photo
    has passed the intake, before anything is stored or sent to the AI. Outside a request
    (the CLI) it does nothing.
    """
    if has_request_context() and client_gone(request.environ):
        log.info("client closed the connection before the diagnosis started; not started")
        raise ClientClosedRequest()


def _leave(_error: BaseException | None = None) -> None:
    queue = g.pop("diagnosis_queue", None)
    admitted_at = g.pop("diagnosis_admitted_at", None)
    if queue is not None:
        queue.leave(time.monotonic() - admitted_at if admitted_at is not None else None)


def init_app(app: Flask) -> None:
    """Give a request's diagnosis slot back when the request ends (also on errors)."""
    app.teardown_request(_leave)
