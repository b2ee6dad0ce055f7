"""Every visit of a lesion: date, photo, headline action, top and final diagnosis."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from app.extensions import db
from app.models import Analysis, Case, CaseImage
from app.services.clinical_record.headline import headline_of
from app.services.lesions.shapes import Diagnosis, TimelineEntry


def latest_completed(case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Analysis]:
    """``{case id: its newest completed analysis}`` (cases without one are left out)."""
    if not case_ids:
        return {}
    rows = db.session.scalars(
        select(Analysis)
        .where(Analysis.case_id.in_(list(case_ids)), Analysis.status == "completed")
        .order_by(Analysis.case_id, Analysis.created_at.desc(), Analysis.id.desc())
    )
    latest: dict[uuid.UUID, Analysis] = {}
    for analysis in rows:
        latest.setdefault(analysis.case_id, analysis)
    return latest


def visit_photos(
    case_ids: Sequence[uuid.UUID], analyses: dict[uuid.UUID, Analysis]
) -> dict[uuid.UUID, CaseImage]:
    """``{case id: the visit's photo}``: the photo its newest completed analysis was computed
    from, else its newest photo (cases without a photo are left out)."""
    if not case_ids:
        return {}
    rows = db.session.scalars(
        select(CaseImage)
        .where(CaseImage.case_id.in_(list(case_ids)))
        .order_by(CaseImage.case_id, CaseImage.created_at.desc(), CaseImage.id.desc())
    )
    by_id: dict[uuid.UUID, CaseImage] = {}
    photos: dict[uuid.UUID, CaseImage] = {}
    for image in rows:
        by_id[image.id] = image
        photos.setdefault(image.case_id, image)
    for case_id, analysis in analyses.items():
        if analysis.image_id in by_id:
            photos[case_id] = by_id[analysis.image_id]
    return photos


def top_diagnosis(predictions: list | None) -> Diagnosis | None:
    """The first (most probable) entry of a stored differential, or ``None``."""
    if not predictions:
        return None
    top = predictions[0]
    return Diagnosis(
        disease=str(top.get("disease", "")),
        probability=top.get("probability"),
        icd10=top.get("icd10"),
    )


def entry(
    number: int, case: Case, analysis: Analysis | None, image: CaseImage | None
) -> TimelineEntry:
    """The timeline entry of one visit (``number`` 1 = the first)."""
    headline = headline_of(analysis)
    final = (
        Diagnosis(disease=case.final_diagnosis, probability=None, icd10=case.final_icd10)
        if case.final_diagnosis
        else None
    )
    return TimelineEntry(
        visit_number=number,
        case_id=case.id,
        date=case.created_at,
        status=case.status,
        patient_age=case.patient_age,
        image_id=image.id if image else None,
        image_width=image.width if image else None,
        image_height=image.height if image else None,
        analysis_id=analysis.id if analysis else None,
        analysed_at=analysis.created_at if analysis else None,
        model_version=analysis.model_version if analysis else None,
        tier=analysis.tier if analysis else None,
        urgency=headline.urgency if headline else None,
        action=headline.action if headline else None,
        action_text=headline.action_text if headline else None,
        top_diagnosis=top_diagnosis(analysis.predictions) if analysis else None,
        final_diagnosis=final,
        reviewed_at=case.reviewed_at if final else None,
    )


def timeline(visits: Sequence[Case]) -> list[TimelineEntry]:
    """The timeline of a lesion's visits (``visits`` oldest first, see
    :func:`app.services.lesions.access.visits_of`); two queries whatever the count."""
    ids = [case.id for case in visits]
    analyses = latest_completed(ids)
    images = visit_photos(ids, analyses)
    return [
        entry(number, case, analyses.get(case.id), images.get(case.id))
        for number, case in enumerate(visits, start=1)
    ]
