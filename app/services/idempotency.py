"""Idempotency of ``POST /api/diagnosis`` (and the portal's case intake): the first answer
to a request sent with an ``Idempotency-Key`` is stored and replayed to a repeat.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
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


def claim_idempotency_key(*, actor: Any, key: str, fingerprint: str) -> Replay | None:
    """Claim ``key`` for this request, or return the first answer to replay.

    Returns ``None`` when the caller should process the request (the key is now claimed).

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
            return None
        if record.fingerprint != fingerprint:
            raise ValidationFailed(
                {"Idempotency-Key": "This key was already used with a different request body."},
                code="idempotency_key_reused",
            )
        if record.status_code is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                code="idempotency_in_progress",
            )
        return Replay(record.status_code, dict(record.response or {}))
    raise Conflict("Could not claim the Idempotency-Key; retry.", code="idempotency_in_progress")


def finish_idempotency_key(
    *, actor: Any, key: str, status_code: int, body: dict[str, Any] | None
) -> None:
    """Store the answer for ``key`` (2xx/4xx), or release the key (5xx: a retry may run again)."""
    db.session.rollback()
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == actor.id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return
    if status_code >= 500 or body is None:
        db.session.delete(record)
    else:
        record.status_code = status_code
        record.response = body
    db.session.commit()
