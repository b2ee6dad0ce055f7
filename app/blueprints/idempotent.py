"""``Idempotency-Key`` on the JSON API: run a request once per key and body, replay its answer.

Used by ``POST /api/diagnosis``, ``POST /api/cases/<id>/images`` and ``POST
/api/cases/<id>/analyze`` (documented by :class:`app.schemas.IdempotencyHeaders`); the rules
are those of :mod:`app.services.idempotency`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from flask_jwt_extended import current_user

from app.errors import AppError
from app.services.idempotency import (
    Attempt,
    Replay,
    claim_attempt,
    finish_idempotency_key,
)

HEADER = "Idempotency-Key"
#: Set (``true``) on an answer replayed for a repeat.
REPLAYED_HEADER = "Idempotent-Replayed"

Answer = tuple[dict[str, Any], int, dict[str, str]]


def answer_once(
    fingerprint: Callable[[], str], run: Callable[[Attempt], tuple[dict[str, Any], int]]
) -> Answer:
    """Answer the request with ``run`` (its JSON body and status), once per ``Idempotency-Key``.

    Without the header ``run`` simply runs. With it, ``fingerprint()`` (the request's parts,
    see :func:`app.services.idempotency.request_fingerprint`) tells a repeat from another
    request: a repeat gets the stored answer with ``Idempotent-Replayed: true``. ``run`` gets
    the key's :class:`Attempt` (what an earlier failed attempt kept, to continue on; to be told
    what this one keeps). Its 2xx and 4xx (an ``AppError``) answers are stored; a 5xx frees the
    key unless the attempt kept a case.

    Returns:
        ``(body, status, headers)``.

    Raises:
        ValidationFailed: an empty or too long key; ``idempotency_key_reused``.
        Conflict: ``idempotency_in_progress``.
        Whatever ``run`` raises.
    """
    key = request.headers.get(HEADER)
    if key is None:  # an empty key is refused by the claim, not taken for no key
        body, status = run(Attempt())
        return body, status, {}
    claimed = claim_attempt(actor=current_user, key=key, fingerprint=fingerprint())
    if isinstance(claimed, Replay):
        return claimed.body, claimed.status_code, {REPLAYED_HEADER: "true"}
    try:
        body, status = run(claimed)
    except AppError as error:
        body = error.to_dict()
        finish_idempotency_key(
            actor=current_user, key=key, status_code=error.status, body=body, kept=claimed
        )
        raise
    except BaseException:
        finish_idempotency_key(
            actor=current_user, key=key, status_code=500, body=None, kept=claimed
        )
        raise
    finish_idempotency_key(actor=current_user, key=key, status_code=status, body=body)
    return body, status, {}
