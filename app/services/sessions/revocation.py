"""Revoke everything a user holds: every portal session, every remember-me token, every JWT."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete

from app.extensions import db
from app.models import PortalSession, RememberToken, User


@dataclass(frozen=True)
class Revoked:
    """How many portal sessions and remember-me tokens were ended (JWTs are not counted:
    they are revoked all at once by the session version)."""

    portal_sessions: int
    remember_tokens: int


def revoke_everything(user: User, *, commit: bool = True) -> Revoked:
    """End every portal session and revoke every remember-me, access and refresh token of
    ``user``: logout everywhere, deactivation, password reset all come through here.

    JWTs are revoked by bumping ``user.session_version``: every token carries the version it
    was issued under and :func:`app.services.tokens.token_holder` refuses a stale one. Any cache
    of token checks must be invalidated here (this is the one place that revokes in bulk).
    With ``commit=False`` the caller commits (with its own change, atomically).
    """
    # In SQL, not in Python: two revocations racing both count.
    user.session_version = User.session_version + 1
    sessions = db.session.execute(delete(PortalSession).where(PortalSession.user_id == user.id))
    tokens = db.session.execute(delete(RememberToken).where(RememberToken.user_id == user.id))
    if commit:
        db.session.commit()
    return Revoked(sessions.rowcount or 0, tokens.rowcount or 0)
