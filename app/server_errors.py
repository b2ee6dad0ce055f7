"""The answers gunicorn gives itself, before the app sees a request, in the one error shape.

gunicorn refuses a request line over ``limit_request_line`` (414), a header over
``limit_request_field_size`` or too many headers (431) and malformed requests (400) with an
HTML page of its own. :func:`answer_in_json` makes those answers
``{"error": {"code", "message", "details"}}`` like every ``/api`` error (the request line is
not parsed at that point, so the path is unknown: every such answer is JSON). Installed from
``gunicorn.conf.py``; nothing here imports Flask.
"""

from __future__ import annotations

import json

#: gunicorn's status → our error code (anything else: ``bad_request``).
CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
}
MESSAGES = {
    414: "The address (request line) is too long.",
    431: "A request header is too large, or there are too many headers.",
    500: "Something went wrong on our side; it has been logged.",
}


def error_answer(status: int, reason: str, detail: str) -> bytes:
    """The whole HTTP/1.1 answer for gunicorn's ``status`` / ``reason`` (``detail`` is its
    message, kept out of the body but for the 400s: it names the malformed part)."""
    code = CODES.get(status, "bad_request")
    message = MESSAGES.get(status) or f"The request could not be understood: {detail}"[:300]
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def answer_in_json() -> None:
    """Replace ``gunicorn.util.write_error`` (the HTML answer of its workers) with ours."""
    from gunicorn import util

    def write_error(sock, status_int, reason, mesg):  # type: ignore[no-untyped-def]
        util.write_nonblock(sock, error_answer(int(status_int), str(reason), str(mesg)))

    util.write_error = write_error
