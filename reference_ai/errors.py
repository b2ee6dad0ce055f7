"""One error shape for the reference AI service: ``{"detail": ...}`` with a 4xx/5xx status.

The contract asks for ``400`` or ``422`` with ``{"detail": ...}`` on input errors; the gateway maps
them to its own ``422 ai_rejected_input`` and shows the detail, so details are short sentences
naming the offending field.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger("reference_ai")


class InputError(Exception):
    """A request the service cannot work on; ``status`` is 400 (malformed) or 422 (invalid)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def register_error_handlers(app: Flask) -> None:
    """Answer every error, ours or werkzeug's (404, 405, 413, …), as ``{"detail": ...}``."""

    @app.errorhandler(InputError)
    def input_error(error: InputError):
        return jsonify(detail=error.detail), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return jsonify(detail=error.description), error.code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error")
        return jsonify(detail="Internal error in the reference AI service"), 500
