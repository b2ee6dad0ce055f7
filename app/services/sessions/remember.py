"""Remember-me tokens: a random value in the browser's cookie, its SHA-256 in the database.

Each use replaces the value (rotation), so a copied cookie works at most until its owner's
next visit; logout deletes it; it expires ``REMEMBER_DAYS`` after the login that made it
(rotation does not extend that).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, update

from app.extensions import db
from app.models import RememberToken, User
from app.models.base import utcnow
from app.services.sessions.keys import digest, new_secret


def issue_remember_token(user: User) -> tuple[str, datetime]:
    """Add (not commit) a remember-me token of ``user``; return ``(token, expires_at)``."""
    token = new_secret()
    expires_at = utcnow() + timedelta(days=current_app.config["REMEMBER_DAYS"])
    db.session.add(RememberToken(token_hash=digest(token), user_id=user.id, expires_at=expires_at))
    return token, expires_at


def redeem_remember_token(token: str | None) -> tuple[User, str, datetime] | None:
    """Use a remember-me token: return ``(user, new token, expires_at)`` and replace the old one,
    or ``None`` when it is unknown, used already, expired, or its user is deactivated.

    The rotation is one conditional UPDATE: of two requests racing with the same token, only
    one gets the user.
    """
    if not token:
        return None
    fresh = new_secret()
    row = db.session.execute(
        update(RememberToken)
        .where(RememberToken.token_hash == digest(token), RememberToken.expires_at > utcnow())
        .values(token_hash=digest(fresh))
        .returning(RememberToken.user_id, RememberToken.expires_at)
    ).first()
    if row is None:
        db.session.rollback()
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        db.session.rollback()
        return None
    db.session.commit()
    return user, fresh, row.expires_at


def forget_remember_token(token: str | None) -> None:
    """Delete the remember-me token (logout, or the idle lock of that browser)."""
    if token:
        db.session.execute(delete(RememberToken).where(RememberToken.token_hash == digest(token)))
        db.session.commit()


def purge_expired_remember_tokens() -> int:
    """Delete expired remember-me tokens; return how many."""
    result = db.session.execute(delete(RememberToken).where(RememberToken.expires_at <= utcnow()))
    db.session.commit()
    return result.rowcount or 0
