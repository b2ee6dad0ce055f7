"""Single-use invitations: made by an admin (``flask users invite``), consumed at registration.

The token is 32 random bytes (``secrets.token_urlsafe``), shown once; only its SHA-256 is stored,
so a copy of the database cannot be used to register. An invite names the email address it is
for and the role the account gets, and expires (``days``, 7 by default).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.errors import PermissionDenied, ValidationFailed
from app.extensions import db
from app.models import Invite, Role
from app.models.base import utcnow
from app.services.accounts import normalize_email

DEFAULT_DAYS = 7


class InviteInvalid(PermissionDenied):
    """403: no invitation with this token for this email address that is unused and unexpired."""

    code = "invite_invalid"
    message = (
        "This invitation is not valid for this email address: it is unknown, used or expired. "
        "Ask an administrator for a new one."
    )


@dataclass(frozen=True)
class IssuedInvite:
    """A new invitation and its token (the only time the token exists in clear)."""

    invite: Invite
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(
    *, email: str, role: str = Role.PHYSICIAN.value, days: int = DEFAULT_DAYS
) -> IssuedInvite:
    """Create and commit an invitation for ``email`` (normalised) with ``role``, valid ``days``.

    Raises:
        ValidationFailed: unknown role, or ``days`` not between 1 and 90.
    """
    if role not in {r.value for r in Role}:
        raise ValidationFailed(
            {"role": f"Role must be one of: {', '.join(r.value for r in Role)}."}
        )
    if not 1 <= days <= 90:
        raise ValidationFailed({"days": "An invitation is valid for 1 to 90 days."})
    token = secrets.token_urlsafe(32)
    invite = Invite(
        email=normalize_email(email),
        role=role,
        token_hash=_digest(token),
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(invite)
    db.session.commit()
    return IssuedInvite(invite, token)


def valid_invite(*, token: str, email: str) -> Invite:
    """Return the unused, unexpired invitation with ``token`` for ``email`` (normalised).

    Raises ``InviteInvalid`` otherwise (one answer for every reason).
    """
    invite = db.session.scalar(select(Invite).where(Invite.token_hash == _digest(token)))
    now: datetime = utcnow()
    if (
        invite is None
        or invite.used_at is not None
        or invite.expires_at <= now
        or invite.email != normalize_email(email)
    ):
        raise InviteInvalid()
    return invite


def mark_used(invite: Invite, *, user_id: int) -> None:
    """Mark ``invite`` used by ``user_id`` in the current transaction (not committed).

    Raises ``InviteInvalid`` when a concurrent registration used it first.
    """
    result = db.session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=utcnow(), user_id=user_id)
    )
    if result.rowcount != 1:
        raise InviteInvalid()
