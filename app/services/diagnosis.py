"""Diagnosis orchestration: image quality, prediction, red flags and triage for a case.

The order keeps what the physician sent safe (../shared/design.md, "The main job", step 5):

1. image quality, prediction and red flags are asked **together** (``AI_SPECULATIVE_DIAGNOSIS``,
   on by default) as soon as the photo has passed the intake and the anamnesis is known. While
   the AI works, the anamnesis is merged into the case (or a case is opened from it) and the
   image is stored and committed; no AI result is used before that commit, and when storing
   fails the calls in flight are abandoned (their results dropped). No transaction is held
   while waiting for the AI;
2. when the image turns out unusable and the physician did not accept a low quality image, the
   prediction and red flags are discarded and ``ImageRejected`` (422) is raised (the case, its
   answers and the image are kept). With speculation off, prediction and red flags start only
   after a usable image;
3. triage runs with the differential and the red flags;
4. the analysis is stored (``completed``) and the case moves to ``analyzed`` with the urgency of
   the red flags. Any AI failure stores a ``failed`` analysis with its error code, moves the case
   to ``analysis_failed`` and re-raises: no result is ever returned without its red flags.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import AIServiceError, AppError, Conflict, StorageUnavailable, ValidationFailed
from app.extensions import db
from app.models import Analysis, AnalysisStatus, Case, CaseImage, IdempotencyRecord
from app.models.base import utcnow
from app.observability import current_request_id
from app.services import anamnesis as anamnesis_rules
from app.services import audit, case_images, cases
from app.services.ai_client import (
    AIClient,
    DiagnosisPrediction,
    ImageValidity,
    RedFlags,
    Triage,
    get_ai_client,
)
from app.services.clinical_record import inputs as record_inputs
from app.services.clinical_record.headline import headline_for_results
from app.services.clinical_record.reviews import ICD10_PATTERN, review_case

__all__ = ["ICD10_PATTERN", "ImageRejected", "analyze_case", "diagnose_upload", "review_case"]
from app.services.clinical_terms import BODY_SITES, MAX_PATIENT_AGE, PATIENT_SEXES

logger = logging.getLogger(__name__)

#: How long an ``Idempotency-Key`` is remembered.
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class ImageRejected(AppError):
    """422: the AI Service judged the photo unusable; ``details`` carries its feedback."""

    status = 422
    code = "image_rejected"
    message = (
        "The photo is not good enough for an analysis. Please take another one "
        "(or accept the low quality explicitly)."
    )


# --- the AI pipeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineResult:
    """Everything the AI returned for one image: all four parts, never fewer."""

    validity: ImageValidity
    prediction: DiagnosisPrediction
    red_flags: RedFlags
    triage: Triage


_executor_lock = threading.Lock()
_executor: tuple[int, ThreadPoolExecutor] | None = None


def _pool() -> ThreadPoolExecutor:
    """The process's pool for concurrent AI calls (made on first use, again after a fork)."""
    global _executor  # noqa: PLW0603 - one pool per process
    current = _executor
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _executor_lock:
        if _executor is None or _executor[0] != os.getpid():
            # Under gevent a pool "thread" is a greenlet waiting on a socket: 256 cost ~1 MB and
            # let ~85 diagnoses per worker run their three concurrent calls without queueing.
            workers = int(current_app.config.get("AI_MAX_PARALLEL_CALLS", 256))
            _executor = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="ai-call"))
        return _executor[1]


def _discard(future: Future[Any]) -> None:
    """Let a speculative call finish in the background; its result or error is dropped."""
    future.add_done_callback(lambda done: done.exception())


