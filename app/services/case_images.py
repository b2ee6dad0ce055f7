"""Case images: intake, storage and removal of the lesion photographs of a case.

The order of every operation keeps the database and the object store consistent without ever
holding a database transaction across a network call (../shared/style.md, habit 4):

* **upload**: check access (short read transaction, then ended) → clean the image
  (:func:`app.services.images.process_image`) → store the object under a random key → insert
  the row and the audit event in one transaction. Storage failing → ``StorageUnavailable`` (503)
  and no row. The row write failing → the object is deleted again before the error propagates.
* **delete**: check access → delete the object and its thumbnails (idempotent; failing → 503
  and the row kept) → delete the row and record the audit event. A retry after any failure
  completes the job.
* **view**: check access → presigned URL (S3, signed locally) or an open stream (local folder)
  → record the view.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from flask import current_app

from app.concurrency import run_cpu_bound
from app.errors import NotFound
from app.extensions import db
from app.models import CaseImage
from app.services import audit, consent
from app.services.cases import require_case
from app.services.images import ProcessedImage, process_image
from app.services.storage import ImageStorage, image_key, storage_from_config
from app.services.thumbnails.derived import delete_derived
from app.services.transactions import end_transaction

logger = logging.getLogger(__name__)

_STORAGE_EXTENSION = "image_storage"
_storage_lock = threading.Lock()


def get_storage() -> ImageStorage:
    """Return the app's image storage, built from its config on first use and then reused.

    The adapter is cached in ``current_app.extensions["image_storage"]`` (one per app, so every
    request shares the S3 client and its connection pool). Building it does no I/O.

    Raises:
        ValueError: the storage configuration is invalid (see ``storage_from_config``).
    """
    extensions = current_app.extensions
    storage = extensions.get(_STORAGE_EXTENSION)
    if storage is None:
        with _storage_lock:
            storage = extensions.get(_STORAGE_EXTENSION)
            if storage is None:
                storage = storage_from_config(current_app.config, current_app.instance_path)
                extensions[_STORAGE_EXTENSION] = storage
    return storage


@dataclass(frozen=True)
class ImageDownload:
    """How to deliver an image: a presigned ``url`` (S3) or an open ``stream`` (local folder).

    Exactly one of ``url`` and ``stream`` is set; the caller closes ``stream``.
    """

    image: CaseImage
    content_type: str
    url: str | None = None
    stream: IO[bytes] | None = None


def _image_not_found() -> NotFound:
    return NotFound("Image not found.", code="image_not_found")


def _require_image(
    *, actor: Any, case_id: uuid.UUID, image_id: uuid.UUID, for_edit: bool = False
) -> CaseImage:
    require_case(actor=actor, case_id=case_id, for_edit=for_edit)
    image = db.session.get(CaseImage, image_id)
    if image is None or image.case_id != case_id:
        raise _image_not_found()
    return image


def add_image(*, actor: Any, case_id: uuid.UUID, stream: BinaryIO) -> CaseImage:
    """Clean, store and record an uploaded lesion photograph for a case.

    ``stream`` is read once (in chunks, never more than ``MAX_IMAGE_BYTES`` + 64 KiB); the stored
    object is the cleaned image (upright, no metadata) under ``cases/<case_id>/<image_id>.<ext>``.

    Returns:
        The committed ``CaseImage`` (content type, size in bytes, width/height in pixels, sha256).

    Raises:
        NotFound: ``case_not_found``.
        Conflict: ``case_archived``; ``consent_required`` (``CONSENT_POLICY=enforced``: no
            AI-analysis consent granted, or image storage refused).
        PayloadTooLarge, ImageEmpty, UnsupportedImageType, ImageTooLarge, ImageTooSmall,
            ImageCorrupt: the upload is not a usable photo (see ``images.process_image``).
        StorageUnavailable: the object store failed; nothing was recorded.
        sqlalchemy.exc.SQLAlchemyError: the row could not be written; the object was deleted.
    """
    require_case(actor=actor, case_id=case_id, for_edit=True)
    consent.require_for_photo(case_id)
    end_transaction()  # none is held during intake and upload
    with intake(stream) as processed:
        return store_image(actor=actor, case_id=case_id, processed=processed)


def intake(stream: BinaryIO) -> ProcessedImage:
    """Run the image intake on ``stream`` with the app's limits (the caller closes the result).

    Raises:
        PayloadTooLarge, ImageEmpty, UnsupportedImageType, ImageTooLarge, ImageTooSmall,
            ImageCorrupt: see :func:`app.services.images.process_image`.
    """
    config = current_app.config
    # Decoding, rotating and re-encoding a photo is CPU work: in a native thread, so the worker's
    # other requests go on meanwhile (app.concurrency).
    return run_cpu_bound(
        process_image,
        stream,
        max_bytes=config["MAX_IMAGE_BYTES"],
        max_pixels=config["MAX_IMAGE_PIXELS"],
        min_side=config["MIN_IMAGE_SIDE"],
    )


def store_image(
    *,
    actor: Any,
    case_id: uuid.UUID,
    processed: ProcessedImage,
    case_rows: Callable[[], object] | None = None,
) -> CaseImage:
    """Store an image that passed the intake and record it on the case (one commit).

    The object is written first (no transaction held meanwhile); if the row cannot be written
    the object is deleted again. Before the row is written the case is read with
    ``SELECT ... FOR UPDATE``: a case archived (or gone) while the photo uploaded gets no row,
    and one archived just after waits for this commit.

    ``case_rows`` writes the case's own rows in the image's transaction, instead of that
    check, and checks the case itself: a new case (``cases.create_case(..., commit=False)``)
    or answers merged into this one (``cases.merge_answers(..., commit=False)``, which locks
    the case). They are committed together with the image's row and audit event, in one
    transaction instead of two. When the object store fails, they are committed alone before
    the error propagates, so the answers are kept as when they were committed first.

    Raises:
        NotFound, Conflict: the case is gone, not the actor's, or archived.
        StorageUnavailable: the object store failed; nothing was recorded (but the rows of
            ``case_rows``).
        sqlalchemy.exc.SQLAlchemyError: the row could not be written; the object was deleted.
    """
    end_transaction()  # never hold a transaction across the upload
    storage = get_storage()
    image_id = uuid.uuid4()
    key = image_key(case_id, image_id, processed.extension)
    try:
        storage.put(key, processed.stream(), processed.content_type)
    except Exception:
        if case_rows is not None:  # keep the answers: they are written without the photo
            case_rows()
            db.session.commit()
        raise

    try:
        if case_rows is not None:
            case_rows()  # written in this transaction, with the image
        else:
            # Archived or gone meanwhile? As the database has it now, locked until the commit.
            require_case(actor=actor, case_id=case_id, for_edit=True, lock=True)
        image = CaseImage(
            id=image_id,
            case_id=case_id,
            storage_key=key,
            content_type=processed.content_type,
            size_bytes=processed.size_bytes,
            width=processed.width,
            height=processed.height,
            sha256=processed.sha256,
            uploaded_by_id=getattr(actor, "id", None),
        )
        db.session.add(image)
        audit.record(
            actor,
            audit.IMAGE_UPLOAD,
            case_id=case_id,
            image_id=image_id,
            details={
                "content_type": processed.content_type,
                "size_bytes": processed.size_bytes,
                "width": processed.width,
                "height": processed.height,
                "sha256": processed.sha256,
            },
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _delete_orphan(storage, key)
        raise
    return image


def read_image_bytes(image: CaseImage) -> bytes:
    """Return the stored bytes of ``image`` (for the AI Service).

    Raises:
        NotFound: ``image_not_found`` when the object is missing.
        StorageUnavailable: the object store failed.
    """
    try:
        return get_storage().get(image.storage_key)
    except NotFound:
        raise _image_not_found() from None


def _delete_orphan(storage: ImageStorage, key: str) -> None:
    """Remove an object whose row could not be written; log (never raise) if that fails too."""
    try:
        storage.delete(key)
    except Exception:
        # The orphan purge (listing keys without rows) will find it later.
        logger.exception("could not delete orphaned image object %s", key)
    else:
        logger.warning("deleted image object %s: its database row could not be written", key)


def get_image(*, actor: Any, case_id: uuid.UUID, image_id: uuid.UUID) -> CaseImage:
    """Return an image record of a case the actor may view (no audit: metadata only).

    Raises:
        NotFound: ``case_not_found`` or ``image_not_found``.
    """
    return _require_image(actor=actor, case_id=case_id, image_id=image_id)


def open_image(
    *,
    actor: Any,
    case_id: uuid.UUID,
    image_id: uuid.UUID,
    as_stream: bool = False,
    record_view: bool = True,
) -> ImageDownload:
    """Return how to deliver the image's bytes and record the view (``image.view``; not with
    ``record_view`` false: a worklist thumbnail its ``worklist.view`` already names).

    S3 gives a presigned GET URL (valid ``S3_URL_EXPIRY_SECONDS``); the local folder gives an open
    stream the caller must close. ``as_stream`` asks for a stream from either storage (the portal
    serves the bytes itself, so that its Content-Security-Policy stays at ``'self'``).

    Raises:
        NotFound: ``case_not_found``, ``image_not_found`` (also when the object is missing).
        StorageUnavailable: the object store failed.
    """
    image = _require_image(actor=actor, case_id=case_id, image_id=image_id)
    key, content_type = image.storage_key, image.content_type
    db.session.rollback()  # no transaction held while the storage is asked

    storage = get_storage()
    url = None if as_stream else storage.url(key)
    stream = None
    if url is None:
        try:
            stream = storage.open(key)
        except NotFound:
            raise _image_not_found() from None
    try:
        if record_view:
            audit.record(actor, audit.IMAGE_VIEW, case_id=case_id, image_id=image_id)
            db.session.commit()
    except BaseException:
        if stream is not None:
            stream.close()
        raise
    return ImageDownload(image=image, content_type=content_type, url=url, stream=stream)


def delete_image(*, actor: Any, case_id: uuid.UUID, image_id: uuid.UUID) -> None:
    """Delete the image's object and its thumbnails, then its row, and record the deletion.

    Raises:
        NotFound: ``case_not_found`` or ``image_not_found``.
        Conflict: ``case_archived``.
        StorageUnavailable: the object could not be deleted; nothing changed (retry).
    """
    image = _require_image(actor=actor, case_id=case_id, image_id=image_id, for_edit=True)
    key = image.storage_key
    details = {"storage_key": key, "sha256": image.sha256}
    db.session.rollback()  # no transaction held across the storage call

    storage = get_storage()
    storage.delete(key)
    delete_derived(storage, key)

    image = db.session.get(CaseImage, image_id)
    if image is not None:
        db.session.delete(image)
    audit.record(actor, audit.IMAGE_DELETE, case_id=case_id, image_id=image_id, details=details)
    db.session.commit()
