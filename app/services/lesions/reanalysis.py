"""The model changed, or the lesion did? An earlier visit's photo analysed again by the model
the AI Service serves now, stored apart and append-only (issue #17, point 3).

The earlier visit's own analysis is never touched: the re-analysis is a new
:class:`app.models.Reanalysis` row on that case, sent the same anamnesis as the original
(its ``inputs``) and the same photo, so that only the model differs. The comparison then
shows both changes: visit to visit as analysed then, and with the same model.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.errors import Conflict
from app.extensions import db
from app.models import Analysis, CaseImage, Reanalysis
from app.observability import current_request_id
from app.services import audit, case_images, consent
from app.services.ai_client import get_ai_client
from app.services.ai_pipeline import PendingPipeline, PipelineResult
from app.services.analysis_records import clinical_reading
from app.services.lesions import access, compare, timeline
from app.services.lesions.shapes import Comparison


def _analysed_pair(earlier_id: uuid.UUID, later_id: uuid.UUID) -> tuple[Analysis, Analysis]:
    """The two visits' newest completed analyses, which must exist and differ in model.

    Raises:
        Conflict: ``visit_not_analysed`` (a visit has no completed analysis), ``same_model``
            (both were analysed by the same model: nothing to re-do), ``visit_has_no_photo``.
    """
    analyses = timeline.latest_completed([earlier_id, later_id])
    missing = [
        name for name, key in (("from", earlier_id), ("to", later_id)) if key not in analyses
    ]
    if missing:
        raise Conflict(
            "Both visits need a completed analysis before they can be compared by one model.",
            code="visit_not_analysed",
            details={"visits": missing},
        )
    earlier, later = analyses[earlier_id], analyses[later_id]
    if earlier.model_version == later.model_version:
        raise Conflict(
            f"Both visits were analysed by the same model ({later.model_version}).",
            code="same_model",
            details={"model_version": later.model_version},
        )
    if earlier.image_id is None or db.session.get(CaseImage, earlier.image_id) is None:
        raise Conflict("The earlier visit's photo is no longer stored.", code="visit_has_no_photo")
    return earlier, later


def _record(
    *, actor: Any, original: Analysis, image: CaseImage, anamnesis: dict, result: PipelineResult
) -> Reanalysis:
    """Store the re-analysis (tier and headline as :mod:`app.services.analysis_records`
    derives them) with its audit event, in one commit."""
    prediction = result.prediction
    overridden = not result.validity.is_valid
    tier, red_flags, triage, headline, validity = clinical_reading(result, overridden=overridden)
    row = Reanalysis(
        id=uuid.uuid4(),
        case_id=original.case_id,
        image_id=image.id,
        original_analysis_id=original.id,
        requested_by_id=getattr(actor, "id", None),
        request_id=current_request_id(),
        model_version=prediction.metadata.model_version,
        predictions=[d.model_dump(mode="json", exclude_none=True) for d in prediction.diagnoses],
        tier=tier,
        confidence=prediction.confidence,
        refer_to_specialist=prediction.refer_to_specialist,
        accepted_low_quality=True,
        image_validity=validity,
        red_flags=red_flags,
        urgency=headline.urgency,
        triage=triage,
        inputs={
            "anamnesis": anamnesis,
            "image": {"id": str(image.id), "sha256": image.sha256},
            "original_model_version": original.model_version,
        },
        ai_responses={
            "image_validity": validity,
            "prediction": prediction.model_dump(mode="json", exclude_none=True),
            "red_flags": red_flags,
            "triage": triage,
            "model_version": prediction.metadata.model_version,
        },
    )
    db.session.add(row)
    audit.record(
        actor,
        access.LESION_REANALYSE,
        case_id=original.case_id,
        image_id=image.id,
        details={
            "reanalysis_id": str(row.id),
            "original_analysis_id": str(original.id),
            "model_version": row.model_version,
            "original_model_version": original.model_version,
        },
    )
    db.session.commit()
    return row


def reanalyse_earlier(
    *, actor: Any, lesion_id: uuid.UUID, from_case_id: Any, to_case_id: Any
) -> Comparison:
    """Analyse the ``from`` visit's photo again with the model the AI Service serves now (the
    anamnesis sent is the original analysis's), store it as a :class:`Reanalysis` of that
    visit, and return the comparison with its ``same_model_delta``. Owner or admin; audited
    (``lesion.reanalyse``). The photo is analysed even if the AI now judges it of low quality
    (it was the visit's photo; the tier is then never ``confident``, as for any such photo).

    Raises:
        NotFound: ``lesion_not_found``.
        ValidationFailed: see :func:`app.services.lesions.compare.visit_pair`.
        Conflict: see :func:`_analysed_pair`; ``consent_required`` (``CONSENT_POLICY=
            enforced`` and the earlier visit's AI-analysis consent is not granted or its image
            storage was refused);
            ``model_not_current`` when the AI Service now
            serves another model than the later visit's (the re-analysis is kept; analyse the
            later visit again too).
        StorageUnavailable: the photo could not be read. AIServiceError: the AI failed
            (nothing is stored).
    """
    lesion = access.require_lesion(actor=actor, lesion_id=lesion_id)
    earlier, later = compare.visit_pair(lesion, from_case_id, to_case_id)
    # The earlier visit's photo and answers go to the AI: its AI-analysis consent, and its
    # image storage not refused.
    consent.require_for_photo(earlier.id)
    original, newer = _analysed_pair(earlier.id, later.id)
    image = db.session.get(CaseImage, original.image_id)
    anamnesis = dict((original.inputs or {}).get("anamnesis") or earlier.anamnesis or {})
    data = case_images.read_image_bytes(image)
    db.session.rollback()  # hold no transaction while the AI works
    pipeline = PendingPipeline(
        get_ai_client(),
        anamnesis=anamnesis,
        image=data,
        content_type=image.content_type,
        accept_low_quality=True,
        speculative=True,
        request_id=current_request_id(),
    )
    result = pipeline.result()
    original = db.session.get(Analysis, original.id)
    image = db.session.get(CaseImage, image.id)
    row = _record(actor=actor, original=original, image=image, anamnesis=anamnesis, result=result)
    if row.model_version != newer.model_version:
        raise Conflict(
            f"The AI Service now serves model {row.model_version}, not the later visit's "
            f"{newer.model_version}: analyse the later visit again to compare them.",
            code="model_not_current",
            details={"reanalysis_id": str(row.id), "model_version": row.model_version},
        )
    lesion = access.require_lesion(actor=actor, lesion_id=lesion_id)
    earlier, later = compare.visit_pair(lesion, earlier.id, later.id)
    return compare.comparison(lesion, earlier, later)
