"""Every identity rule in one place: JWT loaders, the API's deny-by-default guard, flask-login.

- JSON API: a valid access token is required on every ``/api`` route unless its view is marked
  with :func:`public`. Each JWT failure answers 401 in the one error shape, with a code of
  :data:`JWT_ERROR_CODES` (documented with the 401 of every operation in the OpenAPI document).
- Portal: every page needs a live server-side session (:mod:`app.services.sessions`) unless
  marked :func:`public`; the signed session cookie carries only its random key. An HTMX request
  with an ended session gets ``HX-Redirect`` to the login page, never a login form fragment.
  A form marked :func:`keeps_draft` posted after the idle lock is kept as a draft first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import flask_login
import jwt as pyjwt
from flask import Flask, Response, current_app, jsonify, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import WrongTokenError
from itsdangerous import URLSafeTimedSerializer

from app import jwt_segments, portal_login
from app.errors import Unauthorized
from app.extensions import jwt, login_manager
from app.services import sessions, tokens

F = TypeVar("F", bound=Callable[..., Any])


#: The ``error.code`` of each 401 a bearer token can get, and what it means.
JWT_ERROR_CODES = {
    "token_missing": "no 'Authorization: Bearer' header",
    "token_invalid": "malformed, or signed with another key",
    "token_expired": "expired: refresh it or log in again",
    "token_revoked": "revoked (logout, password reset, deactivated account) or already used",
    "token_wrong_type": "a refresh token sent as the access token, or the reverse",
    "token_not_fresh": "a fresh login is required",
}


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session with its signer built once per set of keys, not once per
    request (an itsdangerous serializer, 2-3 % of a probe's CPU: every request opens the
    session, also those that carry no cookie), and no cookie work for a request without
    cookies whose session stays empty."""

    _signer: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The serializer Flask's would make for ``app``'s keys now; ``None`` without a key."""
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        signer = self._signer
        if signer is None or signer[0] != keys:
            signer = self._signer = (keys, super().get_signing_serializer(app))
        return signer[1]

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        """Flask's session of ``request``; a new empty one at once for a request without
        cookies (a probe, a bearer-token call): there is nothing to read or verify."""
        if "HTTP_COOKIE" not in request.environ and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        """Flask's, which for an empty session left empty only adds ``Vary: Cookie`` when the
        session was read (without first looking up the seven cookie settings)."""
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def public(view: F) -> F:
    """Mark a view as reachable without credentials (no access token on /api, no session)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def either_token(view: F) -> F:
    """Mark an /api view as taking a refresh token as well as an access token (logout: a
    client whose access token is gone can still end its login with the refresh token)."""
    view.takes_refresh_token = True  # type: ignore[attr-defined]
    return view


def _jwt_error(code: str, message: str) -> tuple[Response, int]:
    body = {"error": {"code": code, "message": message, "details": {}}}
    return jsonify(body), 401


#: ``token_wrong_type``: what each kind of token is for, said to a client that mixed them up.
REFRESH_AS_ACCESS = (
    "This is a refresh token: it is good only for POST /api/auth/refresh. Send the access "
    "token here ('Authorization: Bearer <access_token>')."
)
ACCESS_AS_REFRESH = (
    "This is an access token: POST /api/auth/refresh takes the refresh token "
    "('Authorization: Bearer <refresh_token>')."
)