class PendingPipeline:
    """The AI pipeline of one image, started: its first round is in flight.

    Constructing it starts image quality on the process's AI pool (with ``speculative``:
    prediction and red flags too; without, they start once the image is known to be usable or
    low quality was accepted). :meth:`result` waits for the first round and asks for triage;
    :meth:`discard` abandons the calls (they finish in the background, results dropped).
    Starting the AI early lets the caller store the case and the image while the AI works.
    """

    def __init__(
        self,
        client: AIClient,
        *,
        anamnesis: Mapping[str, Any],
        image: bytes,
        content_type: str,
        accept_low_quality: bool,
        speculative: bool,
        request_id: str | None,
    ) -> None:
        self._client = client
        self._anamnesis = anamnesis
        self._image = image
        self._content_type = content_type
        self._accept_low_quality = accept_low_quality
        self._request_id = request_id
        self._pool = _pool()
        # One deadline for the whole pipeline (every round of calls), not one per call.
        self._deadline_at = time.monotonic() + client.deadline
        self._quality: Future[ImageValidity] = self._pool.submit(
            client.validate_image,
            image,
            content_type,
            request_id=request_id,
            deadline_at=self._deadline_at,
        )
        self._prediction: Future[DiagnosisPrediction] | None = None
        self._flags: Future[RedFlags] | None = None
        if speculative:
            self._start_prediction_and_flags()

    @property
    def anamnesis(self) -> dict[str, Any]:
        """The anamnesis exactly as sent to the AI (a copy)."""
        return dict(self._anamnesis)

    def _start_prediction_and_flags(self) -> None:
        self._prediction = self._pool.submit(
            self._client.predict,
            self._anamnesis,
            [(self._image, self._content_type)],
            request_id=self._request_id,
            deadline_at=self._deadline_at,
        )
        self._flags = self._pool.submit(
            self._client.red_flags,
            self._anamnesis,
            request_id=self._request_id,
            deadline_at=self._deadline_at,
        )

    def discard(self) -> None:
        """Abandon the calls in flight: they finish in the background; results are dropped."""
        for future in (self._quality, self._prediction, self._flags):
            if future is not None:
                _discard(future)

    def result(self) -> PipelineResult:
        """Wait for quality, prediction and red flags, then ask for triage.

        Raises:
            ImageRejected: the photo is unusable and low quality was not accepted (``details``:
                ``image_validity``); prediction and red flags, if started, are discarded.
            AIServiceError: any call failed (unavailable, timeout, rejected input, bad response).
        """
        try:
            validity = self._quality.result()
            if not validity.is_valid and not self._accept_low_quality:
                raise ImageRejected(
                    details={"image_validity": validity.model_dump(mode="json", by_alias=True)}
                )
            if self._prediction is None or self._flags is None:
                self._start_prediction_and_flags()
            assert self._prediction is not None and self._flags is not None
            predicted = self._prediction.result()
            red_flags = self._flags.result()
        except BaseException:
            self.discard()
            raise
        triage = self._client.triage(
            self._anamnesis,
            predicted.diagnoses,
            red_flags,
            request_id=self._request_id,
            deadline_at=self._deadline_at,
        )
        return PipelineResult(validity, predicted, red_flags, triage)


# --- storing analyses --------------------------------------------------------------------------


def _store_analysis(
    *,
    actor: Any,
    case_id: uuid.UUID,
    image_id: uuid.UUID,
    case_status: str,
    anamnesis_sent: Mapping[str, Any],
    audit_details: dict[str, Any] | None = None,
    **fields: Any,
) -> Analysis:
    """Add an analysis of ``image_id``, move its case to ``case_status`` (with the analysis's
    ``urgency``, when it has one) and audit it, in one commit. ``fields`` are the analysis's own
    columns (status, results, meta); its ``inputs`` are the anamnesis as sent, the case's
    fields and the image (:func:`app.services.clinical_record.inputs.snapshot`)."""
    case = db.session.get(Case, case_id)
    image = db.session.get(CaseImage, image_id) if image_id is not None else None
    analysis = Analysis(
        id=uuid.uuid4(),
        case_id=case_id,
        image_id=image_id,
        requested_by_id=getattr(actor, "id", None),
        completed_at=utcnow(),
        inputs=record_inputs.snapshot(anamnesis=anamnesis_sent, case=case, image=image),
        **fields,
    )
    cases.transition(case, case_status)
    if fields.get("urgency") is not None:
        cases.set_urgency(case, fields["urgency"])
    db.session.add(analysis)
    audit.record(
        actor,
        audit.CASE_ANALYZE,
        case_id=case_id,
        image_id=image_id,
        details={
            "analysis_id": str(analysis.id),
            "status": fields["status"],
            **(audit_details or {}),
        },
    )
    db.session.commit()
    return analysis


