"""Read an HTTP response body (``requests``, ``stream=True``) within a deadline and a byte budget.

A ``requests`` read timeout bounds each wait for the next bytes, not the whole answer: a server
that sends 8 bytes every half second never trips it, and nothing stops a 100 MB answer. Here the
body is read one socket read at a time (``read1``), the socket's timeout set before each read to
the smaller of the per-read timeout and the time left, and the bytes counted as they come. No
signals and no threads are involved, so it works the same in a gthread or a gevent worker (a
gevent socket honours ``settimeout`` too).
"""

from __future__ import annotations

import time

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ProtocolError, ReadTimeoutError

#: Bytes asked for per read; ``read1`` returns what one socket read gives, up to this.
READ_BYTES = 64 * 1024
#: The smallest socket timeout set before a read, seconds (a zero timeout means non-blocking).
MIN_READ_TIMEOUT = 0.01


class ResponseTooLarge(Exception):
    """The body (or its ``Content-Length``) is over the byte budget; the connection is closed."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"response body over {max_bytes} bytes")
        self.max_bytes = max_bytes


class DeadlinePassed(Exception):
    """The deadline passed before the whole body came; the connection is closed."""


def _socket_of(response: requests.Response):  # type: ignore[no-untyped-def]
    """The socket under a streamed urllib3 response, or None (then only the deadline checks
    between reads hold, each read still bounded by the timeout set when the request was sent)."""
    connection = getattr(response.raw, "_connection", None)
    return getattr(connection, "sock", None)


def read_body(
    response: requests.Response, *, deadline_at: float, read_timeout: float, max_bytes: int
) -> bytes:
    """Return the whole body of a ``stream=True`` response, by ``deadline_at`` (a
    ``time.monotonic()`` value) and within ``max_bytes``; the connection goes back to the pool.

    Raises:
        ResponseTooLarge: ``Content-Length`` or the bytes read exceed ``max_bytes``.
        DeadlinePassed: ``deadline_at`` came before the end of the body.
        requests.ReadTimeout: no byte came for ``read_timeout`` seconds.
        requests.ConnectionError: the connection broke mid-body.
    """
    declared = response.headers.get("Content-Length", "")
    try:
        if declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(max_bytes)
        body = _read_all(response, deadline_at, read_timeout, max_bytes)
    except BaseException:
        response.close()  # an unread rest must never reach the next call on this connection
        raise
    response._content = body  # so that .json() / .text work as for a preloaded response
    response._content_consumed = True
    response.raw.release_conn()
    return body


def _read_all(
    response: requests.Response, deadline_at: float, read_timeout: float, max_bytes: int
) -> bytes:
    sock = _socket_of(response)
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            left = deadline_at - time.monotonic()
            if left <= 0:
                raise DeadlinePassed
            if sock is not None:
                sock.settimeout(max(MIN_READ_TIMEOUT, min(read_timeout, left)))
            chunk = response.raw.read1(READ_BYTES, decode_content=True)
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(max_bytes)
            parts.append(chunk)
    except (ReadTimeoutError, TimeoutError) as exc:
        if deadline_at - time.monotonic() <= MIN_READ_TIMEOUT:
            raise DeadlinePassed from exc
        raise requests.ReadTimeout(str(exc)) from exc
    except (ProtocolError, Urllib3Error, OSError) as exc:
        raise requests.ConnectionError(str(exc)) from exc
