"""The 429 answers of the throttles; each carries ``retry_after`` (seconds) for ``Retry-After``."""

from __future__ import annotations

from app.errors import AppError


class Throttled(AppError):
    """429: base of every throttle refusal; ``retry_after`` in whole seconds (at least 1)."""

    status = 429
    code = "rate_limited"
    message = "Too many requests; please wait a moment and try again."

    def __init__(self, retry_after: int) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(details={"retry_after_seconds": retry_after})
        self.retry_after = retry_after


class TooManyRequests(Throttled):
    """429: this client address sent too many login, registration, refresh or MFA requests."""

    code = "too_many_requests"
    message = "Too many requests from this address. Please wait a moment and try again."


class TooManyAttempts(Throttled):
    """429: too many failed attempts for this account from this address."""

    code = "too_many_attempts"
    message = "Too many failed login attempts. Please wait a few minutes and try again."


class LoginSlowedDown(Throttled):
    """429: the account had many failed attempts (from anywhere); the next try must wait a little.

    Not a lock: the wait is at most ``LOGIN_SLOWDOWN_MAX_SECONDS``, and an address the account
    logged in from before is not slowed down at all.
    """

    code = "login_slowed_down"
    message = (
        "This account had many failed login attempts, so each attempt must wait a little. "
        "Please try again in a few seconds."
    )


class ServerBusy(Throttled):
    """429: this worker is already checking as many passwords as it may at once."""

    code = "server_busy"
    message = "The server is busy checking other logins; please try again in a moment."
