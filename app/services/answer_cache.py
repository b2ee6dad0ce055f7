"""A per-process cache of answers with a time to live, a size bound and single flight.

Built for the AI Service's ``questionnaire/next`` (:meth:`app.services.ai_client.AIClient.
next_question`): the contract makes every call a pure function of its body, the first question
(``{}``) is asked for every new case, and the portal asks the same step again on reloads,
back/forward and htmx re-renders, each time waiting for the model (about 200 ms).

- **Key**: :func:`body_key` of what is sent (the service's URL and the canonical JSON of the
  body, sorted keys), as a SHA-256 digest: an entry costs 32 bytes of key whatever the size of
  the anamnesis (up to ``MAX_ANAMNESIS_JSON_BYTES``, 1 MB), and no patient answer is kept.
- **Value**: what ``call()`` returned, kept as it was returned and never handed out: every caller
  (the one whose call filled the entry too) gets ``copy(value)``, so nobody can change a cached
  answer.
- **Time to live and bound**: an entry is served for ``ttl`` seconds after it was stored (by
  ``clock``, default ``time.monotonic``); at most ``max_entries`` are kept, the least recently
  used dropped first.
- **Single flight**: callers missing the same key while a call for it is under way wait for that
  call (``threading.Event``: gevent's under the served worker, so a waiting request costs no
  thread) and get its answer, or the error it raised (a copy of it: the same class, message and
  details). Errors are never stored: the next caller calls again. A call ended by something that
  is not an ``Exception`` (``GreenletExit``, ``gevent.Timeout`` of the caller's own time limit)
  is not shared: its waiters start over, one of them calling.

Each process has its own entries: after a fork the child starts empty (``os.register_at_fork``),
never sharing the parent's locks or half-finished calls.
"""

from __future__ import annotations

import copy as copy_module
import hashlib
import json
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

V = TypeVar("V")

#: Every cache of this process, emptied in a forked child.
_CACHES: weakref.WeakSet[AnswerCache[Any]] = weakref.WeakSet()


def body_key(url: str, body: Mapping[str, Any]) -> bytes | None:
    """The cache key of ``body`` sent to ``url``: SHA-256 of the URL and the body's canonical JSON
    (sorted keys, no spaces, ASCII). ``None`` when the body has no JSON form (NaN, a value JSON
    cannot hold): such a call is not cached, it fails as it would without the cache.
    """
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(url.encode())
    digest.update(b"\n")
    digest.update(text.encode())
    return digest.digest()


class WaitedTooLong(Exception):
    """The call a caller waited for (single flight) did not end within its ``wait_seconds``."""


class _Flight:
    """One call under way: its waiters block on ``done``; then ``value`` or ``error`` is set."""

    __slots__ = ("done", "error", "has_value", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.has_value = False
        self.value: Any = None
        self.error: Exception | None = None


class AnswerCache(Generic[V]):
    """Answers by key for ``ttl`` seconds, at most ``max_entries`` (LRU), one call per key at once.

    Args:
        ttl: seconds an answer is served after it was stored (> 0).
        max_entries: answers kept at most (>= 1); the least recently used goes first.
        copy: makes the copy each caller gets of a stored answer (default ``copy.deepcopy``).
        clock: monotonic seconds (default ``time.monotonic``); tests pass their own.

    Safe to share between the threads (or greenlets) of one process.
    """

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        *,
        copy: Callable[[V], V] = copy_module.deepcopy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError("an AnswerCache needs ttl > 0 and max_entries >= 1")
        self.ttl = float(ttl)
        self.max_entries = int(max_entries)
        self._copy = copy
        self._clock = clock
        self._reset()
        _CACHES.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        #: key -> (stored until, answer), least recently used first.
        self._entries: OrderedDict[bytes, tuple[float, V]] = OrderedDict()
        self._flights: dict[bytes, _Flight] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every stored answer (calls under way finish and store theirs)."""
        with self._lock:
            self._entries.clear()

    def get(self, key: bytes, call: Callable[[], V], *, wait_seconds: float) -> V:
        """A copy of the answer stored under ``key``, else of what ``call()`` returns (stored).

        When a call for ``key`` is already under way, waits for it (at most ``wait_seconds``)
        instead of calling.

        Raises:
            Exception: whatever ``call()`` raised, here or in the call waited for (a copy).
            WaitedTooLong: the call waited for did not end within ``wait_seconds``.
        """
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    if entry[0] > self._clock():
                        self._entries.move_to_end(key)
                        return self._copy(entry[1])
                    del self._entries[key]
                flight = self._flights.get(key)
                leading = flight is None
                if flight is None:
                    flight = self._flights[key] = _Flight()
            if leading:
                return self._lead(key, flight, call)
            if not flight.done.wait(max(wait_seconds, 0.0)):
                raise WaitedTooLong(f"the call shared by this one took over {wait_seconds:.1f} s")
            if flight.has_value:
                return self._copy(flight.value)
            if flight.error is not None:
                raise _copy_error(flight.error)
            # The call was ended by a BaseException (its greenlet killed): call again.

    def _lead(self, key: bytes, flight: _Flight, call: Callable[[], V]) -> V:
        try:
            value = call()
        except Exception as exc:
            flight.error = exc
            raise
        else:
            with self._lock:
                self._entries[key] = (self._clock() + self.ttl, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            flight.value, flight.has_value = value, True
            return self._copy(value)
        finally:
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()


def _copy_error(error: Exception) -> Exception:
    """A copy of ``error`` for a waiter to raise (same class, message, attributes, cause), so that
    callers raising at once do not share one exception's traceback."""
    try:
        clone = copy_module.copy(error)
    except Exception:  # an exception class copy cannot rebuild: raise the same one
        return error
    clone.__cause__ = error.__cause__
    clone.__context__ = error.__context__
    clone.__suppress_context__ = error.__suppress_context__
    return clone


def _empty_in_child() -> None:
    for cache in list(_CACHES):
        cache._reset()


os.register_at_fork(after_in_child=_empty_in_child)
