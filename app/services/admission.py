"""Admission of CPU- and database-heavy request phases, per worker process (a bulkhead).

Under gunicorn's gevent worker nothing preempts a greenlet: when 128 diagnoses are all parsing,
checking and storing photos at once, every one of them (and ``/healthy``) waits for a full round
of all the others between two steps, and each pooled database connection is held across those
rounds. Measured side by side (bench/README.md): 32 concurrent diagnoses ran at the original
stack's rate, 128 collapsed to 0.1 per second. :func:`admitted` lets at most
:data:`ADMITTED_PER_WORKER` requests of a worker into such a phase at once; the others wait at
the door, which costs nothing (no CPU, no connection, their bodies not yet read into memory).
Waiting on the AI Service is not such a phase: it is done outside, so a slow model never holds a
slot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Requests of one worker inside a heavy phase at once. Eight keep both cores busy (each phase
#: alternates CPU with database and S3 round trips) while a round of the runnable greenlets stays
#: short enough for ``/healthy``.
ADMITTED_PER_WORKER = 8

_slots = threading.BoundedSemaphore(ADMITTED_PER_WORKER)


@contextmanager
def admitted() -> Iterator[None]:
    """Wait for one of the worker's admission slots and hold it for the ``with`` block."""
    with _slots:
        yield
