"""A cap on the password hashes one worker process computes at once.

argon2id at the production cost takes 64 MiB and about 0.2 s of CPU per hash; without a
cap, 64 concurrent anonymous logins made a worker grow to 1.1 GB and ``/healthy`` take 4.8 s.
``PASSWORD_HASH_CONCURRENCY`` slots per process (default 1: the two workers of the usual 2-core
container hash on at most both cores, at low priority): a request that finds none free is
refused at once with 429 ``server_busy`` rather than queued, so waiting logins never hold
memory or threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from app.services.rate_limits.errors import ServerBusy

_EXTENSION = "password_hash_slots"
_lock = threading.Lock()


def _slots() -> threading.BoundedSemaphore:
    slots = current_app.extensions.get(_EXTENSION)
    if slots is None:
        with _lock:
            slots = current_app.extensions.get(_EXTENSION)
            if slots is None:
                size = max(1, int(current_app.config["PASSWORD_HASH_CONCURRENCY"]))
                slots = threading.BoundedSemaphore(size)
                current_app.extensions[_EXTENSION] = slots
    return slots


@contextmanager
def password_hash_slot() -> Iterator[None]:
    """Hold one of this process's hash slots for the ``with`` block.

    Raises:
        ServerBusy: every slot is taken (429, ``Retry-After: 1``); nothing was hashed.
    """
    slots = _slots()
    if not slots.acquire(blocking=False):
        raise ServerBusy(1)
    try:
        yield
    finally:
        slots.release()


def refuse_unless_slot_free() -> None:
    """Raise ``ServerBusy`` at once when every hash slot is taken right now (nothing is held).

    For the start of a login: a request that would find no slot later is refused before it
    costs a database query or a throttle round trip (under a burst those add up on a worker's
    one thread, ``/healthy`` waiting behind them: tests/test_throttling_served.py). The slot
    is not kept: the hash still takes one (and may still find none).

    Raises:
        ServerBusy: every slot is taken (429, ``Retry-After: 1``).
    """
    slots = _slots()
    if not slots.acquire(blocking=False):
        raise ServerBusy(1)
    slots.release()
