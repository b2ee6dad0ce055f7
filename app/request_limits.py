"""Request body limits, decided from ``Content-Length`` before a byte of the body is read.

Caps (``config.py``): ``MAX_CONTENT_LENGTH`` for every body (12 MB: a photo of
``MAX_IMAGE_BYTES`` and its multipart envelope fit), ``MAX_JSON_BYTES`` for JSON bodies (256 KB)
except those that carry a whole anamnesis (``MAX_ANAMNESIS_JSON_BYTES``, 1 MB: the AI contract
allows 200 answers of 2,000 characters, about 420 KB). A body over its cap answers 413
``payload_too_large`` at once, on every route, including unknown ``/api`` paths (it is checked
before routing errors are raised). A chunked body without ``Content-Length`` is capped while it
is read (``request.max_content_length``) and answers the same 413: :class:`CappedRequest` reads it
through :class:`CappedStream`, because Werkzeug's capped stream, read to the end in one go (as
``request.get_data()`` does for JSON), stops at the cap and returns the first bytes without an
error, which the JSON parser then refused as 400 ``malformed_json``.

The photo endpoints lower the cap further to ``MAX_IMAGE_BYTES`` (``app.blueprints.uploads``).
"""

from __future__ import annotations

from typing import IO

from flask import Flask, Request, current_app, request
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

from app.errors import PayloadTooLarge


def _size(n: int) -> str:
    from app.services.images import format_bytes

    return format_bytes(n)


#: The endpoints whose JSON body is (or holds) a whole anamnesis.
ANAMNESIS_ENDPOINTS = frozenset(
    {
        "questionnaire_api.next_question",
        "cases_api.merge_answers",
        "diagnosis_api.red_flags",
        "diagnosis_api.triage",
    }
)


def body_limit() -> int:
    """The cap on this request's body in bytes: for JSON ``MAX_JSON_BYTES`` (or
    ``MAX_ANAMNESIS_JSON_BYTES`` where an anamnesis is sent), else ``MAX_CONTENT_LENGTH``."""
    config = current_app.config
    if request.is_json:
        setting = (
            "MAX_ANAMNESIS_JSON_BYTES"
            if request.endpoint in ANAMNESIS_ENDPOINTS
            else "MAX_JSON_BYTES"
        )
        return min(config[setting], config["MAX_CONTENT_LENGTH"])
    return config["MAX_CONTENT_LENGTH"]


def refuse_oversized_body() -> None:
    """Answer 413 when ``Content-Length`` is over :func:`body_limit`; cap a chunked body too.

    Raises:
        PayloadTooLarge: ``details.max_bytes`` is the cap that applied.
    """
    limit = body_limit()
    request.max_content_length = limit
    length = request.content_length
    if length is not None and length > limit:
        raise too_large(limit)


def too_large(limit: int) -> PayloadTooLarge:
    """The 413 for this request's body over ``limit`` bytes (``details.max_bytes``)."""
    kind = "JSON body" if request.is_json else "request body"
    return PayloadTooLarge(
        f"The {kind} is larger than {_size(limit)}, the limit here.", details={"max_bytes": limit}
    )


class CappedStream(LimitedStream):
    """A body without ``Content-Length`` capped at ``limit`` bytes that refuses, rather than
    cuts, a longer one when read to the end.

    Werkzeug's ``LimitedStream(is_max=True)`` raises 413 only on a read *after* the cap was
    reached; ``read()`` to the end stops at the cap and returns ``limit`` bytes. Here, once the
    cap is reached, one more byte is asked of the server's (already de-chunked) input: any byte
    means the body is longer, :func:`too_large`; none means it was exactly ``limit`` bytes.

    Raises:
        PayloadTooLarge: from ``read()`` / ``readall()`` when the body is over ``limit``.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._source = stream

    def readall(self) -> bytes:
        """The whole body; :func:`too_large` when it is longer than the cap."""
        data = super().readall()
        if self.is_exhausted and self._source.read(1):
            raise too_large(self.limit)
        return data


class CappedRequest(Request):
    """Flask's request whose chunked body is read through :class:`CappedStream`."""

    @cached_property
    def stream(self) -> IO[bytes]:  # type: ignore[override]
        """The body stream: a :class:`CappedStream` when the server ends the body itself
        (``wsgi.input_terminated``: chunked, no ``Content-Length``) and a cap is set."""
        limit = self.max_content_length
        if (
            not self.shallow
            and self.content_length is None
            and limit is not None
            and "wsgi.input_terminated" in self.environ
        ):
            return CappedStream(self.environ["wsgi.input"], limit)
        return super().stream


def init_body_limits(app: Flask) -> None:
    """Check every request's body size first: URL value preprocessors run before every
    ``before_request`` function (the CSRF check and the NUL check parse the body), and also
    when the path matches no route."""
    app.request_class = CappedRequest
    app.url_value_preprocessor(lambda _endpoint, _values: refuse_oversized_body())
