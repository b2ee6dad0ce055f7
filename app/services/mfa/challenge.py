"""The second step of a login: a short-lived MFA token, then a code.

After the password, a user with MFA gets an MFA token instead of a session or API tokens: a
signed, timestamped value (itsdangerous, keyed by ``SECRET_KEY``) naming the user and their
session version, valid ``MFA_TOKEN_SECONDS``. With it and a code (the app's TOTP code or a
recovery code) :func:`complete_login` returns the user. Code attempts are throttled like
passwords (per address, per account and address, account slow-down).
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.errors import Unauthorized
from app.extensions import db
from app.models import User
from app.services.mfa import recovery, sealing, totp
from app.services.rate_limits import auth_throttle

_SALT = "dermadetect-mfa-login"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def token_lifetime() -> int:
    """Return how long an MFA token is valid, in seconds (``MFA_TOKEN_SECONDS``)."""
    return int(current_app.config["MFA_TOKEN_SECONDS"])


def issue_token(user: User) -> str:
    """Return the MFA token of ``user``, who has just given the right password."""
    return _serializer().dumps({"uid": user.id, "sv": user.session_version})


def _token_holder(token: str) -> User:
    expired = Unauthorized(
        "The login has expired or is invalid; enter the email and password again.",
        code="mfa_token_invalid",
    )
    try:
        claims = _serializer().loads(token, max_age=token_lifetime())
    except BadSignature:
        raise expired from None
    user = db.session.get(User, claims.get("uid")) if isinstance(claims, dict) else None
    if (
        user is None
        or not user.is_active
        or not user.mfa_enabled
        or user.session_version != claims.get("sv")
    ):
        raise expired
    return user


def complete_login(*, token: str, code: str) -> User:
    """Return the user of ``token`` when ``code`` is their current TOTP code or an unused
    recovery code. A TOTP code is accepted once (its step is remembered).

    Raises:
        Unauthorized: ``mfa_token_invalid`` (expired, forged, or the account changed since),
            ``mfa_code_invalid`` (wrong, reused or spent code).
        Throttled: 429, as for passwords (:mod:`app.services.rate_limits`).
    """
    throttle = auth_throttle()
    throttle.hit_address("mfa")
    user = _token_holder(token)
    throttle.check(user.email, action="mfa")
    if not _spend_code(user, code):
        db.session.rollback()
        throttle.failed(user.email, action="mfa")
        raise Unauthorized("That code is not valid; try the current one.", code="mfa_code_invalid")
    throttle.succeeded(user.email)
    db.session.commit()
    return user


def _spend_code(user: User, code: str) -> bool:
    step = totp.matching_step(sealing.read_secret(user) or "", code)
    if step is not None:
        if user.mfa_last_step is not None and step <= user.mfa_last_step:
            return False  # this code (or an older one) was used already
        user.mfa_last_step = step
        return True
    return recovery.use_code(user, code)
