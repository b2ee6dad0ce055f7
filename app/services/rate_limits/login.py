"""The authentication throttle: per address, per account and address, and an account slow-down.

Three rules, each answering 429 with ``Retry-After`` and never verifying a password when it
refuses (so a refused guess costs the server nothing and teaches the attacker nothing):

1. **Per client address** (``AUTH_ADDRESS_RATE_LIMIT``, default 30 per minute): every login,
   registration, refresh and MFA request from one address counts, whatever the email, so one
   client cannot spray guesses over many accounts or register in bulk.
2. **Per account and address** (``LOGIN_RATE_LIMIT``, default 10 failures per 15 minutes): only
   failures count. A wrong password from one address never refuses the owner at another.
3. **Account-wide slow-down instead of a lock**: once an account has had more than
   ``LOGIN_SLOWDOWN_AFTER`` failures (from any address) within the ``LOGIN_RATE_LIMIT`` window,
   each further failure makes the next attempt wait 1, 2, 4, … seconds, at most
   ``LOGIN_SLOWDOWN_MAX_SECONDS``. An address the account logged in from successfully in the
   last 30 days is exempt (OWASP's "device cookie" idea, keyed on the address so that it works
   for API clients too), so a distributed attack slows the attacker, not the physician at the
   clinic.

Defaults follow OWASP's Authentication Cheat Sheet ("Login Throttling") and NIST SP 800-63B
§5.2.2 (rate limiting, at most 100 consecutive failures per account; no permanent lock).
Counts live in the ``RATELIMIT_STORAGE_URI`` store (:mod:`.store`), shared by every worker when
it is Redis. Emails are the normalised form (``accounts.normalize_email``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse

from app.observability import current_client_address
from app.services.rate_limits.errors import LoginSlowedDown, TooManyAttempts, TooManyRequests
from app.services.rate_limits.store import CounterStore

_EXTENSION = "auth_throttle"
_lock = threading.Lock()
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600


@dataclass
class AuthThrottle:
    """The three rules above over one :class:`CounterStore`; ``enabled=False`` lets all pass."""

    store: CounterStore
    per_address: RateLimitItem
    per_account_address: RateLimitItem
    slowdown_after: int
    slowdown_max_seconds: int
    enabled: bool = True

    @classmethod
    def from_config(cls, config: dict) -> AuthThrottle:
        """Build from the app config (the settings named in the module docstring).

        Raises ``ValueError`` for an unparsable limit or storage URI.
        """
        return cls(
            store=CounterStore.from_uri(
                config["RATELIMIT_STORAGE_URI"], config["RATELIMIT_KEY_PREFIX"]
            ),
            per_address=parse(config["AUTH_ADDRESS_RATE_LIMIT"]),
            per_account_address=parse(config["LOGIN_RATE_LIMIT"]),
            slowdown_after=int(config["LOGIN_SLOWDOWN_AFTER"]),
            slowdown_max_seconds=int(config["LOGIN_SLOWDOWN_MAX_SECONDS"]),
            enabled=bool(config["RATELIMIT_ENABLED"]),
        )

    @staticmethod
    def _address() -> str:
        return current_client_address() or "-"

    def hit_address(self, action: str) -> None:
        """Count one ``action`` (login, register, refresh, mfa) from this client address.

        Raises ``TooManyRequests`` when the address used up ``AUTH_ADDRESS_RATE_LIMIT``.
        """
        if not self.enabled:
            return
        wait = self.store.hit(self.per_address, "address", action, self._address())
        if wait is not None:
            raise TooManyRequests(wait)

    def check(self, account: str, action: str = "login") -> None:
        """Refuse an attempt on ``account`` before any password or code is verified.

        Raises:
            TooManyAttempts: ``LOGIN_RATE_LIMIT`` failures for ``account`` from this address.
            LoginSlowedDown: the account is slowed down and this address is not a known one.
        """
        if not self.enabled:
            return
        address = self._address()
        wait = self.store.exhausted(self.per_account_address, action, account, address)
        if wait is not None:
            raise TooManyAttempts(wait)
        if self._is_known(account, address):
            return
        wait = self.store.seconds_left(self._slow_key(account))
        if wait and self.store.count(self._slow_key(account)):
            raise LoginSlowedDown(wait)

    def failed(self, account: str, action: str = "login") -> None:
        """Count one failure for ``account`` from this address and slow the account down."""
        if not self.enabled:
            return
        self.store.hit(self.per_account_address, action, account, self._address())
        window = self.per_account_address.get_expiry()
        failures = self.store.increment(f"failures/{account}", window)
        beyond = failures - self.slowdown_after
        if beyond > 0:
            delay = min(2 ** min(beyond - 1, 30), self.slowdown_max_seconds)
            self.store.restart(self._slow_key(account), delay)

    def succeeded(self, account: str) -> None:
        """Remember this address as one ``account`` logs in from (exempt from the slow-down)."""
        if not self.enabled:
            return
        self.store.increment(self._known_key(account, self._address()), KNOWN_ADDRESS_SECONDS)

    def _is_known(self, account: str, address: str) -> bool:
        return self.store.count(self._known_key(account, address)) > 0

    @staticmethod
    def _slow_key(account: str) -> str:
        return f"slow/{account}"

    @staticmethod
    def _known_key(account: str, address: str) -> str:
        return f"known/{account}/{address}"


def auth_throttle() -> AuthThrottle:
    """Return the app's throttle, built from its config on first use."""
    throttle = current_app.extensions.get(_EXTENSION)
    if throttle is None:
        with _lock:
            throttle = current_app.extensions.get(_EXTENSION)
            if throttle is None:
                throttle = AuthThrottle.from_config(current_app.config)
                current_app.extensions[_EXTENSION] = throttle
    return throttle
