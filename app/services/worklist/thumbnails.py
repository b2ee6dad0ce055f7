"""Worklist thumbnails, and what the audit trail says of them.

An auditor asks "who looked at which patient's photo, and when". A worklist of twenty cases
shows twenty small photos at once, without the physician choosing any of them: writing an
``image.view`` for each would make a glance at the queue look like twenty photos opened on
purpose and bury the views that were. So the worklist is audited once, as the list it is
(``worklist.view``, :func:`app.services.worklist.queue.worklist`: the cases and the photos
shown, by id), and the thumbnails it links carry a token that says so:

* a token minted for this user, case and image within :data:`TOKEN_SECONDS` → served with no
  event of its own (the ``worklist.view`` names the image);
* no token, a forged or expired one, or another user's → served as any thumbnail is, audited
  ``image.view`` (:func:`app.services.thumbnails.serve.open_thumbnail`);
* a case the user may not see → ``NotFound``, whatever the token.

What is sent is the photo's thumbnail (:mod:`app.services.thumbnails`), not the photo.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from app.services.thumbnails import serve

#: How long a thumbnail link of a rendered worklist stays covered by its ``worklist.view``
#: (seconds); later (a page left open, lazy loading far down) the fetch is audited itself.
TOKEN_SECONDS = 600
_SALT = "worklist-thumbnail"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_SALT)


def thumbnail_token(*, actor: Any, case_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """The token a worklist puts on its thumbnail link of ``image_id`` for ``actor``."""
    return _serializer().dumps([getattr(actor, "id", None), str(case_id), str(image_id)])


def _covered(actor: Any, case_id: uuid.UUID, image_id: uuid.UUID, token: str | None) -> bool:
    if not token:
        return False
    try:
        signed = _serializer().loads(token, max_age=TOKEN_SECONDS)
    except BadData:
        return False
    return signed == [getattr(actor, "id", None), str(case_id), str(image_id)]


def open_thumbnail(
    *,
    actor: Any,
    case_id: uuid.UUID,
    image_id: uuid.UUID,
    token: str | None,
    is_current: Callable[[str], bool] = lambda etag: False,
) -> serve.Thumbnail:
    """Return a worklist row's thumbnail; audited ``image.view`` unless ``token`` is this
    worklist's (see the module docstring). ``is_current``: as in
    :func:`app.services.thumbnails.serve.open_thumbnail`.

    Raises:
        NotFound: ``case_not_found``, ``image_not_found``. StorageUnavailable: the store failed.
    """
    return serve.open_thumbnail(
        actor=actor,
        case_id=case_id,
        image_id=image_id,
        record_view=not _covered(actor, case_id, image_id, token),
        is_current=is_current,
    )
