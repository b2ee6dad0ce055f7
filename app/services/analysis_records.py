"""Analysis records: a completed or failed run of the AI pipeline, stored with what it was
computed from (``inputs``), the AI's responses, the headline urgency, and the case's move.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from app.errors import AppError
from app.extensions import db
from app.models import Analysis, AnalysisStatus, Case, CaseImage
from app.models.base import utcnow
from app.services import audit, cases
from app.services.ai_pipeline import PipelineResult
from app.services.clinical_record import inputs as record_inputs
from app.services.clinical_record.headline import Headline, headline_for_results


def store_analysis(
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
    # The case as it is now (another request may have archived it while the AI worked), not
    # a copy this session still holds, and locked until this commit: an archive arriving
    # between this read and the UPDATE waits for it instead of being overwritten by the move
    # to analyzed. The image's row does not change (a copy is used as is).
    case = db.session.get(Case, case_id, populate_existing=True, with_for_update=True)
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


def clinical_reading(
    result: PipelineResult, *, overridden: bool
) -> tuple[str, dict[str, Any], dict[str, Any], Headline, dict[str, Any]]:
    """What a completed pipeline result says clinically, as stored: ``(tier, red_flags,
    triage, headline, image_validity)``, the three dicts as JSON (aliases, no nulls in the red
    flags).

    ``overridden``: the photo was analysed although the AI judged its quality too low; the
    tier is then never ``confident`` (issue #12: a result from a poor photo is at most
    ``possible``) and the headline says so
    (:func:`app.services.clinical_record.headline.headline_for_results`).
    """
    prediction = result.prediction
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
    return tier, red_flags, triage, headline, result.validity.model_dump(mode="json", by_alias=True)


def record_completed(
    *, actor: Any, case_id: uuid.UUID, image_id: uuid.UUID, result: PipelineResult, **meta: Any
) -> Analysis:
    """Store a completed analysis: the AI's responses as validated (``ai_responses``), the
    differential, red flags, triage and evidence, the tier (never ``confident`` for a photo
    analysed despite low quality) and the headline urgency of
    :func:`app.services.clinical_record.headline.headline_action`."""
    prediction = result.prediction
    overridden = bool(meta.get("accepted_low_quality")) and not result.validity.is_valid
    tier, red_flags, triage, headline, validity = clinical_reading(result, overridden=overridden)
    return store_analysis(
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


def record_failed(
    *, actor: Any, case_id: uuid.UUID, image_id: uuid.UUID, error: AppError, **meta: Any
) -> Analysis:
    return store_analysis(
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


def latest_analysis(case_id: uuid.UUID) -> Analysis | None:
    """Return the newest analysis of a case (completed or failed), or ``None``."""
    return db.session.scalars(
        select(Analysis)
        .where(Analysis.case_id == case_id)
        .order_by(Analysis.created_at.desc())
        .limit(1)
    ).first()
