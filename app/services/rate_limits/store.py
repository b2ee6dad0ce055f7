"""Counters for the throttles, in the store named by ``RATELIMIT_STORAGE_URI``.

The ``limits`` library (the engine under Flask-Limiter) provides both the storage (``memory://``
per process, ``redis://`` shared by every worker and machine) and the moving-window limiter. A
failing store never becomes an outage: every operation here logs the error and answers as if
nothing had been counted (fail open), because a throttle that locks everybody out when Redis
is down would be worse than no throttle for a few minutes.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.concurrency import cache_redis_version_lookup

logger = logging.getLogger(__name__)


@dataclass
class CounterStore:
    """Moving-window limits and plain expiring counters over one ``limits`` storage."""

    storage: Storage
    limiter: MovingWindowRateLimiter

    @classmethod
    def from_uri(cls, uri: str, key_prefix: str) -> CounterStore:
        """Open ``uri`` (``memory://`` or ``redis://…``); keys in Redis start with ``key_prefix``.

        Raises ``ValueError`` (from ``limits``) for an unknown scheme. Nothing connects yet.
        """
        options = {"key_prefix": key_prefix} if uri.startswith(("redis", "rediss")) else {}
        if options:
            cache_redis_version_lookup()
        storage = storage_from_string(uri, **options)
        return cls(storage=storage, limiter=MovingWindowRateLimiter(storage))

    def hit(self, item: RateLimitItem, *key: str) -> int | None:
        """Count one event under ``key``; return ``None`` when allowed, else seconds to wait."""
        try:
            if self.limiter.hit(item, *key):
                return None
            return self._wait(item, key)
        except Exception:  # fail open, see the module docstring
            logger.exception("rate-limit store failed; the request is let through")
            return None

    def exhausted(self, item: RateLimitItem, *key: str) -> int | None:
        """Return seconds to wait when ``item`` is used up under ``key`` (counts nothing)."""
        try:
            if self.limiter.test(item, *key):
                return None
            return self._wait(item, key)
        except Exception:
            logger.exception("rate-limit store failed; the request is let through")
            return None

    def _wait(self, item: RateLimitItem, key: tuple[str, ...]) -> int:
        reset_at = self.limiter.get_window_stats(item, *key)[0]
        return max(1, math.ceil(reset_at - time.time()))

    def increment(self, key: str, expiry_seconds: int) -> int:
        """Add one to the counter ``key`` (which expires ``expiry_seconds`` after its first
        increment) and return the new value; 0 when the store failed."""
        try:
            return int(self.storage.incr(key, max(1, int(expiry_seconds))))
        except Exception:
            logger.exception("rate-limit store failed; the event was not counted")
            return 0

    def count(self, key: str) -> int:
        """Return the counter ``key`` (0 when absent, expired, or the store failed)."""
        try:
            return int(self.storage.get(key) or 0)
        except Exception:
            logger.exception("rate-limit store failed; the counter reads as 0")
            return 0

    def seconds_left(self, key: str) -> int:
        """Return the whole seconds until the counter ``key`` expires (0 when it has)."""
        try:
            return max(0, math.ceil(self.storage.get_expiry(key) - time.time()))
        except Exception:
            logger.exception("rate-limit store failed; no wait is imposed")
            return 0

    def restart(self, key: str, expiry_seconds: int) -> None:
        """Set the counter ``key`` to 1 with a fresh expiry of ``expiry_seconds``."""
        try:
            self.storage.clear(key)
            self.storage.incr(key, max(1, int(expiry_seconds)))
        except Exception:
            logger.exception("rate-limit store failed; the slow-down was not recorded")
