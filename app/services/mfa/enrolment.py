"""Turning MFA on (portal enrolment), the ``MFA_REQUIRED_FOR`` policy, and the admin's reset."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask import current_app

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Role, User
from app.models.base import utcnow
from app.services import accounts, sessions
from app.services.mfa import recovery, sealing, totp


class Requirement(StrEnum):
    """The values of ``MFA_REQUIRED_FOR``: who must have a second factor."""

    NONE = "none"
    ADMIN = "admin"
    ALL = "all"


def required_for(user: User) -> bool:
    """Whether ``MFA_REQUIRED_FOR`` makes ``user`` use a second factor."""
    requirement = Requirement(current_app.config["MFA_REQUIRED_FOR"])
    if requirement is Requirement.ALL:
        return True
    return requirement is Requirement.ADMIN and user.role == Role.ADMIN.value


def needs_enrolment(user: User) -> bool:
    """Whether ``user`` must enrol before using anything (required, not enrolled yet)."""
    return not user.mfa_enabled and required_for(user)


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret (for typing), its URI and the QR code (SVG)."""

    secret: str
    uri: str
    qr_svg: str


def begin_enrolment(user: User) -> Enrolment:
    """Return the enrolment of ``user``, making its secret on the first call (kept until
    confirmed, so reloading the page shows the same QR code). The secret is stored encrypted
    (:mod:`.sealing`).

    Raises:
        Conflict: ``mfa_already_enabled``.
        MfaSecretUnreadable: 503, the stored secret opens with no configured key.
    """
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already on.", code="mfa_already_enabled")
    secret = sealing.read_secret(user)
    if secret is None:
        secret = totp.new_secret()
        sealing.store_secret(user, secret)
        db.session.commit()
    uri = totp.provisioning_uri(secret, user.email)
    return Enrolment(secret=secret, uri=uri, qr_svg=totp.qr_svg(uri))


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn MFA on once ``code`` proves the app holds the secret; return the recovery codes
    (shown once, stored hashed).

    Raises:
        Conflict: ``mfa_already_enabled``; ``mfa_not_started`` when no secret was made yet.
        ValidationFailed: ``code`` is not the current code (field ``code``).
    """
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already on.", code="mfa_already_enabled")
    secret = sealing.read_secret(user)
    if secret is None:
        raise Conflict("Start the enrolment first.", code="mfa_not_started")
    step = totp.matching_step(secret, code)
    if step is None:
        raise ValidationFailed(
            {"code": "That is not the current code of the app; check the phone's clock and retry."}
        )
    user.mfa_enabled_at = utcnow()
    user.mfa_last_step = step
    codes = recovery.replace_codes(user)
    db.session.commit()
    return codes


def reset(*, email: str) -> User:
    """Turn MFA off for ``email`` (lost phone): secret and recovery codes deleted, and every
    session and token revoked. The next login asks to enrol again if MFA is required.

    Raises:
        NotFound: ``user_not_found``.
    """
    user = accounts.find_by_email(email)
    if user is None:
        raise NotFound(
            f"No user with email {accounts.normalize_email(email)}.", code="user_not_found"
        )
    sealing.store_secret(user, None)
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    recovery.delete_codes(user)
    sessions.revoke_everything(user, commit=False)
    db.session.commit()
    return user
