"""Open a case exactly once per new-case (or new-visit) form, however often it is submitted.

A double click on "Open case" without JavaScript, a reload of the post, or the back button and
a second submit all send the same form again. The form carries a random key (made when the form
is rendered); the first post with that key opens the case, and every repeat with the same answers
leads to that same case. The key is remembered as an :class:`app.models.IdempotencyRecord` of
the physician (as ``POST /api/diagnosis`` remembers its ``Idempotency-Key``), under a prefix of
its own so that the two never meet.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import Case, IdempotencyRecord
from app.services import cases, diagnosis, questionnaire

#: The prefix of a new-case form's key among the physician's idempotency keys.
KEY_PREFIX = "portal-case-form:"

#: How long a repeat waits for the first post with its key to finish, and how often it looks.
WAIT_SECONDS, POLL_SECONDS = 10.0, 0.1

#: The ``details`` key of the problem "this form already opened another case".
FORM_KEY_FIELD = "form"


class FormAlreadyUsed(ValidationFailed):
    """The form's key already opened a case, with different answers (the form was edited after
    it was submitted); ``case`` is the case it opened."""

    def __init__(self, case: Case) -> None:
        super().__init__(
            {
                FORM_KEY_FIELD: (
                    f"This form already opened case {case.patient_reference}. "
                    "Submit it again to open another case."
                )
            },
            code="form_already_used",
        )
        self.case = case


def open_case_once(*, actor: Any, form_key: str | None, **fields: Any) -> Case:
    """Open a case with ``fields`` (see :func:`app.services.questionnaire.open_case`), or return
    the case this ``form_key`` already opened with the same fields.

    A repeat that arrives while the first post is still running waits for it (up to
    :data:`WAIT_SECONDS`). A post that fails (bad fields) leaves the key free. Without a key
    (a form rendered before keys existed) the case is simply opened.

    Raises:
        ValidationFailed: a field breaks its rule (``details``: field → message).
        FormAlreadyUsed: the key opened a case with other fields.
        Conflict: ``idempotency_in_progress``: the first post did not finish in time.
        PermissionDenied: the actor is inactive.
    """
    return create_once(
        actor=actor,
        key=KEY_PREFIX + form_key if form_key else None,
        fields=fields,
        create=lambda: questionnaire.open_case(actor=actor, **fields),
    )


def create_once(
    *, actor: Any, key: str | None, fields: dict[str, Any], create: Callable[[], Case]
) -> Case:
    """Run ``create`` once per ``key`` (a form's key under its form's prefix) and ``fields``:
    a repeat with the same key and fields returns the case the first one made, waiting for it
    up to :data:`WAIT_SECONDS`; ``create`` failing leaves the key free; ``key`` ``None`` (a
    form without a key) simply creates.

    Raises:
        FormAlreadyUsed: the key made a case with other ``fields``.
        Conflict: ``idempotency_in_progress``: the first post did not finish in time.
        Whatever ``create`` raises.
    """
    if not key:
        return create()
    fingerprint = diagnosis.request_fingerprint(diagnosis.canonical_json(fields))
    replay = _claim(actor, key, fingerprint)
    if replay is not None:
        return cases.require_case(actor=actor, case_id=uuid.UUID(replay.body["case_id"]))
    try:
        case = create()
    except Exception:
        diagnosis.finish_idempotency_key(actor=actor, key=key, status_code=500, body=None)
        raise
    case_id = case.id
    diagnosis.finish_idempotency_key(
        actor=actor, key=key, status_code=201, body={"case_id": str(case_id)}
    )
    return cases.require_case(actor=actor, case_id=case_id)


def _claim(actor: Any, key: str, fingerprint: str) -> diagnosis.Replay | None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            return diagnosis.claim_idempotency_key(actor=actor, key=key, fingerprint=fingerprint)
        except ValidationFailed as reused:
            if reused.code != "idempotency_key_reused":
                raise
            raise FormAlreadyUsed(_case_of(actor, key)) from reused
        except Conflict:
            if time.monotonic() >= deadline:
                raise
            time.sleep(POLL_SECONDS)


def _case_of(actor: Any, key: str) -> Case:
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == actor.id, IdempotencyRecord.key == key
        )
    )
    if record is None or not record.response:  # the first post is still running (or gone)
        raise Conflict(
            "This form is still being processed; please wait a moment.",
            code="idempotency_in_progress",
        )
    return cases.require_case(actor=actor, case_id=uuid.UUID(record.response["case_id"]))
