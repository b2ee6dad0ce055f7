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
4. the analysis is stored (``completed``) with its inputs and the AI's responses, and the case
   moves to ``analyzed`` with the headline urgency (red flags × triage × tier). Any AI failure
   stores a ``failed`` analysis with its error code, moves the case to ``analysis_failed`` and
   re-raises: no result is ever returned without its red flags.

The parts live beside this module: :mod:`app.services.ai_pipeline` (the concurrent AI calls),
:mod:`app.services.analysis_records` (storing a run), :mod:`app.services.idempotency`
(``Idempotency-Key``) and :mod:`app.services.clinical_record.reviews` (the review); their
public names are re-exported here for the callers.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import IO, Any

from flask import current_app, g
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.errors import AIServiceError, Conflict, DatabaseUnavailable, StorageUnavailable
from app.extensions import db
from app.models import Analysis, Case, CaseImage
from app.observability import current_request_id
from app.services import anamnesis as anamnesis_rules
from app.services import case_images, cases, consent
from app.services.admission import refuse_if_client_gone
from app.services.ai_client import (
    get_ai_client,
)
from app.services.ai_pipeline import ImageRejected, PendingPipeline, PipelineResult
from app.services.analysis_records import latest_analysis, record_completed, record_failed
from app.services.clinical_record.reviews import ICD10_PATTERN, review_case
from app.services.clinical_terms import BODY_SITES, MAX_PATIENT_AGE, PATIENT_SEXES
from app.services.idempotency import (
    IDEMPOTENCY_WINDOW,
    Attempt,
    Replay,
    canonical_json,
    claim_attempt,
    claim_idempotency_key,
    finish_idempotency_key,
    request_fingerprint,
)
from app.services.transactions import end_transaction

__all__ = [
    "ICD10_PATTERN",
    "IDEMPOTENCY_WINDOW",
    "Attempt",
    "ImageRejected",
    "PendingPipeline",
    "PipelineResult",
    "Replay",
    "analyze_case",
    "canonical_json",
    "claim_attempt",
    "claim_idempotency_key",
    "consent_warnings",
    "diagnose_upload",
    "finish_idempotency_key",
    "latest_analysis",
    "request_fingerprint",
    "review_case",
]

logger = logging.getLogger(__name__)


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
    end_transaction()  # none is held while waiting on the network
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
        # As the database has it now (another request may have archived it meanwhile), locked
        # until this commit; not the copy the session may hold.
        case = db.session.get(Case, case_id, populate_existing=True, with_for_update=True)
        if case is not None and case.status in ("draft", "questionnaire"):
            cases.transition(case, "awaiting_image")
            db.session.commit()
        raise
    except AIServiceError as error:
        logger.warning("analysis of case %s failed: %s", case_id, error.code)
        failed = record_failed(actor=actor, case_id=case_id, image_id=image_id, error=error, **meta)
        # Nothing is lost: tell the client where the answers and the photo are kept, so that a
        # retry (POST /api/cases/<id>/analyze) does not open a second case.
        error.details.update(
            case_id=str(case_id), image_id=str(image_id), analysis_id=str(failed.id)
        )
        raise
    # Read in the transaction that stores the analysis (one transaction, not a second one
    # after it): the warnings shown with the result (see consent_warnings).
    try:
        warnings = consent.state_of(case_id).warnings
        analysis = record_completed(
            actor=actor, case_id=case_id, image_id=image_id, result=result, **meta
        )
    except (OperationalError, InterfaceError, PoolTimeout) as error:
        # The case and the photo were committed before: a plain database_unavailable ("nothing
        # was saved") would send the client to open a second case. Name the kept ones instead.
        with suppress(Exception):  # the connection is gone; make the session usable again
            db.session.rollback()
        logger.warning("analysis of case %s not stored: database unavailable (%s)", case_id, error)
        raise DatabaseUnavailable(
            "The service is unavailable: the analysis was not stored. The answers and the photo"
            " are kept in the case named in details.case_id: analyse it again with"
            " POST /api/cases/<case_id>/analyze in a moment.",
            details={"case_id": str(case_id), "image_id": str(image_id)},
        ) from error
    g.setdefault(_WARNINGS_KEY, {})[analysis.id] = warnings
    return analysis


#: ``flask.g`` key of ``{analysis id: consent warnings}`` read when the analysis was stored.
_WARNINGS_KEY = "diagnosis_consent_warnings"


