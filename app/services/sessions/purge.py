"""Deleting what can no longer log anybody in: the scheduled clean-up (``flask tokens purge``).

Nothing here changes who is logged in: every row deleted is one the checks already refuse.

- blocklist entries of access and refresh tokens that have expired (an expired token is refused
  on its expiry alone, so its entry only takes space);
- remember-me tokens past ``expires_at`` (:mod:`.remember` refuses them);
- portal sessions older than ``PERMANENT_SESSION_LIFETIME`` (:mod:`.portal` refuses them, locked
  ones included: their drafts belong to the user and case, not to the session, and stay).

Each login already tidies up after its own user (``portal._forget_dead_sessions``); this catches
the users who never log in again.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete

from app.extensions import db
from app.models import PortalSession
from app.models.base import utcnow
from app.services import tokens
from app.services.sessions.remember import purge_expired_remember_tokens


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind :func:`purge_expired` deleted."""

    blocklist_entries: int
    remember_tokens: int
    portal_sessions: int


def purge_expired_portal_sessions() -> int:
    """Delete portal sessions older than ``PERMANENT_SESSION_LIFETIME``; return how many."""
    oldest = utcnow() - current_app.config["PERMANENT_SESSION_LIFETIME"]
    result = db.session.execute(delete(PortalSession).where(PortalSession.created_at < oldest))
    db.session.commit()
    return result.rowcount or 0


def purge_expired() -> Purged:
    """Delete expired blocklist entries, expired remember-me tokens and portal sessions past
    their lifetime (each kind in a transaction of its own); return the counts."""
    return Purged(
        blocklist_entries=tokens.purge_expired(),
        remember_tokens=purge_expired_remember_tokens(),
        portal_sessions=purge_expired_portal_sessions(),
    )
