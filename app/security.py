"""Every identity rule in one place: JWT loaders, the API's deny-by-default guard, flask-login.

- JSON API: a valid access token is required on every ``/api`` route unless its view is marked
  with :func:`public`. Each JWT failure answers 401 in the one error shape.
- Portal: every page needs a flask-login session unless marked :func:`public`; an HTMX request
  with an expired session gets ``HX-Redirect`` to the login page, never a login form fragment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import flask_login
from flask import Flask, Response, current_app, flash, jsonify, redirect, request, url_for
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from app.errors import Unauthorized
from app.extensions import jwt, login_manager
from app.services import accounts, tokens

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Mark a view as reachable without credentials (no access token on /api, no session)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def _jwt_error(code: str, message: str) -> tuple[Response, int]:
    body = {"error": {"code": code, "message": message, "details": {}}}
    return jsonify(body), 401


def init_security(app: Flask) -> None:
    """Register the JWT loaders, the ``/api`` guard and the flask-login hooks on ``app``."""

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
        verify_jwt_in_request()
        if get_jwt().get("type") != "access":
            # A refresh token is only good for /api/auth/refresh.
            raise Unauthorized("An access token is required here.", code="token_invalid")

    def _guard_portal():  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/") or request.endpoint in (None, "static"):
            return None
        view = current_app.view_functions.get(request.endpoint)
        if getattr(view, "is_public", False) or flask_login.current_user.is_authenticated:
            return None
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
    def _load_session_user(session_id: str) -> Any:
        user_id, _, version = session_id.partition(":")
        try:
            user = accounts.get_user(int(user_id))
        except ValueError:
            return None
        if user is None or not user.is_active or str(user.session_version) != version:
            return None
        return user

    @login_manager.unauthorized_handler
    def _login_required():  # type: ignore[no-untyped-def]
        login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request") == "true":
            # Never swap a login form into a fragment: send the whole page to the login.
            response = Response(status=401)
            response.headers["HX-Redirect"] = login_url
            return response
        flash(login_manager.login_message, login_manager.login_message_category)
        return redirect(login_url)
