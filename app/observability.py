"""Request ids and logging: every response carries ``X-Request-ID``, every log line its id."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from typing import Any

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    """Return the id of the request being handled, or ``None`` outside a request."""
    if has_request_context():
        return getattr(g, "request_id", None)
    return None


def current_client_address() -> str | None:
    """Return the client's address as the app sees it (``remote_addr``), ``None`` outside a request.

    Behind reverse proxies this is the client only when ``TRUSTED_PROXY_HOPS`` counts them
    (``create_app`` then applies Werkzeug's ProxyFix); otherwise it is the nearest proxy.
    """
    if has_request_context():
        return getattr(g, "client_address", None)
    return None


class RequestIdFilter(logging.Filter):
    """Add ``request_id`` (or ``-``) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    """Send the app's logs to stderr, as text or JSON (``LOG_FORMAT``), with request ids."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    for name in ("app", app.logger.name):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(app.config["LOG_LEVEL"])
        logger.propagate = False


def init_request_ids(app: Flask) -> None:
    """Accept a safe incoming ``X-Request-ID`` (else make one) and echo it on the response."""

    # A URL value preprocessor, not a before_request function: those run first of all, so even
    # an answer given before the before_request functions (a body over its limit) has its id.
    @app.url_value_preprocessor
    def _assign_request_id(_endpoint: str | None, _values: dict | None) -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.client_address = request.remote_addr

    @app.after_request
    def _echo_request_id(response):  # type: ignore[no-untyped-def]
        request_id = current_request_id()
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
