"""Idempotency of ``POST /api/diagnosis``, ``POST /api/cases/<id>/images``, ``POST
/api/cases/<id>/analyze`` (and the portal's forms): the first answer to a request sent with an
``Idempotency-Key`` is stored and replayed to a repeat.

A key is claimed when its request starts and holds its answer when it ends (2xx and 4xx).
A 5xx frees the key so that a retry runs again, unless the request had already committed a case
(the answers, maybe the photo): then the key remembers that case (``kept_case_id``,
``kept_image_id``) and a retry with the same key and body continues on it (stores the photo
on it, or analyses the kept photo again) instead of opening another case.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import IdempotencyRecord
from app.models.base import utcnow

#: How long an ``Idempotency-Key`` is remembered.
IDEMPOTENCY_WINDOW = timedelta(hours=24)


def request_fingerprint(*parts: bytes | str | None) -> str:
    """Return the sha256 hex of the request's parts (order matters; ``None`` counts as empty)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else (part or b"")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, so equal objects give equal fingerprints."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Replay:
    """The stored first answer to an idempotent request."""

    status_code: int
    body: dict[str, Any]


@dataclass
class Attempt:
    """A request's run under its claimed key: what an earlier attempt with the same key and
    body kept before it failed (``case_id``, and ``image_id`` when its photo was stored), to
    continue on, and then what this run keeps (see :meth:`keep`). Both ``None``: a fresh start.
    """

    case_id: uuid.UUID | None = None
    image_id: uuid.UUID | None = None

    def keep(self, case_id: uuid.UUID, image_id: uuid.UUID | None = None) -> None:
        """Note that ``case_id`` (and the photo ``image_id``) are committed: a failure from
        now on leaves them to a retry with the key instead of freeing it."""
        self.case_id, self.image_id = case_id, image_id


def claim_attempt(*, actor: Any, key: str, fingerprint: str) -> Replay | Attempt:
    """Claim ``key`` for this request, or return the first answer to replay.

    Returns:
        ``Replay``: the stored answer. ``Attempt``: the caller runs the request (the key is now
        claimed); it carries the case (and photo) an earlier failed attempt kept, if any.

    Raises:
        ValidationFailed: ``idempotency_key_reused``: the key came with a different body.
        Conflict: ``idempotency_in_progress``: the first request with this key is still running.
    """
    if not 1 <= len(key) <= 255:
        raise ValidationFailed({"Idempotency-Key": "Use 1 to 255 characters."})
    user_id = actor.id
    for _ in range(2):
        record = db.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
            )
        )
        if record is not None and record.created_at < utcnow() - IDEMPOTENCY_WINDOW:
            db.session.delete(record)
            db.session.commit()
            record = None
        if record is None:
            db.session.add(IdempotencyRecord(user_id=user_id, key=key, fingerprint=fingerprint))
            try:
                db.session.commit()
            except IntegrityError:  # a concurrent request claimed it first: look again
                db.session.rollback()
                continue
            return Attempt()
        if record.fingerprint != fingerprint:
            raise ValidationFailed(
                {"Idempotency-Key": "This key was already used with a different request body."},
                code="idempotency_key_reused",
            )
        if record.status_code is not None:
            return Replay(record.status_code, dict(record.response or {}))
        if record.kept_case_id is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                code="idempotency_in_progress",
            )
        resumed = _take_kept(record)
        if resumed is not None:
            return resumed
    raise Conflict("Could not claim the Idempotency-Key; retry.", code="idempotency_in_progress")


def _take_kept(record: IdempotencyRecord) -> Attempt | None:
    """Claim a record that remembers a kept case (it reads as running again); ``None`` when a
    concurrent retry took it first."""
    attempt = Attempt(record.kept_case_id, record.kept_image_id)
    taken = db.session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record.id,
            IdempotencyRecord.status_code.is_(None),
            IdempotencyRecord.kept_case_id == attempt.case_id,
        )
        .values(kept_case_id=None, kept_image_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return attempt if taken.rowcount == 1 else None


def claim_idempotency_key(*, actor: Any, key: str, fingerprint: str) -> Replay | None:
    """Claim ``key`` for this request, or return the first answer to replay.

    Returns ``None`` when the caller should process the request (the key is now claimed); for
    callers that never keep a case across a failure (see :func:`claim_attempt`).

    Raises:
        ValidationFailed: ``idempotency_key_reused``: the key came with a different body.
        Conflict: ``idempotency_in_progress``: the first request with this key is still running.
    """
    claimed = claim_attempt(actor=actor, key=key, fingerprint=fingerprint)
    return claimed if isinstance(claimed, Replay) else None


def finish_idempotency_key(
    *,
    actor: Any,
    key: str,
    status_code: int,
    body: dict[str, Any] | None,
    kept: Attempt | None = None,
) -> None:
    """Store the answer for ``key`` (2xx/4xx), or, on a 5xx, release the key (a retry may run
    again) unless ``kept`` names a case the request kept: then the key remembers it for the
    retry (see :func:`claim_attempt`)."""
    db.session.rollback()
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == actor.id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return
    if status_code < 500 and body is not None:
        record.status_code, record.response = status_code, body
        record.kept_case_id = record.kept_image_id = None
    elif kept is not None and kept.case_id is not None:
        record.kept_case_id, record.kept_image_id = kept.case_id, kept.image_id
    else:
        db.session.delete(record)
    db.session.commit()
