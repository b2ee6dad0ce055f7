"""One place mapping errors to responses: JSON under ``/api``, pages (or fragments) elsewhere."""

from __future__ import annotations

import logging
from contextlib import suppress

from flask import Flask, Response, current_app, jsonify, make_response, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.errors import AppError, DatabaseUnavailable
from app.extensions import db
from app.observability import current_request_id

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors get these codes and human messages in the JSON shape.
HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This method is not allowed on this address."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "This content type is not supported here."),
    422: ("unprocessable_entity", "The request could not be processed."),
    429: ("rate_limited", "Too many requests; please slow down."),
    500: ("internal_error", "Something went wrong on our side; it has been logged."),
}

CSRF_MESSAGE = (
    "This form has expired or did not come from this site. Go back, reload the page and try again."
)


def wants_json() -> bool:
    """Whether the current request should get a JSON error (the API, or a JSON-only client)."""
    return request.path.startswith("/api/") or request.path in {"/health", "/healthy"}


def json_error(status: int, code: str, message: str, details: dict | None = None) -> Response:
    """Return the one API error shape ``{"error": {code, message, details}}`` with ``status``."""
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def _page(status: int, code: str, message: str) -> Response:
    from app.blueprints.portal import render

    context = {"status": status, "code": code, "message": message}
    return render("errors/page.html", "errors/_fragment.html", status, **context)


def app_error_response(error: AppError) -> Response:
    """The response to a domain error: the JSON error shape on ``/api``, else the error page
    (``Retry-After`` when the error carries one; 5xx are logged)."""
    if error.status >= 500:
        log.warning("%s: %s %s", error.code, error.message, error.details)
    if wants_json():
        response = json_error(error.status, error.code, error.message, error.details)
    else:
        response = make_response(_page(error.status, error.code, error.message))
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def database_unavailable_response(error: Exception) -> Response:
    """503 ``database_unavailable`` for a database that cannot be reached or dropped the
    connection (a ``Retry-After`` on ``/api``; a plain page, without the user's menu, in the
    portal). One log line, no traceback: an outage would otherwise log one per request."""
    cause = getattr(error, "orig", None) or error
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.path,
        type(cause).__name__,
        reason[:300],
    )
    with suppress(Exception):  # the session's connection is gone; make the session usable again
        db.session.rollback()
    unavailable = DatabaseUnavailable()
    if wants_json():
        response = json_error(unavailable.status, unavailable.code, unavailable.message)
    else:
        # Straight from the Jinja environment: render_template's context processors would load
        # the logged-in user (flask-login's current_user) from the database that is down.
        page = current_app.jinja_env.get_template("errors/unavailable.html").render(
            status=unavailable.status,
            code=unavailable.code,
            message=unavailable.message,
            method=request.method,
            again=request.full_path.rstrip("?"),
            request_id=current_request_id(),
        )
        response = make_response(page, unavailable.status)
    response.headers["Retry-After"] = str(unavailable.retry_after)
    return response


def init_error_handlers(app: Flask) -> None:
    """Register the handlers for domain errors, HTTP errors and unexpected exceptions."""

    app.register_error_handler(AppError, app_error_response)
    for unreachable in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(unreachable, database_unavailable_response)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        status = error.code or 500
        code, message = HTTP_CODES.get(status, ("http_error", error.description or ""))
        if isinstance(error, CSRFError):  # a portal form posted without its (valid) token
            code, message = "csrf_failed", CSRF_MESSAGE
        if wants_json():
            response = json_error(status, code, message)
            allowed = getattr(error, "valid_methods", None)
            if status == 405 and allowed:
                response.headers["Allow"] = ", ".join(allowed)
            return response
        return _page(status, code, message)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("Unhandled error on %s %s", request.method, request.path)
        # A failed flush leaves the session unusable; the error page reads the current user.
        db.session.rollback()
        code, message = HTTP_CODES[500]
        if wants_json():
            return json_error(500, code, message)
        return _page(500, code, message)
