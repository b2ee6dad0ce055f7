"""Receive the database's token-check announcements (PostgreSQL ``LISTEN token_check``).

Migration 0009 makes PostgreSQL announce, on channel ``token_check`` and only when the change
commits, every change that can revoke an access token: a ``users`` row updated or deleted
(deactivation, role change, password reset, any session-version bump), a token put on the
blocklist, the users table emptied. One listener per worker process and database holds its own
connection (outside the pool, in autocommit) and applies each announcement to that process's
:class:`~app.services.token_checks.memory.TokenChecks`. PostgreSQL delivers a notification within
milliseconds of the commit, so a revocation reaches every worker well within a second.

The listener runs in a daemon thread: a greenlet in a gevent worker (psycopg waits
cooperatively once gevent has patched the process), an OS thread elsewhere. When its connection
fails it stops the memory (nothing is trusted or kept without it) and reconnects every
:data:`RETRY_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from app.services.token_checks.memory import TokenChecks

logger = logging.getLogger(__name__)

CHANNEL = "token_check"
#: Seconds between reconnection attempts after the connection failed.
RETRY_SECONDS = 1.0
#: Seconds between liveness checks (``SELECT 1``) of an otherwise silent connection.
PING_SECONDS = 5.0
#: libpq options: fail fast on connect, notice a dead peer within ~15 s through TCP keepalives.
CONNECT_OPTIONS = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 5,
    "keepalives_count": 2,
}


class NotificationListener:
    """Apply ``token_check`` announcements from the database at ``conninfo`` to ``checks``."""

    def __init__(self, conninfo: str, checks: TokenChecks) -> None:
        self.conninfo = conninfo
        self.checks = checks
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="token-check-listener", daemon=True)

    def start(self) -> None:
        """Start listening in the background (the memory stays off until ``LISTEN`` holds)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current wait (at most :data:`PING_SECONDS`)."""
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except Exception as exc:  # any failure: forget everything, retry
                logger.warning("token check listener: %s; retrying in %.0f s", exc, RETRY_SECONDS)
            finally:
                self.checks.set_listening(False)
            self._stopped.wait(RETRY_SECONDS)

    def _listen(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True, **CONNECT_OPTIONS) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.checks.set_listening(True)
            while not self._stopped.is_set():
                started = time.monotonic()
                for note in conn.notifies(timeout=PING_SECONDS):
                    self.checks.apply(note.payload)
                    if time.monotonic() - started >= PING_SECONDS:
                        break
                conn.execute("SELECT 1")  # a dead connection raises here
