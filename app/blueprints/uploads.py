"""The size limit of photo uploads, checked before the body is read (JSON API and portal)."""

from __future__ import annotations

from typing import TypeVar

from flask import current_app, request

from app.errors import PayloadTooLarge, UnsupportedMediaType
from app.services.images import format_bytes

F = TypeVar("F")

#: Room for the multipart envelope (boundaries, part headers) around the photo itself, bytes.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def photo_too_large_message() -> str:
    """The sentence shown when a photo exceeds ``MAX_IMAGE_BYTES`` (e.g. "… than 10 MB; …")."""
    limit = format_bytes(current_app.config["MAX_IMAGE_BYTES"])
    return f"The photo is larger than {limit}; please choose a smaller one."


def refuse_oversized_upload() -> None:
    """Cap the request body at ``MAX_IMAGE_BYTES`` + the multipart envelope.

    Also enforced while a chunked body streams in (``request.max_content_length``).

    Raises:
        PayloadTooLarge: 413 when ``Content-Length`` already says the body is over the cap
            (``details.max_bytes`` is the photo limit).
    """
    max_bytes = current_app.config["MAX_IMAGE_BYTES"]
    limit = max_bytes + MULTIPART_OVERHEAD_BYTES
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(photo_too_large_message(), details={"max_bytes": max_bytes})


def require_form(form: F | None) -> F:
    """Return the validated multipart model, or raise 415 for any other content type.

    spectree validates a ``form=`` model only for form bodies and passes ``None`` for any other
    content type (despite the view's annotation).

    Raises:
        UnsupportedMediaType: ``unsupported_media_type``: the body is not multipart/form-data.
    """
    if form is None:
        raise UnsupportedMediaType(
            "Send the photo as multipart/form-data with the file in the 'image' field.",
            code="unsupported_media_type",
        )
    return form
