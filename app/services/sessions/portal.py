"""Server-side portal sessions: one record per login, found by the digest of the secret the
signed session cookie carries.

A session ends in one of three ways: logout (the record is deleted: a replayed cookie finds
nothing), inactivity for :func:`idle_limit` (the record is *locked*: forms posted with it are
kept as drafts, nothing else is allowed), or age beyond ``PERMANENT_SESSION_LIFETIME`` (deleted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from app.extensions import db
from app.models import PortalSession, RememberToken, User
from app.models.base import utcnow
from app.observability import current_client_address
from app.services.sessions.keys import digest, new_secret
from app.services.sessions.remember import issue_remember_token

#: Longest interval between two writes of ``last_seen_at`` for a busy session (seconds).
TOUCH_INTERVAL_SECONDS = 30


@dataclass(frozen=True)
class PortalLogin:
    """What the browser keeps of a new portal session: ``session_key`` for the signed session
    cookie; ``remember_token`` (or ``None``) and its ``remember_expires_at`` for the
    remember-me cookie."""

    session_key: str
    remember_token: str | None = None
    remember_expires_at: datetime | None = None


def idle_limit() -> timedelta:
    """Return how long a portal session may go without activity (``PORTAL_IDLE_MINUTES``)."""
    return timedelta(minutes=current_app.config["PORTAL_IDLE_MINUTES"])


def touch_interval() -> timedelta:
    """Return how often activity is recorded (and reported by the page): every
    ``TOUCH_INTERVAL_SECONDS``, or a quarter of the idle limit if that is shorter."""
    return min(timedelta(seconds=TOUCH_INTERVAL_SECONDS), idle_limit() / 4)


def start_portal_session(
    user: User, *, remember: bool = False, user_agent: str | None = None
) -> PortalLogin:
    """Record a new portal session of ``user`` (and a remember-me token when ``remember``).

    The one way a portal login begins: call it once the user is fully authenticated (password,
    and the second factor when one is asked). The client address is the request's.
    """
    _forget_dead_sessions(user)
    key = new_secret()
    db.session.add(
        PortalSession(
            key_hash=digest(key),
            user_id=user.id,
            user_agent=(user_agent or "")[:300] or None,
            client_address=current_client_address(),
        )
    )
    token, expires_at = issue_remember_token(user) if remember else (None, None)
    db.session.commit()
    return PortalLogin(key, token, expires_at)


def _forget_dead_sessions(user: User) -> None:
    """Delete (not commit) ``user``'s sessions past their lifetime and expired remember-me
    tokens: each login tidies up after its user, so no table grows without bound."""
    now = utcnow()
    oldest = now - current_app.config["PERMANENT_SESSION_LIFETIME"]
    db.session.execute(
        delete(PortalSession).where(
            PortalSession.user_id == user.id, PortalSession.created_at < oldest
        )
    )
    db.session.execute(
        delete(RememberToken).where(
            RememberToken.user_id == user.id, RememberToken.expires_at <= now
        )
    )


def _find(session_key: str | None) -> PortalSession | None:
    if not session_key:
        return None
    return db.session.scalar(
        select(PortalSession).where(PortalSession.key_hash == digest(session_key))
    )


def resume_portal_session(session_key: str | None, *, user_id: str) -> User | None:
    """Return the user of the live portal session ``session_key``, or ``None``.

    ``user_id`` is the flask-login id the cookie also carries (``User.get_id()``); it must
    match. A session idle longer than :func:`idle_limit` (plus twice :func:`touch_interval`,
    the most its record can lag) is locked here; one older than ``PERMANENT_SESSION_LIFETIME``
    is deleted. Activity is recorded at most every :func:`touch_interval`.
    """
    record = _find(session_key)
    if record is None or record.locked_at is not None:
        return None
    user = db.session.get(User, record.user_id)
    if user is None or not user.is_active or user.get_id() != user_id:
        return None
    now = utcnow()
    if now - record.created_at > current_app.config["PERMANENT_SESSION_LIFETIME"]:
        db.session.delete(record)
        db.session.commit()
        return None
    touch_every = touch_interval()
    # last_seen_at may lag the last activity by up to two touch intervals (the page reports
    # activity at that pace, and it is written at that pace): the page's own lock comes first.
    if now - record.last_seen_at > idle_limit() + 2 * touch_every:
        record.locked_at = now
        db.session.commit()
        return None
    if now - record.last_seen_at >= touch_every:
        record.last_seen_at = now
        db.session.commit()
    return user


def lock_portal_session(session_key: str | None) -> bool:
    """Lock the session (the idle lock asked for it); return whether there was one to lock."""
    record = _find(session_key)
    if record is None:
        return False
    if record.locked_at is None:
        record.locked_at = utcnow()
        db.session.commit()
    return True


def locked_session_user(session_key: str | None) -> User | None:
    """Return the user of ``session_key`` when that session is locked (ended by inactivity)
    and younger than ``PERMANENT_SESSION_LIFETIME``; else ``None`` (logged out, unknown, old)."""
    record = _find(session_key)
    if record is None or record.locked_at is None:
        return None
    if utcnow() - record.created_at > current_app.config["PERMANENT_SESSION_LIFETIME"]:
        return None
    user = db.session.get(User, record.user_id)
    return user if user is not None and user.is_active else None


def end_portal_session(session_key: str | None) -> None:
    """Delete the session record (logout): the cookie that carries ``session_key`` is dead."""
    if session_key:
        db.session.execute(
            delete(PortalSession).where(PortalSession.key_hash == digest(session_key))
        )
        db.session.commit()
