"""Access and refresh tokens (flask-jwt-extended) and the revocation blocklist.

Identity is always ``str(user.id)`` (PyJWT >= 2.10 rejects a non-string ``sub``). Every token
also carries ``sv``, the user's session version: deactivation and password resets bump it,
which revokes every token issued before.

Every token also carries ``sid``, the id of the login it was issued to (the OpenID Connect
"session ID" claim, RFC 7519 registry): the pair issued at login shares a fresh one and refresh
token rotation passes it on, so that logging out with either token of a login revokes every
token of that login (:func:`revoke_login`) and no other login of the user. A login is revoked by
a blocklist row whose ``jti`` is the ``sid`` (``token_type`` ``"login"``); both are random UUIDs.
Tokens issued before ``sid`` existed have none and are revoked one by one, as before.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from jwt import PyJWTError
from sqlalchemy import delete, exists, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from app.errors import Unauthorized
from app.extensions import db
from app.models import TokenBlocklist, User
from app.models.base import utcnow
from app.services import token_checks
from app.services.rate_limits import auth_throttle

#: ``token_type`` of a blocklist row that revokes a whole login (its ``jti`` is the ``sid``).
LOGIN_REVOKED = "login"


def issue_pair(user: User, *, login: str | None = None) -> dict[str, Any]:
    """Return ``{access_token, refresh_token, token_type: "bearer", expires_in}`` for ``user``.

    ``expires_in`` is the access token's lifetime in seconds. Both tokens carry ``sid`` =
    ``login`` (a rotation keeps the login's id), or a new random id for a new login.
    """
    claims = {"sv": user.session_version, "role": user.role, "sid": login or str(uuid.uuid4())}
    identity = str(user.id)
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "access_token": create_access_token(identity=identity, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=identity, additional_claims=claims),
        "token_type": "bearer",
        "expires_in": int(lifetime.total_seconds()),
    }


def token_holder(payload: dict[str, Any]) -> User | None:
    """Return the user a decoded token speaks for, or ``None`` when it must be refused.

    One query answers both questions asked on every API request: is the token on the blocklist,
    and is its user still active with the session version the token carries (a deactivation or
    password reset bumps it)? It runs on a pooled connection of its own that goes back to the
    pool at once, so the request holds no connection (nor transaction) while it reads its body
    or waits on the AI; the user is attached to the request's session from the row read. An
    access token that passed this check before in this worker needs no query at all: the answer
    is remembered until the database announces a change to the user or the token
    (:mod:`app.services.token_checks`; within a second in every worker).
    """
    try:
        user_id = int(payload["sub"])
    except (KeyError, TypeError, ValueError):
        return None
    jti = str(payload.get("jti", ""))
    login = payload.get("sid") if isinstance(payload.get("sid"), str) else None
    checks = token_checks.for_current_app() if payload.get("type") == "access" and jti else None
    if checks is not None:
        remembered = checks.lookup(jti)
        if remembered is not None and remembered[0] == user_id:
            user = _attached(remembered[1])
            return user if _holds(user, payload) else None
        generation = checks.generation
    found = _read_check(user_id, [jti, login] if login else [jti])
    if found is None:
        return None
    row, revoked_flag = found
    user = _attached(row)
    if revoked_flag or not _holds(user, payload):
        return None
    if checks is not None:
        checks.remember(jti, user_id, row, generation=generation, login=login)
    return user


def _read_check(user_id: int, ids: list[str]) -> tuple[dict[str, Any], bool] | None:
    """Read ``(the user's row {attribute key: value}, is any of ids on the blocklist)``, or
    ``None``; ``ids`` are the token's ``jti`` and, when it has one, its login's ``sid``.

    One statement in autocommit on a connection of its own (no BEGIN/ROLLBACK round trips),
    returned to the pool before this returns.
    """
    attributes = inspect(User).column_attrs
    revoked = exists().where(TokenBlocklist.jti.in_(ids)).label("revoked")
    statement = select(*(a.columns[0] for a in attributes), revoked).where(User.id == user_id)
    with db.engine.connect() as conn:
        found = conn.execution_options(isolation_level="AUTOCOMMIT").execute(statement).first()
    if found is None:
        return None
    return {a.key: value for a, value in zip(attributes, found, strict=False)}, bool(found[-1])


def _holds(user: User, payload: dict[str, Any]) -> bool:
    """Whether ``user`` may still use a token with ``payload`` (active, same session version)."""
    return bool(user.is_active) and payload.get("sv") == user.session_version


def _attached(row: dict[str, Any]) -> User:
    """A ``User`` in the request's session built from a remembered row, without a query."""
    user = User(**row)
    make_transient_to_detached(user)  # as if loaded: no pending changes, nothing to insert
    return db.session.merge(user, load=False)


def revoke(payload: dict[str, Any], *, commit: bool = True) -> bool:
    """Put the decoded token ``payload`` on the blocklist.

    Returns ``False`` when it was already there (a concurrent refresh or logout won).
    """
    entry = TokenBlocklist(
        jti=payload["jti"],
        token_type=payload.get("type", "access"),
        user_id=int(payload["sub"]),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )
    db.session.add(entry)
    try:
        if commit:
            db.session.commit()
        else:
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def rotate_refresh(payload: dict[str, Any], user: User) -> dict[str, Any]:
    """Revoke the presented refresh token and return a new pair (refresh token rotation).

    Raises:
        Unauthorized: ``token_revoked`` when the refresh token was already used.
        TooManyRequests: 429, this client address refreshed too often (``AUTH_ADDRESS_RATE_LIMIT``).
    """
    auth_throttle().hit_address("refresh")
    if not revoke(payload):
        raise Unauthorized("This refresh token has already been used.", code="token_revoked")
    return issue_pair(user, login=payload.get("sid"))


def revoke_login(payload: dict[str, Any]) -> None:
    """Log out: revoke the decoded token ``payload`` and every token of its login (``sid``).

    The login's blocklist row lives as long as a refresh token issued now would: every token of
    the login was issued before it, and none can be issued after (refreshing needs the login).
    Revoking what is already revoked is not an error (a concurrent logout won).
    """
    revoke(payload)
    login = payload.get("sid")
    if not isinstance(login, str) or not login:
        return  # a token from before logins had ids: only itself
    lifetime = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    expires = utcnow() + lifetime + timedelta(seconds=_leeway_seconds())
    revoke({"jti": login, "type": LOGIN_REVOKED, "sub": payload["sub"], "exp": expires.timestamp()})


def _leeway_seconds() -> float:
    """``JWT_DECODE_LEEWAY`` in seconds: a token is accepted that much past its ``exp``."""
    leeway = current_app.config.get("JWT_DECODE_LEEWAY") or 0
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)


def revoke_refresh_token(encoded: str, *, user_id: int) -> None:
    """Revoke an encoded refresh token sent at logout, and its login, if it belongs to
    ``user_id``.

    Raises:
        Unauthorized: ``token_invalid`` when it is not a valid refresh token of this user.
    """
    try:
        payload = decode_token(encoded, allow_expired=True)
    except PyJWTError:
        raise Unauthorized("The refresh token is invalid.", code="token_invalid") from None
    if payload.get("type") != "refresh" or payload.get("sub") != str(user_id):
        raise Unauthorized("The refresh token is invalid.", code="token_invalid")
    revoke_login(payload)


def purge_expired() -> int:
    """Delete blocklist entries whose token has expired anyway; return how many."""
    result = db.session.execute(delete(TokenBlocklist).where(TokenBlocklist.expires_at < utcnow()))
    db.session.commit()
    return result.rowcount or 0