def _record_completed(
    *, actor: Any, case_id: uuid.UUID, image_id: uuid.UUID, result: PipelineResult, **meta: Any
) -> Analysis:
    """Store a completed analysis: the AI's responses as validated (``ai_responses``), the
    differential, red flags, triage and evidence, the tier (never ``confident`` for a photo
    analysed despite low quality) and the headline urgency of
    :func:`app.services.clinical_record.headline.headline_action`."""
    prediction = result.prediction
    overridden = bool(meta.get("accepted_low_quality")) and not result.validity.is_valid
    tier = "possible" if overridden and prediction.tier == "confident" else prediction.tier
    red_flags = result.red_flags.model_dump(mode="json", by_alias=True, exclude_none=True)
    triage = result.triage.model_dump(mode="json", by_alias=True)
    headline = headline_for_results(
        red_flags=red_flags,
        triage=triage,
        tier=tier,
        refer_to_specialist=prediction.refer_to_specialist,
        low_quality_override=overridden,
    )
    validity = result.validity.model_dump(mode="json", by_alias=True)
    return _store_analysis(
        actor=actor,
        case_id=case_id,
        image_id=image_id,
        case_status="analyzed",
        status=AnalysisStatus.COMPLETED,
        model_version=prediction.metadata.model_version,
        image_validity=validity,
        predictions=[d.model_dump(mode="json", exclude_none=True) for d in prediction.diagnoses],
        tier=tier,
        confidence=prediction.confidence,
        refer_to_specialist=prediction.refer_to_specialist,
        highlight_count=prediction.highlight_count,
        red_flags=red_flags,
        urgency=headline.urgency,
        triage=triage,
        evidence=(
            prediction.evidence.model_dump(mode="json", exclude_none=True)
            if prediction.evidence is not None
            else None
        ),
        ai_responses={
            "image_validity": validity,
            "prediction": prediction.model_dump(mode="json", exclude_none=True),
            "red_flags": red_flags,
            "triage": triage,
            "model_version": prediction.metadata.model_version,
            "reconstructed": False,
        },
        **meta,
    )


def _record_failed(
    *, actor: Any, case_id: uuid.UUID, image_id: uuid.UUID, error: AppError, **meta: Any
) -> Analysis:
    return _store_analysis(
        actor=actor,
        case_id=case_id,
        image_id=image_id,
        case_status="analysis_failed",
        audit_details={"error": error.code},
        status=AnalysisStatus.FAILED,
        error_code=error.code,
        error_message=error.message,
        **meta,
    )


def _start(
    *, anamnesis: Mapping[str, Any], image: bytes, content_type: str, accept_low_quality: bool
) -> PendingPipeline:
    """Start the AI pipeline for this request (its request id, the app's speculation setting)."""
    return PendingPipeline(
        get_ai_client(),
        anamnesis=anamnesis,
        image=image,
        content_type=content_type,
        accept_low_quality=accept_low_quality,
        speculative=current_app.config["AI_SPECULATIVE_DIAGNOSIS"],
        request_id=current_request_id(),
    )


