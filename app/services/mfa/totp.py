"""Time-based one-time passwords (TOTP, RFC 6238) with pyotp, and the enrolment QR code (segno).

Codes are 6 digits over 30-second steps (RFC 6238 defaults, what every authenticator app
reads from an ``otpauth://`` URI). A code of the step before or after the current one is
accepted too, for clocks that drift (RFC 6238 §5.2 recommends at most one step back); the step
accepted is returned so that the caller can refuse the same code twice.
"""

from __future__ import annotations

import hmac
import time

import pyotp
import segno

ISSUER = "DermaDetect"
STEP_SECONDS = 30
DIGITS = 6


def new_secret() -> str:
    """Return a new shared secret: 160 random bits in base32 (RFC 4226 §4 recommends 160)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, email: str) -> str:
    """Return the ``otpauth://totp/…`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """Return ``uri`` as an inline ``<svg>`` QR code (no inline style: the CSP allows it)."""
    return segno.make(uri, error="m").svg_inline(scale=5, light="#fff", dark="#000")


def matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """Return the time step (Unix time // 30) whose code is ``code``, or ``None``.

    The steps tried are the current one and one on either side; the comparison is constant-time.
    """
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None
