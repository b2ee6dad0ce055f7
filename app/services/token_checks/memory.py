"""The per-process memory of access tokens that passed the revocation check.

An entry says "token ``jti`` was checked: not on the blocklist, its user active with the
session version it carries" and keeps the user's row, so that the next request with that token
needs no database round trip. Entries are forgotten

- when the database announces a change (:mod:`app.services.token_checks.listener`: the user's row
  changed or was deleted, the token or the whole login it belongs to (its ``sid`` claim, see
  :func:`app.services.tokens.revoke_login`) was put on the blocklist, the users table was
  emptied);
- at once, in the process that committed such a change (:mod:`app.services.token_checks.local`);
- after :data:`TTL_SECONDS`, and the oldest first beyond :data:`MAX_ENTRIES`.

Nothing is remembered while no listener is connected, and everything is forgotten when it
(re)connects: a change announced while nobody listened cannot leave a stale entry behind. A check
that read the database before a change and finishes after its announcement is not remembered
either: :meth:`TokenChecks.remember` takes the generation read before the query, and every
announcement starts a new generation.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

#: Seconds an entry is trusted at most, even without any announcement (defence in depth).
TTL_SECONDS = 60.0
#: Entries kept per process; beyond it the least recently used is dropped.
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class _Entry:
    user_id: int
    row: dict[str, Any]
    expires_at: float  # time.monotonic()
    login: str | None = None  # the token's ``sid`` claim: the login it was issued to


class TokenChecks:
    """Access tokens known to pass the revocation check, in one worker process.

    ``row`` is the user's column values as read from the database (``{column key: value}``).
    Thread- and greenlet-safe.
    """

    def __init__(self, *, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_user: dict[int, set[str]] = {}
        self._by_login: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._listening = False
        self.hits = 0
        self.misses = 0

    @property
    def generation(self) -> int:
        """The current generation; read it before querying the database for a check."""
        return self._generation

    @property
    def listening(self) -> bool:
        """Whether announcements are being received (entries are only kept then)."""
        return self._listening

    def lookup(self, jti: str) -> tuple[int, dict[str, Any]] | None:
        """Return ``(user_id, row)`` remembered for ``jti``, or ``None`` (then ask the database)."""
        with self._lock:
            entry = self._entries.get(jti)
            if entry is None or not self._listening:
                self.misses += 1
                return None
            if entry.expires_at <= time.monotonic():
                self._drop(jti)
                self.misses += 1
                return None
            self._entries.move_to_end(jti)
            self.hits += 1
            return entry.user_id, entry.row

    def remember(
        self,
        jti: str,
        user_id: int,
        row: dict[str, Any],
        *,
        generation: int,
        login: str | None = None,
    ) -> bool:
        """Keep a check that passed; ``generation`` is :attr:`generation` read before the query;
        ``login`` is the token's ``sid`` (forgetting that id forgets the token too).

        Returns whether it was kept: not when nothing listens, nor when an announcement came
        in since ``generation`` was read (the row may predate it).
        """
        with self._lock:
            if not self._listening or generation != self._generation:
                return False
            self._drop(jti)
            self._entries[jti] = _Entry(user_id, dict(row), time.monotonic() + self._ttl, login)
            self._by_user.setdefault(user_id, set()).add(jti)
            if login:
                self._by_login.setdefault(login, set()).add(jti)
            while len(self._entries) > self._max_entries:
                self._drop(next(iter(self._entries)))
            return True

    def forget_user(self, user_id: int) -> None:
        """Forget every token of ``user_id`` (the user's row changed or is gone)."""
        with self._lock:
            self._generation += 1
            for jti in list(self._by_user.get(user_id, ())):
                self._drop(jti)

    def forget_token(self, jti: str) -> None:
        """Forget ``jti`` (it was put on the blocklist): a token with that id, or every token
        of the login with that ``sid`` (blocklist ids and login ids are both random UUIDs)."""
        with self._lock:
            self._generation += 1
            self._drop(jti)
            for token in list(self._by_login.get(jti, ())):
                self._drop(token)

    def forget_all(self) -> None:
        """Forget everything."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._by_user.clear()
            self._by_login.clear()

    def apply(self, announcement: str) -> None:
        """Apply one announcement: ``user:<id>``, ``jti:<jti>`` or anything else (= forget all)."""
        kind, _, value = announcement.partition(":")
        if kind == "user" and value.isdigit():
            self.forget_user(int(value))
        elif kind == "jti" and value:
            self.forget_token(value)
        else:
            self.forget_all()

    def set_listening(self, listening: bool) -> None:
        """Record whether announcements arrive; either way, start from an empty memory."""
        with self._lock:
            self._listening = listening
            self._generation += 1
            self._entries.clear()
            self._by_user.clear()
            self._by_login.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, jti: str) -> None:
        entry = self._entries.pop(jti, None)
        if entry is None:
            return
        _discard(self._by_user, entry.user_id, jti)
        if entry.login:
            _discard(self._by_login, entry.login, jti)


def _discard(index: dict[Any, set[str]], key: Any, jti: str) -> None:
    """Remove ``jti`` from ``index[key]``, and the key once its set is empty."""
    tokens = index.get(key)
    if tokens is not None:
        tokens.discard(jti)
        if not tokens:
            del index[key]