def _presented_token_type() -> str | None:
    """The ``type`` claim of the bearer token sent (already verified by flask-jwt-extended
    when it finds the type wrong), or ``None`` when it cannot be read."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    try:
        claims = pyjwt.decode(encoded.strip(), options={"verify_signature": False})
    except pyjwt.PyJWTError:
        return None
    return claims.get("type") if scheme.lower() == "bearer" else None


def init_security(app: Flask) -> None:
    """Register the JWT loaders, the ``/api`` guard and the flask-login hooks on ``app``."""
    app.session_interface = CookieSessionInterface()
    jwt_segments.install()

    # No token_in_blocklist_loader: the user lookup checks the blocklist in the same query
    # (one database round trip per request instead of two). A revoked token, a deactivated
    # user or a stale session version all answer 401 token_revoked.
    @jwt.user_lookup_loader
    def _load_user(_header: dict, payload: dict) -> Any:
        return tokens.token_holder(payload)

    @jwt.user_lookup_error_loader
    def _user_gone(_header: dict, _payload: dict):  # type: ignore[no-untyped-def]
        return _jwt_error("token_revoked", "This token is no longer valid; please log in again.")

    @jwt.unauthorized_loader
    def _missing(_reason: str):  # type: ignore[no-untyped-def]
        return _jwt_error(
            "token_missing", "An access token is required: send 'Authorization: Bearer <token>'."
        )

    @jwt.invalid_token_loader
    def _invalid(_reason: str):  # type: ignore[no-untyped-def]
        return _jwt_error("token_invalid", "The token is malformed or its signature is invalid.")

    # flask-jwt-extended sends a token of the wrong kind to invalid_token_loader ("malformed or
    # its signature is invalid"), which misleads: the token is sound, only used in the wrong
    # place. Registered after jwt.init_app, this handler replaces the extension's own.
    @app.errorhandler(WrongTokenError)
    def _wrong_type(_error: WrongTokenError):  # type: ignore[no-untyped-def]
        if _presented_token_type() == "refresh":
            return _jwt_error("token_wrong_type", REFRESH_AS_ACCESS)
        return _jwt_error("token_wrong_type", ACCESS_AS_REFRESH)

    @jwt.expired_token_loader
    def _expired(_header: dict, _payload: dict):  # type: ignore[no-untyped-def]
        return _jwt_error("token_expired", "The token has expired; refresh it or log in again.")

    @jwt.revoked_token_loader
    def _revoked(_header: dict, _payload: dict):  # type: ignore[no-untyped-def]
        return _jwt_error("token_revoked", "The token has been revoked; please log in again.")

    @jwt.needs_fresh_token_loader
    def _not_fresh(_header: dict, _payload: dict):  # type: ignore[no-untyped-def]
        return _jwt_error("token_not_fresh", "A fresh login is required.")

    @app.before_request
    def _guard_api() -> None:
        if not request.path.startswith("/api/") or request.endpoint is None:
            return  # portal routes guard themselves; unknown routes become 404 / 405
        if request.method == "OPTIONS":
            return  # Flask answers it with the Allow header; there is no token to check
        if request.endpoint.startswith("openapi_") or request.endpoint == "openapi_document":
            return
        view = current_app.view_functions.get(request.endpoint)
        if getattr(view, "is_public", False):
            return
        either = getattr(view, "takes_refresh_token", False)
        verify_jwt_in_request(verify_type=not either)
        if get_jwt().get("type") not in (("access", "refresh") if either else ("access",)):
            # A refresh token is only good for /api/auth/refresh (verify_jwt_in_request already
            # refuses one with WrongTokenError; this keeps any other type out too).
            raise Unauthorized("An access token is required here.", code="token_wrong_type")

    def _guard_portal():  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/") or request.endpoint in (None, "static"):
            return None
        view = current_app.view_functions.get(request.endpoint)
        if getattr(view, "is_public", False) or flask_login.current_user.is_authenticated:
            return None
        draft_form = getattr(view, "draft_form", None)
        if draft_form and portal_login.keep_posted_draft(draft_form):
            return portal_login.to_login(portal_login.DRAFT_KEPT)
        return login_manager.unauthorized()

    # First of all before_request functions, before Flask-WTF's CSRF check: a form posted after
    # the session expired leads to the login page (HX-Redirect for htmx), not to a CSRF error
    # (the token belongs to the session that is gone).
    app.before_request_funcs.setdefault(None, []).insert(0, _guard_portal)

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load_session_user(user_id: str) -> Any:
        key = session.get(portal_login.PORTAL_SESSION_KEY)
        return sessions.resume_portal_session(key, user_id=user_id)

    @login_manager.request_loader
    def _load_remembered_user(_request: Any) -> Any:
        return portal_login.resume_remembered_user()

    @login_manager.unauthorized_handler
    def _login_required():  # type: ignore[no-untyped-def]
        return portal_login.to_login(login_manager.login_message)

    app.after_request(portal_login.write_remember_cookie)
