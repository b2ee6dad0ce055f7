"""Revocation without a database round trip for a token that verifies (issue #15).

Every API request presents an access token; checking it against the blocklist and the user's
state cost a query per request. Each worker process now remembers the checks that passed
(:mod:`.checks`) and forgets them as soon as PostgreSQL announces a change that could revoke
them (:mod:`.listener`, triggers of migration 0009) or, in the committing process, at the
commit (:mod:`.local`). A logout, deactivation, role change or password reset therefore reaches
every worker within a second, and a token that verifies costs no query.

Only with PostgreSQL (SQLite has no NOTIFY: every check asks the database) and when
``TOKEN_CHECK_CACHE`` is on.
"""

from __future__ import annotations

import os
import threading

from flask import current_app

from app.extensions import db
from app.services.token_checks import local
from app.services.token_checks.listener import NotificationListener
from app.services.token_checks.memory import TokenChecks

__all__ = ["TokenChecks", "for_current_app"]

_lock = threading.Lock()
#: conninfo -> (pid, checks, listener), one per database and process (made again after a fork).
_memories: dict[str, tuple[int, TokenChecks, NotificationListener]] = {}


def _all_checks() -> list[TokenChecks]:
    pid = os.getpid()
    return [checks for owner, checks, _ in list(_memories.values()) if owner == pid]


def for_current_app() -> TokenChecks | None:
    """The current app's memory of token checks (listener started on first use), or ``None``.

    ``None`` when ``TOKEN_CHECK_CACHE`` is off or the database is not PostgreSQL.
    """
    if not current_app.config.get("TOKEN_CHECK_CACHE", True):
        return None
    url = db.engine.url
    if url.get_backend_name() != "postgresql":
        return None
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    found = _memories.get(conninfo)
    if found is not None and found[0] == os.getpid():
        return found[1]
    with _lock:
        found = _memories.get(conninfo)
        if found is None or found[0] != os.getpid():
            local.install(_all_checks)
            checks = TokenChecks()
            listener = NotificationListener(conninfo, checks)
            _memories[conninfo] = (os.getpid(), checks, listener)
            listener.start()
            found = _memories[conninfo]
        return found[1]