def consent_warnings(analysis: Analysis) -> list[str]:
    """The consent warnings to show with ``analysis``: as read in the transaction that stored
    it (this request), else as the case's consent is now."""
    remembered = g.get(_WARNINGS_KEY, {}).get(analysis.id)
    if remembered is not None:
        return list(remembered)
    return consent.state_of(analysis.case_id).warnings


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
    attempt: Attempt | None = None,
) -> Analysis:
    """``POST /api/diagnosis``: keep the answers and the photo, then analyse them.

    The photo passes the intake first (a bad file is refused before anything is stored). The
    AI pipeline then starts while the image is stored and committed together with the case's
    rows: the anamnesis merged into the case ``case_id`` (owner or admin only), or a new case
    for ``actor`` opened from the anamnesis (these rows alone when the photo could not be
    stored); then the pipeline's results are used. Two transactions write: the case's rows with
    the image's, then the analysis.

    ``attempt`` (an ``Idempotency-Key``'s run) is told what is kept as soon as it is committed
    (the case; then its photo). When it names what an earlier attempt with the same request
    kept, this one continues there: the kept photo is analysed again (the upload, the same
    bytes, is not stored twice), or the photo is stored on the kept case (its answers are
    already there); no case is opened.

    Returns:
        The completed ``Analysis`` (its case is ``analyzed``).

    Raises:
        ValidationFailed: the anamnesis breaks the shape rules (nothing stored).
        PayloadTooLarge, UnsupportedImageType, ImageEmpty, ImageTooLarge, ImageTooSmall,
            ImageCorrupt: the photo is not usable as a file (nothing stored).
        NotFound: ``case_not_found`` (also another physician's case). Conflict: archived case;
            ``consent_required`` under ``CONSENT_POLICY=enforced`` (no case, no AI-analysis
            consent granted, or image storage refused; nothing stored).
        StorageUnavailable: the image could not be stored; the case and answers are kept and
            the error's ``details`` name ``case_id`` (to send the photo again with it).
        ImageRejected: 422, the AI judged the photo unusable (case, answers, image kept).
        AIServiceError: 502/504/422 from the AI; a failed analysis is stored and the error's
            ``details`` name ``case_id``, ``image_id`` and ``analysis_id`` (to retry with
            ``analyze_case`` instead of opening another case).
    """
    attempt = attempt or Attempt()
    if attempt.case_id is not None and attempt.image_id is not None:
        return analyze_case(
            actor=actor,
            case_id=attempt.case_id,
            image_id=attempt.image_id,
            accept_low_quality=accept_low_quality,
            attempt=attempt,
        )
    answers = anamnesis_rules.validate_anamnesis(dict(anamnesis))
    if attempt.case_id is not None:  # kept with these answers by the attempt that failed
        case_id, answers = attempt.case_id, {}
    sent: dict[str, Any] = answers
    if case_id is None:
        consent.refuse_without_case()
    else:
        case = cases.require_case(actor=actor, case_id=case_id, for_edit=True)
        consent.require_for_photo(case_id)
        # The compute step of the merge: what the AI is sent. It is written after the upload,
        # with the image's row, by merge_answers (which locks the case and merges into the
        # anamnesis as it is then, so answers saved meanwhile are kept; the analysis records
        # what was sent).
        sent = cases.merged_anamnesis(case, answers) if answers else dict(case.anamnesis or {})
        end_transaction()  # none is held during the intake
    with case_images.intake(upload) as processed:
        # The intake took a while (native threads, shared with the worker's other diagnoses):
        # a client that has gone by now gets nothing stored and no AI call (admission.py).
        refuse_if_client_gone()
        data, content_type = processed.read_bytes(), processed.content_type
        start = {
            "image": data,
            "content_type": content_type,
            "accept_low_quality": accept_low_quality,
        }
        # The AI starts on the anamnesis it is to see and works while the rows are stored: the
        # photo first, then the case's rows (a new case, or the answers merged into this one)
        # and the image's row in one transaction (the case's rows alone when the photo could
        # not be stored, see case_images.store_image).
        pipeline = _start(anamnesis=sent, **start)
        case_rows: Callable[[], object] | None = None
        if case_id is None:
            fields = _case_fields_from_anamnesis(answers)
            fields.setdefault("patient_reference", f"API-{uuid.uuid4().hex[:8].upper()}")
            case_id = uuid.uuid4()
            case_rows = functools.partial(
                cases.create_case,
                actor=actor,
                anamnesis=answers,
                case_id=case_id,
                commit=False,
                **fields,
            )
        elif answers:
            case_rows = functools.partial(
                cases.merge_answers, actor=actor, case_id=case_id, answers=answers, commit=False
            )
        try:
            # A local of this function until _analyze has stored the analysis: the session
            # still holds the row then, so storing the analysis needs no query for it.
            image = case_images.store_image(
                actor=actor, case_id=case_id, processed=processed, case_rows=case_rows
            )
            image_id = image.id
        except StorageUnavailable as error:
            attempt.keep(case_id)  # committed alone (case_rows) or given
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
    attempt.keep(case_id, image_id)
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
    attempt: Attempt | None = None,
) -> Analysis:
    """Run (or re-run) the pipeline on a stored image (newest by default) with the anamnesis.

    ``attempt`` (an ``Idempotency-Key``'s run) is told the image chosen, so that a retry after
    a failure analyses the same one; when it names one, that one is analysed.

    Raises:
        NotFound: ``case_not_found``, ``image_not_found``.
        Conflict: ``case_archived``; ``case_has_no_image`` when nothing was uploaded yet;
            ``consent_required`` under ``CONSENT_POLICY=enforced`` without AI-analysis consent
            or with image storage refused (a photo stored before the refusal is not analysed).
        StorageUnavailable, ImageRejected, AIServiceError: as :func:`diagnose_upload`.
    """
    if attempt is not None and attempt.image_id is not None:
        image_id = attempt.image_id
    case = cases.require_case(actor=actor, case_id=case_id, for_edit=True)
    consent.require_for_photo(case.id)  # AI-analysis consent, and image storage not refused
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
    if attempt is not None:
        attempt.keep(case_id, image_id)
    end_transaction()  # none is held while the photo is read from the storage
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
