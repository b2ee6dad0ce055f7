"""Upload a photo, or run an analysis, once per portal form, however often it is submitted.

Without JavaScript nothing stops a second click on "Upload and analyse" or "Analyse": the
browser posts the same form again, and each post used to store another photo or run another
analysis. As the new-case form does (:mod:`app.services.case_intake`), each form carries a
random key made when it is rendered. The first post with that key and that request (the same
case, photo bytes and camera question; or the same case and low-quality choice) does the work;
a repeat does not: it waits for the first to finish (up to the AI deadline and a margin) and
gets its outcome. The key is remembered as an :class:`app.models.IdempotencyRecord` of the
physician, under a prefix of its own and with the request's fingerprint in it, so that the same
(old) form sent with another photo is a new upload, not a repeat.

Outcomes remembered: ``analysed`` (also a failed analysis, which is stored and shown with a
retry) and ``rejected`` (the photo was stored, the AI judged it unusable; a repeat raises the
same :class:`ImageRejected` so that the page shows the same advice). A post that stored nothing
(an unusable file, storage down, a validation problem) frees its key, so that the same form may
be sent again.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from typing import IO, Any

from flask import current_app

from app.errors import AIServiceError, Conflict
from app.services import diagnosis
from app.services.ai_pipeline import ImageRejected

#: The prefix of these keys among the physician's idempotency keys.
KEY_PREFIX = "portal-photo-form:"
#: How often a repeat looks whether the first post finished, seconds.
POLL_SECONDS = 0.2
#: Added to ``AI_SERVICE_DEADLINE`` for how long a repeat waits for the first post, seconds.
WAIT_MARGIN_SECONDS = 15.0


def upload_once(
    *,
    actor: Any,
    case_id: uuid.UUID,
    upload: IO[bytes],
    anamnesis: Mapping[str, Any],
    form_key: str | None,
) -> None:
    """Store the photo of the case and analyse it (:func:`diagnosis.diagnose_upload`), unless
    this form already did so with these same photo bytes. Without a key it simply runs.

    Raises:
        ImageRejected: the AI judged the photo unusable (also on a repeat of such a post).
        AIServiceError: the analysis failed and was stored as failed (first post only).
        Conflict: ``idempotency_in_progress``: the first post did not finish in time.
        Everything :func:`diagnosis.diagnose_upload` raises before it stored anything.
    """
    digest = hashlib.file_digest(upload, "sha256").hexdigest()  # type: ignore[arg-type]
    upload.seek(0)
    fingerprint = diagnosis.request_fingerprint(
        "photo", str(case_id), digest, diagnosis.canonical_json(dict(anamnesis))
    )
    _once(
        actor,
        form_key,
        fingerprint,
        lambda: diagnosis.diagnose_upload(
            actor=actor, upload=upload, anamnesis=anamnesis, case_id=case_id
        ),
    )


def analyze_once(
    *, actor: Any, case_id: uuid.UUID, accept_low_quality: bool, form_key: str | None
) -> None:
    """Analyse the case's stored photo again (:func:`diagnosis.analyze_case`), unless this form
    already did. Without a key it simply runs.

    Raises:
        ImageRejected, AIServiceError, Conflict: as :func:`upload_once`; and everything
        :func:`diagnosis.analyze_case` raises before it stored anything.
    """
    fingerprint = diagnosis.request_fingerprint("analysis", str(case_id), str(accept_low_quality))
    _once(
        actor,
        form_key,
        fingerprint,
        lambda: diagnosis.analyze_case(
            actor=actor, case_id=case_id, accept_low_quality=accept_low_quality
        ),
    )


def _once(actor: Any, form_key: str | None, fingerprint: str, run: Callable[[], Any]) -> None:
    if not form_key:
        run()
        return
    key = f"{KEY_PREFIX}{form_key}:{fingerprint}"
    replay = _claim(actor, key, fingerprint)
    if replay is not None:
        if replay.body.get("outcome") == "rejected":
            raise ImageRejected(details={"image_validity": replay.body.get("image_validity")})
        return
    try:
        run()
    except ImageRejected as rejected:
        body = {"outcome": "rejected", "image_validity": rejected.details.get("image_validity")}
        diagnosis.finish_idempotency_key(actor=actor, key=key, status_code=422, body=body)
        raise
    except AIServiceError:
        body = {"outcome": "analysed"}  # stored as a failed analysis, shown with a retry
        diagnosis.finish_idempotency_key(actor=actor, key=key, status_code=200, body=body)
        raise
    except BaseException:
        diagnosis.finish_idempotency_key(actor=actor, key=key, status_code=500, body=None)
        raise
    diagnosis.finish_idempotency_key(
        actor=actor, key=key, status_code=200, body={"outcome": "analysed"}
    )


def _claim(actor: Any, key: str, fingerprint: str) -> diagnosis.Replay | None:
    deadline = time.monotonic() + current_app.config["AI_SERVICE_DEADLINE"] + WAIT_MARGIN_SECONDS
    while True:
        try:
            return diagnosis.claim_idempotency_key(actor=actor, key=key, fingerprint=fingerprint)
        except Conflict:
            if time.monotonic() >= deadline:
                raise
            time.sleep(POLL_SECONDS)
