"""Login throttling: failed password attempts per account and client address are limited.

Counting uses the ``limits`` library (the engine under Flask-Limiter) with a moving window. The
counter store is ``RATELIMIT_STORAGE_URI``: ``memory://`` keeps counts per process (development,
a single worker); ``redis://host:6379/0`` shares them between every worker and machine (design.md,
"Scale"). Only failures count, so a physician who types the password right is never slowed down;
an exhausted limit refuses further attempts, right or wrong, until the window moves on.

The default, 10 failed attempts per 15 minutes for one email from one address, follows OWASP's
Authentication Cheat Sheet ("Login Throttling") and NIST SP 800-63B §5.2.2 (at most 100
consecutive failures per account).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.errors import AppError
from app.observability import current_client_address

logger = logging.getLogger(__name__)

_EXTENSION = "login_throttle"
_lock = threading.Lock()


class TooManyAttempts(AppError):
    """429: too many failed logins for this account from this address; ``retry_after`` in s."""

    status = 429
    code = "too_many_attempts"
    message = "Too many failed login attempts. Please wait a few minutes and try again."

    def __init__(self, retry_after: int) -> None:
        super().__init__(details={"retry_after_seconds": retry_after})
        self.retry_after = retry_after


@dataclass
class LoginThrottle:
    """Counts failed logins per (email, client address) in a moving window."""

    limit: RateLimitItem
    limiter: MovingWindowRateLimiter
    enabled: bool = True

    @classmethod
    def from_config(cls, config: dict) -> LoginThrottle:
        """Build from ``LOGIN_RATE_LIMIT`` (e.g. ``"10 per 15 minutes"``), the storage URI and
        ``RATELIMIT_ENABLED``. Raises ``ValueError`` for an unparsable limit or URI."""
        storage = storage_from_string(config["RATELIMIT_STORAGE_URI"])
        return cls(
            limit=parse(config["LOGIN_RATE_LIMIT"]),
            limiter=MovingWindowRateLimiter(storage),
            enabled=bool(config["RATELIMIT_ENABLED"]),
        )

    def _key(self, email: str) -> tuple[str, str]:
        return email.strip().lower(), current_client_address() or "-"

    def check(self, email: str) -> None:
        """Raise ``TooManyAttempts`` when the limit for ``email`` from this address is used up.

        A failing counter store never locks anybody out: the error is logged and login proceeds.
        """
        if not self.enabled:
            return
        try:
            if self.limiter.test(self.limit, "login", *self._key(email)):
                return
            reset_at = self.limiter.get_window_stats(self.limit, "login", *self._key(email))[0]
        except Exception:  # the throttle must never become an outage
            logger.exception("login throttle store failed; the attempt is let through")
            return
        raise TooManyAttempts(max(1, math.ceil(reset_at - time.time())))

    def failed(self, email: str) -> None:
        """Count one failed attempt for ``email`` from this address."""
        if not self.enabled:
            return
        try:
            self.limiter.hit(self.limit, "login", *self._key(email))
        except Exception:  # as above: never an outage
            logger.exception("login throttle store failed; the failure was not counted")


def login_throttle() -> LoginThrottle:
    """Return the app's throttle, built from its config on first use."""
    throttle = current_app.extensions.get(_EXTENSION)
    if throttle is None:
        with _lock:
            throttle = current_app.extensions.get(_EXTENSION)
            if throttle is None:
                throttle = LoginThrottle.from_config(current_app.config)
                current_app.extensions[_EXTENSION] = throttle
    return throttle
