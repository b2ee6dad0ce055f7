"""JSON API for accounts and tokens under ``/api``."""

from __future__ import annotations

from flask import Blueprint
from flask_jwt_extended import current_user, get_jwt, jwt_required

from app.blueprints.auth.schemas import (
    LoginIn,
    LogoutIn,
    Message,
    MfaChallenge,
    MfaIn,
    RegisterIn,
    RegistrationAccepted,
    TokenPair,
    UserOut,
)
from app.errors import PermissionDenied
from app.openapi import responses, spec
from app.security import either_token, public
from app.services import accounts, mfa, registration, sessions, tokens

bp = Blueprint("auth_api", __name__, url_prefix="/api")

_TAG = "auth"


@bp.post("/auth/register")
@public
@spec.validate(
    json=RegisterIn,
    resp=responses((403, 409, 422, 429), HTTP_201=UserOut, HTTP_202=RegistrationAccepted),
    tags=[_TAG],
    security={},
)
def register(json: RegisterIn):  # type: ignore[no-untyped-def]
    """Register an account under the REGISTRATION policy.

    `invite`: with the `invite_token` from `flask users invite` for this address, 201 and the
    account (its role is the invitation's). `open`: 202 and the same message whether or not the
    address already had an account (no account oracle); log in afterwards. `closed`: 403.
    """
    outcome = registration.register(
        email=str(json.email),
        password=json.password,
        full_name=json.full_name,
        invite_token=json.invite_token,
    )
    if outcome.user is not None:
        return UserOut.model_validate(outcome.user), 201
    return RegistrationAccepted(message=registration.ACCEPTED_MESSAGE, email=outcome.email), 202


@bp.post("/auth/login")
@public
@spec.validate(
    json=LoginIn,
    resp=responses((401, 403, 422, 429), HTTP_200=TokenPair, HTTP_202=MfaChallenge),
    tags=[_TAG],
    security={},
)
def login(json: LoginIn):  # type: ignore[no-untyped-def]
    """Exchange email and password for an access token and a refresh token.

    With MFA on for the account: 202 `mfa_required` with a short-lived `mfa_token`; send it
    with the authenticator's code to `POST /api/auth/mfa` for the tokens. When MFA is required
    (MFA_REQUIRED_FOR) but not set up yet: 403 `mfa_enrolment_required` (enrol in the portal).
    """
    user = accounts.authenticate(email=json.email, password=json.password)
    if user.mfa_enabled:
        return MfaChallenge(mfa_token=mfa.issue_token(user), expires_in=mfa.token_lifetime()), 202
    if mfa.needs_enrolment(user):
        raise PermissionDenied(
            "This account must use two-factor authentication: log in to the portal once to "
            "set it up, then use the API.",
            code="mfa_enrolment_required",
        )
    return TokenPair(**tokens.issue_pair(user))


@bp.post("/auth/mfa")
@public
@spec.validate(
    json=MfaIn,
    resp=responses((401, 422, 429), HTTP_200=TokenPair),
    tags=[_TAG],
    security={},
)
def login_mfa(json: MfaIn):  # type: ignore[no-untyped-def]
    """Exchange the `mfa_token` of a login and a code (authenticator or recovery) for tokens."""
    user = mfa.complete_login(token=json.mfa_token, code=json.code)
    return TokenPair(**tokens.issue_pair(user))


@bp.post("/auth/refresh")
@public
@jwt_required(refresh=True)
@spec.validate(resp=responses((401, 429), HTTP_200=TokenPair), tags=[_TAG])
def refresh():  # type: ignore[no-untyped-def]
    """Trade a refresh token for a new pair; the presented refresh token is revoked."""
    return TokenPair(**tokens.rotate_refresh(get_jwt(), current_user))


@bp.post("/auth/logout")
@either_token
@spec.validate(json=LogoutIn, resp=responses((401,), HTTP_200=Message), tags=[_TAG])
def logout(json: LogoutIn):  # type: ignore[no-untyped-def]
    """Log out: revoke every token of the login the presented token belongs to.

    Send either token of the login as the bearer token: the access token and the refresh token
    issued together at login (and every pair rotated from them by `POST /api/auth/refresh`) are
    all revoked, so neither can be used afterwards. Other logins of the same user stay valid
    (`POST /api/auth/logout_all` ends them all). A `refresh_token` in the body (optional, of the
    same user) ends its login too.
    """
    if json.refresh_token:
        tokens.revoke_refresh_token(json.refresh_token, user_id=current_user.id)
    tokens.revoke_login(get_jwt())
    return Message(message="Logged out.")


@bp.post("/auth/logout_all")
@spec.validate(resp=responses((401,), HTTP_200=Message), tags=[_TAG])
def logout_all():  # type: ignore[no-untyped-def]
    """Log out everywhere: revoke every access and refresh token of the caller and end every
    portal session and remember-me token."""
    sessions.revoke_everything(current_user)
    return Message(message="Logged out everywhere.")


@bp.get("/users/me")
@spec.validate(resp=responses((401,), HTTP_200=UserOut), tags=["users"])
def me():  # type: ignore[no-untyped-def]
    """Return the caller's profile."""
    return UserOut.model_validate(current_user)