def _analyze(
    *,
    actor: Any,
    case_id: uuid.UUID,
    image_id: uuid.UUID,
    pipeline: PendingPipeline,
    accept_low_quality: bool,
) -> Analysis:
    """Wait for a started pipeline (no transaction held) and record its outcome.

    See the module docstring for what is stored on success, rejection and failure.
    """
    if db.session().in_transaction():
        db.session.rollback()  # end any read transaction before waiting on the network
    meta = {
        "request_id": current_request_id(),
        "accepted_low_quality": accept_low_quality,
        "anamnesis_sent": pipeline.anamnesis,
    }
    try:
        result = pipeline.result()
    except ImageRejected as rejected:
        # Tell the client where the answers and the photo are kept, to send another photo.
        rejected.details.update(case_id=str(case_id), image_id=str(image_id))
        case = db.session.get(Case, case_id)
        if case is not None and case.status in ("draft", "questionnaire"):
            cases.transition(case, "awaiting_image")
            db.session.commit()
        raise
    except AIServiceError as error:
        logger.warning("analysis of case %s failed: %s", case_id, error.code)
        failed = _record_failed(
            actor=actor, case_id=case_id, image_id=image_id, error=error, **meta
        )
        # Nothing is lost: tell the client where the answers and the photo are kept, so that a
        # retry (POST /api/cases/<id>/analyze) does not open a second case.
        error.details.update(
            case_id=str(case_id), image_id=str(image_id), analysis_id=str(failed.id)
        )
        raise
    return _record_completed(actor=actor, case_id=case_id, image_id=image_id, result=result, **meta)


# --- use cases ---------------------------------------------------------------------------------


def _case_fields_from_anamnesis(anamnesis: Mapping[str, Any]) -> dict[str, Any]:
    """Patient facts for a case opened by ``POST /api/diagnosis`` without ``case_id``.

    Read from the contract's example keys (``age``, ``sex``, ``location1.primary``) when they
    hold usable values; otherwise age unknown, sex ``unknown``, body site ``other``.
    """
    age = anamnesis.get("age", anamnesis.get("patient_age"))
    sex = anamnesis.get("sex")
    site = str(anamnesis.get("location1.primary", "")).strip().lower().replace(" ", "_")
    reference = anamnesis.get("patient_reference")
    fields: dict[str, Any] = {
        "patient_age": age
        if isinstance(age, int) and not isinstance(age, bool) and 0 <= age <= MAX_PATIENT_AGE
        else None,
        "patient_sex": sex if sex in PATIENT_SEXES else "unknown",
        "body_site": site if site in BODY_SITES else "other",
        "chief_complaint": "Not recorded: case opened by an API diagnosis request.",
    }
    if isinstance(reference, str) and cases.patient_reference_problem(reference.strip()) is None:
        fields["patient_reference"] = reference.strip()
    return fields


