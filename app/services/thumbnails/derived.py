"""Derived objects of a stored photo (its thumbnails): their keys beside the original, how to
tell one from an original, and their removal with the photo.

A photo stored at ``cases/<case_id>/<image_id>.<ext>`` (:func:`app.services.storage.image_key`)
has its thumbnail at ``cases/<case_id>/<image_id>.thumb<side>.jpg``: under the same prefix, so
it shares the photo's encryption, listing and purge, and named by the rendition, so a change of
:data:`app.services.thumbnails.render.MAX_SIDE` makes new objects instead of serving old ones.
An original's last segment has one dot (a UUID has none); a derived object's has two.
"""

from __future__ import annotations

import re

from app.services.storage import ImageStorage, validate_key
from app.services.thumbnails.render import MAX_SIDE

#: The name of the current thumbnail rendition in keys.
RENDITION = f"thumb{MAX_SIDE}"

_DERIVED_KEY = re.compile(r"(?P<stem>.+/[^/.]+)\.thumb[0-9]+\.jpg")


def stem_of(storage_key: str) -> str:
    """``storage_key`` without its extension: ``cases/<case_id>/<image_id>``."""
    stem, dot, _extension = storage_key.rpartition(".")
    return stem if dot else storage_key


def thumbnail_key(storage_key: str) -> str:
    """The key of the current thumbnail of the photo stored at ``storage_key``.

    Raises:
        InvalidStorageKey: ``storage_key`` is not a valid key.
    """
    return validate_key(f"{stem_of(validate_key(storage_key))}.{RENDITION}.jpg")


def original_stem(key: str) -> str | None:
    """The stem (:func:`stem_of`) of the photo whose derived object ``key`` is, or ``None``
    when ``key`` is not a derived object's (an original, a probe)."""
    match = _DERIVED_KEY.fullmatch(key)
    return match["stem"] if match else None


def delete_derived(storage: ImageStorage, storage_key: str) -> None:
    """Delete every derived object of the photo at ``storage_key`` (every rendition, not only
    the current one); none is not an error.

    Raises:
        StorageUnavailable: the store could not be listed or an object not deleted.
    """
    prefix = f"{stem_of(storage_key)}.thumb"
    for key in list(storage.iter_keys(prefix)):
        if original_stem(key) is not None:
            storage.delete(key)
