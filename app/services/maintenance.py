"""Storage maintenance: find and purge orphans between the image store and ``case_images``.

Two kinds of orphan:

* an **object without a row**: a stored object under ``cases/`` that no ``case_images`` row
  names (left behind when the row write after an upload failed and the clean-up failed too),
  or a thumbnail (:mod:`app.services.thumbnails.derived`) of a photo no row names any more (a
  deletion that failed half-way, or a thumbnail made while its photo was deleted);
* a **row without an object**: a ``case_images`` row whose object is missing (deleted by hand,
  lost by a bucket policy): the image can never be shown or analysed again.

An upload stores its object *before* it writes the row (../shared/style.md, habit 4), so an
object without a row may just be an upload in progress: objects younger than ``min_age`` (one
hour by default) are reported as *recent* and never deleted. A row is written only after its
object, so a row without an object is never a transient state.

No transaction is held while the store is listed or asked: keys are checked against the
database in batches, rows are read in keyset-paginated batches. Memory grows with the batch
size and the number of orphans found (normally none), not with the number of images.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.models import CaseImage
from app.models.base import utcnow
from app.services import audit
from app.services.case_images import get_storage
from app.services.storage import CASES_PREFIX, ImageStorage
from app.services.thumbnails import derived

logger = logging.getLogger(__name__)

#: Objects without a row younger than this may be uploads in progress: never deleted.
ORPHAN_MIN_AGE = timedelta(hours=1)
#: Keys checked against the database per query, and rows read per query.
BATCH_SIZE = 1000


@dataclass(frozen=True)
class OrphanObject:
    """A stored object no image row names: its ``key`` and when it was last written (UTC)."""

    key: str
    modified_at: datetime


@dataclass(frozen=True)
class OrphanRow:
    """An image row whose object is missing: the image, its case and the key it names."""

    image_id: uuid.UUID
    case_id: uuid.UUID
    storage_key: str


@dataclass
class OrphanReport:
    """What :func:`find_orphans` found and :func:`purge_orphans` deleted.

    ``objects`` and ``rows`` are the orphans (deleted unless it was a dry run); ``recent``
    are objects without a row younger than ``min_age``, left alone; ``deleted`` tells whether
    the orphans were deleted.
    """

    min_age: timedelta
    objects: list[OrphanObject] = field(default_factory=list)
    recent: list[OrphanObject] = field(default_factory=list)
    rows: list[OrphanRow] = field(default_factory=list)
    deleted: bool = False


def _batches(items: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _known_keys(keys: list[str]) -> set[str]:
    """Return which of ``keys`` an image row names, or are derived objects (thumbnails) of a
    photo a row names (short read transaction, then ended)."""
    stems = {key: derived.original_stem(key) for key in keys}
    originals = [key for key, stem in stems.items() if stem is None]
    image_ids = {_ids_from_key(key)[1] for key, stem in stems.items() if stem is not None}
    image_ids.discard(None)
    try:
        known = set(
            db.session.scalars(
                select(CaseImage.storage_key).where(CaseImage.storage_key.in_(originals))
            )
        )
        if image_ids:
            rows = select(CaseImage.storage_key).where(CaseImage.id.in_(image_ids))
            photos = {derived.stem_of(key) for key in db.session.scalars(rows)}
            known |= {key for key, stem in stems.items() if stem is not None and stem in photos}
        return known
    finally:
        db.session.rollback()


def _objects_without_rows(
    storage: ImageStorage, report: OrphanReport, now: datetime, batch_size: int
) -> None:
    for batch in _batches(storage.iter_keys(CASES_PREFIX), batch_size):
        known = _known_keys(batch)
        for key in batch:
            if key in known:
                continue
            try:
                modified = storage.modified_at(key)
            except NotFound:  # deleted since it was listed
                continue
            target = report.recent if now - modified < report.min_age else report.objects
            target.append(OrphanObject(key, modified))


def _rows_without_objects(storage: ImageStorage, report: OrphanReport, batch_size: int) -> None:
    after: uuid.UUID | None = None
    while True:
        stmt = select(CaseImage.id, CaseImage.case_id, CaseImage.storage_key).order_by(CaseImage.id)
        if after is not None:
            stmt = stmt.where(CaseImage.id > after)
        rows = db.session.execute(stmt.limit(batch_size)).all()
        db.session.rollback()  # no transaction held while the store is asked
        if not rows:
            return
        for image_id, case_id, key in rows:
            if not storage.exists(key):
                report.rows.append(OrphanRow(image_id, case_id, key))
        after = rows[-1][0]


def find_orphans(
    *, min_age: timedelta = ORPHAN_MIN_AGE, batch_size: int = BATCH_SIZE
) -> OrphanReport:
    """List objects under ``cases/`` without an image row, and image rows without an object.

    Cost: one listing of the store, one database query per ``batch_size`` keys (two when the
    batch holds thumbnails), one ``HEAD`` per object without a row and one per image row
    (``exists``).

    Raises:
        StorageUnavailable: the store could not be listed or asked.
    """
    storage = get_storage()
    report = OrphanReport(min_age=min_age)
    _objects_without_rows(storage, report, utcnow(), batch_size)
    _rows_without_objects(storage, report, batch_size)
    return report


def _ids_from_key(key: str) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """Return ``(case_id, image_id)`` read from ``cases/<case_id>/<image_id>.<ext>``, or Nones."""
    parts = key.split("/")
    if len(parts) != 3:
        return None, None
    try:
        return uuid.UUID(parts[1]), uuid.UUID(parts[2].partition(".")[0])
    except ValueError:
        return None, None


def _purge_object(storage: ImageStorage, orphan: OrphanObject) -> bool:
    """Delete the object unless a row names it by now; audit the deletion (actor ``None``)."""
    if _known_keys([orphan.key]):
        return False
    storage.delete(orphan.key)
    case_id, image_id = _ids_from_key(orphan.key)
    audit.record(
        None,
        audit.IMAGE_PURGE_OBJECT,
        case_id=case_id,
        image_id=image_id,
        details={"storage_key": orphan.key, "reason": "no image row"},
    )
    db.session.commit()
    return True


def _purge_row(storage: ImageStorage, orphan: OrphanRow) -> bool:
    """Delete the image row if its object is still missing; audit it (actor ``None``)."""
    if storage.exists(orphan.storage_key):
        return False
    image = db.session.get(CaseImage, orphan.image_id)
    if image is not None:
        db.session.delete(image)  # its analyses keep their results; their image_id becomes null
    audit.record(
        None,
        audit.IMAGE_PURGE,
        case_id=orphan.case_id,
        image_id=orphan.image_id,
        details={"storage_key": orphan.storage_key, "reason": "object missing"},
    )
    db.session.commit()
    return True


def purge_orphans(
    *,
    dry_run: bool,
    min_age: timedelta = ORPHAN_MIN_AGE,
    batch_size: int = BATCH_SIZE,
) -> OrphanReport:
    """Find the orphans (:func:`find_orphans`) and, unless ``dry_run``, delete them.

    Each deletion is checked again just before it is made (a row may have been written for an
    object meanwhile) and audited on its own: ``image.purge`` for a row (with its case and
    image ids), ``image.purge_object`` for an object; both with actor ``None``. Objects in
    ``recent`` are never deleted. The report lists only what was (or, in a dry run, would be)
    deleted.

    Raises:
        StorageUnavailable: the store failed; what was deleted before stays deleted (and
            audited), a new run picks up the rest.
    """
    report = find_orphans(min_age=min_age, batch_size=batch_size)
    if dry_run:
        return report
    storage = get_storage()
    report.objects = [orphan for orphan in report.objects if _purge_object(storage, orphan)]
    report.rows = [orphan for orphan in report.rows if _purge_row(storage, orphan)]
    report.deleted = True
    logger.info(
        "purged %d orphan objects and %d orphan image rows", len(report.objects), len(report.rows)
    )
    return report
