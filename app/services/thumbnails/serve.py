"""Deliver a photo's thumbnail: access check, the derived object (made on first use), the
audit event, and an ETag for the browser's copy.

Order (as :func:`app.services.case_images.open_image`): access is checked first, so an
``If-None-Match`` from another user's copy is refused like any request; no database
transaction is held while the store is read or the thumbnail made; the view is recorded after
the bytes were found (a failed read records no view), also when the browser's copy is current
(it is shown again).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import UnidentifiedImageError

from app.concurrency import run_cpu_bound
from app.errors import NotFound, StorageUnavailable
from app.extensions import db
from app.services import audit, case_images
from app.services.storage import ImageStorage
from app.services.thumbnails.derived import RENDITION, thumbnail_key
from app.services.thumbnails.render import render_thumbnail

logger = logging.getLogger(__name__)

#: What Pillow raises for bytes it cannot decode (a stored object damaged after intake).
_UNDECODABLE = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError)


@dataclass(frozen=True)
class Thumbnail:
    """A thumbnail to send: ``data`` (``None`` when the caller's copy, ``etag``, is current).

    ``etag`` is a weak entity tag (opaque, quoted by the caller) that changes with the photo
    and the rendition; ``None`` together with ``content_type`` other than JPEG means the
    original had to be sent instead (it could not be decoded: see :func:`open_thumbnail`).
    """

    etag: str | None
    data: bytes | None
    content_type: str = "image/jpeg"


def etag_for(sha256: str) -> str:
    """The entity tag of the current thumbnail of a photo whose bytes hash to ``sha256``: a
    hash of it and the rendition (the photo's own hash is not repeated in headers)."""
    return hashlib.sha256(f"{sha256}/{RENDITION}".encode()).hexdigest()[:32]


def open_thumbnail(
    *,
    actor: Any,
    case_id: uuid.UUID,
    image_id: uuid.UUID,
    record_view: bool = True,
    is_current: Callable[[str], bool] = lambda etag: False,
) -> Thumbnail:
    """Return the thumbnail of a case's photo and record the view (``image.view``; not with
    ``record_view`` false: a worklist thumbnail its ``worklist.view`` already names).

    ``is_current(etag)`` tells whether the caller already holds that version (``If-None-Match``);
    then no bytes are read. The thumbnail is read from the store, or made from the stored photo
    and stored beside it (:mod:`app.services.thumbnails.derived`); a store refusing that write
    is logged and the thumbnail sent anyway. A stored photo Pillow cannot decode is sent as it
    is (logged), without an ETag.

    Raises:
        NotFound: ``case_not_found``, ``image_not_found`` (also when the object is missing).
        StorageUnavailable: the store could not be read.
    """
    image = case_images.get_image(actor=actor, case_id=case_id, image_id=image_id)
    key, content_type, etag = image.storage_key, image.content_type, etag_for(image.sha256)
    db.session.rollback()  # no transaction held while the store is asked

    thumbnail = Thumbnail(etag=etag, data=None)
    if not is_current(etag):
        thumbnail = _load_or_make(case_images.get_storage(), key, content_type, etag)
    if record_view:
        audit.record(actor, audit.IMAGE_VIEW, case_id=case_id, image_id=image_id)
        db.session.commit()
    return thumbnail


def _load_or_make(storage: ImageStorage, key: str, content_type: str, etag: str) -> Thumbnail:
    derived = thumbnail_key(key)
    try:
        return Thumbnail(etag=etag, data=storage.get(derived))
    except NotFound:
        pass  # not made yet
    try:
        original = storage.get(key)
    except NotFound:
        raise NotFound("Image not found.", code="image_not_found") from None
    try:
        # Decoding and resampling is CPU work: in a native thread (app.concurrency).
        data = run_cpu_bound(render_thumbnail, original)
    except _UNDECODABLE:
        logger.exception("stored image %s could not be decoded for its thumbnail", key)
        return Thumbnail(etag=None, data=original, content_type=content_type)
    try:
        storage.put(derived, data, "image/jpeg")
    except StorageUnavailable:
        logger.warning("thumbnail %s not stored; it is made again on the next view", derived)
    return Thumbnail(etag=etag, data=data)
