"""TOTP secrets encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, from ``cryptography``).

A TOTP secret is the one MFA value the server must be able to read back (it computes the codes
from it), so it cannot be hashed like a password or a recovery code; a copy of the ``users``
table (a backup, a replica, a dump in a ticket) must still not hand out every second factor.
The column ``users.mfa_secret`` therefore holds a Fernet token of the base32 secret.

Keys (``MFA_ENCRYPTION_KEY``): one or more Fernet keys (``Fernet.generate_key()``, 32 url-safe
base64 bytes), comma-separated. The first encrypts; every one decrypts (``MultiFernet``), so a
key is rotated by putting the new key first, running ``flask users mfa-rotate-key`` (every
secret re-encrypted with the first key, ``MultiFernet.rotate``), then dropping the old key.

Without ``MFA_ENCRYPTION_KEY`` the key is derived from ``SECRET_KEY`` (HKDF-SHA256 with a purpose
label of its own, RFC 5869): tolerable for development, but then changing ``SECRET_KEY`` makes
every secret unreadable, so production warns at start-up (:func:`warn_without_own_key`). The
derived key is always tried last for decryption, so setting ``MFA_ENCRYPTION_KEY`` later loses
nothing; ``mfa-rotate-key`` moves the old secrets onto it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select

from app.errors import AppError
from app.extensions import db
from app.models import User

logger = logging.getLogger(__name__)

_HKDF_INFO = b"dermadetect mfa-secret encryption v1"


class MfaSecretUnreadable(AppError):
    """503: the stored TOTP secret cannot be decrypted with any configured key (a key was lost or
    ``SECRET_KEY`` changed without ``MFA_ENCRYPTION_KEY``); an admin must fix the keys or reset
    the user's MFA (``flask users mfa-reset``)."""

    status = 503
    code = "mfa_unavailable"
    message = (
        "Two-factor authentication cannot be checked right now for this account. "
        "Please contact an administrator."
    )


def derived_key(secret_key: str) -> bytes:
    """Return the Fernet key derived from ``secret_key`` (HKDF-SHA256, no salt, our label)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


def configured_keys(config: Mapping[str, Any]) -> list[bytes]:
    """Return the keys of ``MFA_ENCRYPTION_KEY`` (first = encrypting), then the derived key.

    Raises ``ValueError`` naming the setting when one of them is not a Fernet key.
    """
    keys: list[bytes] = []
    for part in (config.get("MFA_ENCRYPTION_KEY") or "").split(","):
        if part.strip():
            key = part.strip().encode()
            try:
                Fernet(key)
            except ValueError:
                raise ValueError(
                    "MFA_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes, "
                    "from Fernet.generate_key()), comma-separated"
                ) from None
            keys.append(key)
    derived = derived_key(config["SECRET_KEY"])
    if derived not in keys:
        keys.append(derived)
    return keys


def _cipher(config: Mapping[str, Any]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in configured_keys(config)])


def seal(secret: str, config: Mapping[str, Any]) -> str:
    """Return the Fernet token (text, ~140 characters) of the base32 TOTP ``secret``."""
    return _cipher(config).encrypt(secret.encode()).decode()


def unseal(token: str, config: Mapping[str, Any]) -> str:
    """Return the TOTP secret sealed in ``token``.

    Raises:
        MfaSecretUnreadable: no configured key opens it (logged as an error for the operator).
    """
    try:
        return _cipher(config).decrypt(token.encode()).decode()
    except InvalidToken:
        logger.error(
            "a stored MFA secret cannot be decrypted with MFA_ENCRYPTION_KEY or the key derived "
            "from SECRET_KEY; restore the old key or reset that user's MFA"
        )
        raise MfaSecretUnreadable() from None


def reseal(token: str, config: Mapping[str, Any]) -> str:
    """Return ``token`` re-encrypted with the first key (``MultiFernet.rotate``).

    Raises ``MfaSecretUnreadable`` as :func:`unseal`.
    """
    try:
        return _cipher(config).rotate(token.encode()).decode()
    except InvalidToken:
        raise MfaSecretUnreadable() from None


def warn_without_own_key(config: Mapping[str, Any]) -> bool:
    """Warn (once, at start-up) when production has no ``MFA_ENCRYPTION_KEY``; return whether it
    warned. The ``SECRET_KEY``-derived key works, but rotating ``SECRET_KEY`` would then lock
    every MFA user out."""
    if (config.get("MFA_ENCRYPTION_KEY") or "").strip():
        return False
    logger.warning(
        "MFA_ENCRYPTION_KEY is not set: TOTP secrets are encrypted with a key derived from "
        "SECRET_KEY, and changing SECRET_KEY would make them unreadable. Set MFA_ENCRYPTION_KEY "
        "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ") and run 'flask users mfa-rotate-key'."
    )
    return True


def read_secret(user: User) -> str | None:
    """Return ``user``'s TOTP secret in clear (``None`` before enrolment started).

    Raises ``MfaSecretUnreadable`` (503) when no configured key opens it.
    """
    if not user.mfa_secret:
        return None
    return unseal(user.mfa_secret, current_app.config)


def store_secret(user: User, secret: str | None) -> None:
    """Set ``user``'s TOTP secret, encrypted with the first key (not committed)."""
    user.mfa_secret = seal(secret, current_app.config) if secret else None


def rotate_secrets() -> int:
    """Re-encrypt every stored TOTP secret with the first configured key and commit; return how
    many. Run after putting a new key first in ``MFA_ENCRYPTION_KEY``; then the old key can go.

    Raises ``MfaSecretUnreadable`` (nothing committed) when a secret opens with no key.
    """
    users = db.session.scalars(select(User).where(User.mfa_secret.is_not(None))).all()
    for user in users:
        user.mfa_secret = reseal(user.mfa_secret, current_app.config)
    db.session.commit()
    return len(users)
