"""Request body limits, decided from ``Content-Length`` before a byte of the body is read.

Caps (``config.py``): ``MAX_CONTENT_LENGTH`` for every body (12 MB: a photo of
``MAX_IMAGE_BYTES`` and its multipart envelope fit), ``MAX_JSON_BYTES`` for JSON bodies (256 KB)
except those that carry a whole anamnesis (``MAX_ANAMNESIS_JSON_BYTES``, 1 MB: the AI contract
allows 200 answers of 2,000 characters, about 420 KB). A body over its cap answers 413
``payload_too_large`` at once, on every route, including unknown ``/api`` paths (it is checked
before routing errors are raised). A chunked body without ``Content-Length`` is cut off by
Werkzeug when it passes the same cap (``request.max_content_length``), which also answers 413.

The photo endpoints lower the cap further to ``MAX_IMAGE_BYTES`` (``app.blueprints.uploads``).
"""

from __future__ import annotations

from flask import Flask, current_app, request

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
        kind = "JSON body" if request.is_json else "request body"
        raise PayloadTooLarge(
            f"The {kind} is larger than {_size(limit)}, the limit here.",
            details={"max_bytes": limit},
        )


def init_body_limits(app: Flask) -> None:
    """Check every request's body size first: URL value preprocessors run before every
    ``before_request`` function (the CSRF check and the NUL check parse the body), and also
    when the path matches no route."""
    app.url_value_preprocessor(lambda _endpoint, _values: refuse_oversized_body())
