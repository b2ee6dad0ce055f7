"""Multi-factor authentication: TOTP (RFC 6238) with recovery codes.

- :mod:`.totp`: secrets, codes, the ``otpauth://`` URI and its QR code (pyotp, segno);
- :mod:`.enrolment`: turning MFA on in the portal, the ``MFA_REQUIRED_FOR`` policy, the reset;
- :mod:`.challenge`: the login's second step (MFA token + code), throttled;
- :mod:`.recovery`: single-use recovery codes, stored hashed;
- :mod:`.sealing`: the TOTP secrets encrypted at rest (Fernet, ``MFA_ENCRYPTION_KEY``).
"""

from app.services.mfa.challenge import complete_login, issue_token, token_lifetime
from app.services.mfa.enrolment import (
    Enrolment,
    begin_enrolment,
    confirm_enrolment,
    needs_enrolment,
    required_for,
    reset,
)
from app.services.mfa.recovery import remaining as recovery_codes_left
from app.services.mfa.sealing import MfaSecretUnreadable, rotate_secrets

__all__ = [
    "Enrolment",
    "MfaSecretUnreadable",
    "begin_enrolment",
    "complete_login",
    "confirm_enrolment",
    "issue_token",
    "needs_enrolment",
    "recovery_codes_left",
    "required_for",
    "reset",
    "rotate_secrets",
    "token_lifetime",
]
