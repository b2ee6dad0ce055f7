"""Throttles of the authentication endpoints (login, register, refresh, MFA).

- :mod:`.login`: per client address, per account and address, and the account-wide slow-down;
- :mod:`.hash_slots`: the per-process cap on concurrent password hashes;
- :mod:`.store`: the counters (``limits``, in memory or Redis);
- :mod:`.errors`: the 429 answers, all subclasses of :class:`Throttled`.
"""

from app.services.rate_limits.errors import (
    LoginSlowedDown,
    ServerBusy,
    Throttled,
    TooManyAttempts,
    TooManyRequests,
)
from app.services.rate_limits.hash_slots import (
    password_hash_slot,
    refuse_unless_slot_free,
)
from app.services.rate_limits.login import AuthThrottle, auth_throttle

__all__ = [
    "AuthThrottle",
    "LoginSlowedDown",
    "ServerBusy",
    "Throttled",
    "TooManyAttempts",
    "TooManyRequests",
    "auth_throttle",
    "password_hash_slot",
    "refuse_unless_slot_free",
]
