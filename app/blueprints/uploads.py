"""The size limit of photo uploads, checked before the body is read (JSON API and portal)."""

from __future__ import annotations

from flask import current_app, request

from app.errors import PayloadTooLarge
from app.services.images import format_bytes

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