def diagnose_upload(
    *,
    actor: Any,
    upload: IO[bytes],
    anamnesis: Mapping[str, Any],
    case_id: uuid.UUID | None = None,
    accept_low_quality: bool = False,
) -> Analysis:
    """``POST /api/diagnosis``: keep the answers and the photo, then analyse them.

    The photo passes the intake first (a bad file is refused before anything is stored). Then
    the anamnesis is merged into the case ``case_id`` (owner or admin only), or a new case is
    opened for ``actor`` from it; the image is stored and committed; then the AI pipeline runs.

    Returns:
        The completed ``Analysis`` (its case is ``analyzed``).

    Raises:
        ValidationFailed: the anamnesis breaks the shape rules (nothing stored).
        PayloadTooLarge, UnsupportedImageType, ImageEmpty, ImageTooLarge, ImageTooSmall,
            ImageCorrupt: the photo is not usable as a file (nothing stored).
        NotFound: ``case_not_found`` (also another physician's case). Conflict: archived case.
        StorageUnavailable: the image could not be stored; the case and answers are kept and
            the error's ``details`` name ``case_id`` (to send the photo again with it).
        ImageRejected: 422, the AI judged the photo unusable (case, answers, image kept).
        AIServiceError: 502/504/422 from the AI; a failed analysis is stored and the error's
            ``details`` name ``case_id``, ``image_id`` and ``analysis_id`` (to retry with
            ``analyze_case`` instead of opening another case).
    """
    answers = anamnesis_rules.validate_anamnesis(dict(anamnesis))
    if case_id is not None:
        cases.require_case(actor=actor, case_id=case_id, for_edit=True)
        db.session.rollback()
    with case_images.intake(upload) as processed:
        data, content_type = processed.read_bytes(), processed.content_type
        start = {
            "image": data,
            "content_type": content_type,
            "accept_low_quality": accept_low_quality,
        }
        if case_id is None:
            # The AI starts on the answers as sent (they become the new case's anamnesis) and
            # works while the case and the image are stored.
            pipeline = _start(anamnesis=answers, **start)
            try:
                fields = _case_fields_from_anamnesis(answers)
                fields.setdefault("patient_reference", f"API-{uuid.uuid4().hex[:8].upper()}")
                case_id = cases.create_case(actor=actor, anamnesis=answers, **fields).id
            except BaseException:
                pipeline.discard()
                raise
        else:
            case = (
                cases.merge_answers(actor=actor, case_id=case_id, answers=answers)
                if answers
                else cases.require_case(actor=actor, case_id=case_id)
            )
            pipeline = _start(anamnesis=dict(case.anamnesis or {}), **start)
        try:
            image_id = case_images.store_image(actor=actor, case_id=case_id, processed=processed).id
        except StorageUnavailable as error:
            pipeline.discard()
            # The answers are kept: name their case, so that a retry sends the photo to it.
            error.message = (
                "Image storage is unavailable; the photo was not stored. The answers are kept "
                "in the case named in details.case_id: send the photo again with that case_id."
            )
            error.details.update(case_id=str(case_id))
            raise
        except BaseException:
            pipeline.discard()
            raise
    return _analyze(
        actor=actor,
        case_id=case_id,
        image_id=image_id,
        pipeline=pipeline,
        accept_low_quality=accept_low_quality,
    )


def analyze_case(
    *,
    actor: Any,
    case_id: uuid.UUID,
    image_id: uuid.UUID | None = None,
    accept_low_quality: bool = False,
) -> Analysis:
    """Run (or re-run) the pipeline on a stored image (newest by default) with the anamnesis.

    Raises:
        NotFound: ``case_not_found``, ``image_not_found``.
        Conflict: ``case_archived``; ``case_has_no_image`` when nothing was uploaded yet.
        StorageUnavailable, ImageRejected, AIServiceError: as :func:`diagnose_upload`.
    """
    case = cases.require_case(actor=actor, case_id=case_id, for_edit=True)
    stmt = select(CaseImage).where(CaseImage.case_id == case_id)
    if image_id is not None:
        stmt = stmt.where(CaseImage.id == image_id)
    image = db.session.scalars(stmt.order_by(CaseImage.created_at.desc()).limit(1)).first()
    if image is None:
        if image_id is not None:
            raise case_images._image_not_found()
        raise Conflict(
            "This case has no image yet; upload a photo of the lesion first.",
            code="case_has_no_image",
        )
    anamnesis = dict(case.anamnesis or {})
    image_id, content_type = image.id, image.content_type
    data = case_images.read_image_bytes(image)
    pipeline = _start(
        anamnesis=anamnesis,
        image=data,
        content_type=content_type,
        accept_low_quality=accept_low_quality,
    )
    return _analyze(
        actor=actor,
        case_id=case_id,
        image_id=image_id,
        pipeline=pipeline,
        accept_low_quality=accept_low_quality,
    )


def latest_analysis(case_id: uuid.UUID) -> Analysis | None:
    """Return the newest analysis of a case (completed or failed), or ``None``."""
    return db.session.scalars(
        select(Analysis)
        .where(Analysis.case_id == case_id)
        .order_by(Analysis.created_at.desc())
        .limit(1)
    ).first()


# --- idempotency -------------------------------------------------------------------------------


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
