"""Admission at the door for the API requests that may hash a password (login, registration).

Under a burst of anonymous logins (issue #13: 64 at once) the hash cap of ``hash_slots``
refuses all but one per worker, but only after each request went through Flask: routing, the
JSON body, spectree's model, the per-address throttle's Redis round trip (about 1.2 ms of CPU
each). gevent does not preempt, so a worker's ``/healthy`` waited behind the starts of the 32
requests the worker received (90-200 ms on a quiet machine, ``tests/test_throttling_served.py``).
This WSGI middleware counts the hashing requests a worker has in flight and refuses one more
than ``LOGIN_DOOR_LIMIT`` before Flask sees it: 429 ``server_busy`` in the API's error shape with
``Retry-After: 1``, the answer the hash cap gives, at the cost of a comparison; the portal's
``/login`` and ``/register`` get a short page with a link back to the form.

The limit is ``PASSWORD_HASH_CONCURRENCY``, the worker's hash slots: a request admitted beyond
it would only find every slot taken. Measured with the test's 64 anonymous logins on a quiet
machine, 8 runs each: slowest ``/healthy`` probe 22-137 ms with 2 admitted per worker, 6-44 ms
with 1 (45-142 ms without the door).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from app.services.rate_limits.errors import ServerBusy

#: The API paths whose POST may compute a password hash.
API_HASHING_PATHS = frozenset({"/api/auth/login", "/api/auth/register"})
#: The portal's.
PORTAL_HASHING_PATHS = frozenset({"/login", "/register"})
_BUSY_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Busy - DermaDetect</title>"
    "<meta name=viewport content='width=device-width, initial-scale=1'></head><body>"
    "<h1>Too many logins at this moment</h1><p>The server is checking other logins. Nothing "
    "was changed. Please wait a second and <a href='{path}'>try again</a>.</p></body></html>"
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LoginDoor:
    """WSGI middleware: at most ``limit`` API logins and registrations in flight in this process.

    Args:
        app: the wrapped WSGI application.
        limit: requests admitted at once (at least 1); one more is refused with 429
            ``server_busy`` and ``Retry-After: 1`` without reaching ``app``.
    """

    def __init__(self, app: WsgiApp, limit: int) -> None:
        self.app = app
        self.limit = max(1, int(limit))
        self.in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        path = environ.get("PATH_INFO")
        if environ.get("REQUEST_METHOD") != "POST" or (
            path not in API_HASHING_PATHS and path not in PORTAL_HASHING_PATHS
        ):
            return self.app(environ, start_response)
        with self._lock:
            if self.in_flight >= self.limit:
                return _refuse(start_response, path)
            self.in_flight += 1
        try:
            body = self.app(environ, start_response)
            # A login's answer is small and built at once: read it here, so that the request
            # leaves the count when its work is done, not when the client has read it.
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        finally:
            with self._lock:
                self.in_flight -= 1


def _refuse(start_response: Callable[..., Any], path: str) -> list[bytes]:
    error = ServerBusy(1)
    if path in API_HASHING_PATHS:
        payload, media_type = json.dumps(error.to_dict()).encode(), "application/json"
    else:
        payload, media_type = _BUSY_PAGE.format(path=path).encode(), "text/html; charset=utf-8"
    start_response(
        "429 TOO MANY REQUESTS",
        [
            ("Content-Type", media_type),
            ("Content-Length", str(len(payload))),
            ("Retry-After", str(error.retry_after)),
            ("Cache-Control", "no-store"),
        ],
    )
    return [payload]
