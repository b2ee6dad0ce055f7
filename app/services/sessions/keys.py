"""The random values portal cookies carry, and the digests under which they are stored."""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> str:
    """Return a new random value for a cookie: 32 bytes (256 bits), URL-safe base64."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """Return the SHA-256 hex digest of ``value``, the form in which it is stored.

    A plain hash suffices (no salt, no slow hash): the value is 256 random bits, not a password.
    """
    return hashlib.sha256(value.encode()).hexdigest()
