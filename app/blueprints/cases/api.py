"""JSON API for cases, their questionnaire answers and their images under ``/api/cases``.

Views are thin: parse (spectree + pydantic), call one service, serialise. Access rules, audit
and transactions live in :mod:`app.services.cases` and :mod:`app.services.case_images`.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from flask_jwt_extended import current_user

from app.blueprints.cases.schemas import (
    AnswersIn,
    CaseIn,
    CaseList,
    CaseListQuery,
    CaseOut,
    CaseSummary,
    CaseUpdate,
    ImageOut,
    ImageUpload,
    ReviewHistoryOut,
    ReviewOut,
    UnarchiveIn,
)
from app.blueprints.consent.schemas import ConsentOut
from app.blueprints.diagnosis.schemas import AnalysisOut
from app.blueprints.idempotent import answer_once
from app.blueprints.outcomes.schemas import OutcomeOut
from app.blueprints.uploads import refuse_oversized_upload, require_form
from app.errors import PreconditionFailed, ValidationFailed
from app.models import Analysis, Case, CaseImage, CaseOutcome
from app.openapi import responses, spec
from app.schemas import IdempotencyHeaders
from app.services import case_images, case_record, cases, consent, outcomes, questionnaire
from app.services.clinical_record import archive, history, reviews
from app.services.clinical_record.answers import ordered_keys
from app.services.clinical_record.headline import action_for_urgency
from app.services.idempotency import Attempt, request_fingerprint

bp = Blueprint("cases_api", __name__, url_prefix="/api")

_TAG = "cases"
_IMAGE_TAG = "case images"


# --- serialisation --------------------------------------------------------------------------


def image_out(image: CaseImage) -> ImageOut:
    """Serialise an image record with its gateway URL."""
    return ImageOut(
        id=image.id,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size_bytes=image.size_bytes,
        sha256=image.sha256,
        created_at=image.created_at,
        url=url_for("cases_api.get_image", case_id=image.case_id, image_id=image.id),
    )


def analysis_out(analysis: Analysis, case: Case) -> dict[str, Any]:
    """Serialise an analysis with its inputs, headline action and whether it is outdated."""
    out = AnalysisOut.model_validate(analysis)
    action = action_for_urgency(analysis.urgency) if analysis.status == "completed" else None
    changed = history.changes_since(analysis, case)
    return out.model_copy(
        update={
            "action": action[0] if action else None,
            "action_text": action[1] if action else None,
            "outdated": bool(changed),
            "outdated_fields": changed,
        }
    ).model_dump(mode="json")


def case_out(case: Case) -> CaseOut:
    """Serialise a case with its anamnesis, images, analyses (newest first) and review."""
    review = None
    if case.reviewed_at is not None:
        review = ReviewOut(
            final_diagnosis=case.final_diagnosis,
            final_icd10=case.final_icd10,
            agreement=case.ai_agreement,
            notes=case.review_notes,
            reviewed_at=case.reviewed_at,
            reviewed_by_id=case.reviewed_by_id,
        )
    analyses = [analysis_out(analysis, case) for analysis in history.analyses_of(case.id)]
    latest = analyses[0] if analyses else None
    return CaseOut(
        **CaseSummary.model_validate(case).model_dump(
            exclude={"outdated", "action", "action_text"}
        ),
        anamnesis=case.anamnesis or {},
        answer_order=ordered_keys(case.anamnesis, case.answer_order),
        physician_notes=case.physician_notes,
        images=[image_out(image) for image in case.images],
        latest_analysis=latest,
        analyses=analyses,
        outdated=bool(latest and latest["outdated"]),
        outdated_fields=latest["outdated_fields"] if latest else [],
        review=review,
        reviews=[ReviewHistoryOut.model_validate(item) for item in reviews.review_history(case.id)],
        outcome=_outcome_out(outcomes.outcome_of(case.id)),
        consent=ConsentOut.of(consent.state_of(case.id)),
    )


def _outcome_out(outcome: CaseOutcome | None) -> OutcomeOut | None:
    return OutcomeOut.model_validate(outcome) if outcome is not None else None


def _case_location(case: Case) -> dict[str, str]:
    return {"Location": url_for("cases_api.get_case", case_id=case.id), **_case_etag(case)}


def _case_etag(case: Case) -> dict[str, str]:
    return {"ETag": f'"{cases.etag(case)}"'}


def _if_match() -> Any:
    """The precondition of ``If-Match`` on a case (RFC 9110 §13.1.1), or ``None`` without it:
    the case's current entity tag must be one of those sent (or ``*``)."""
    if "If-Match" not in request.headers:
        return None
    sent = request.if_match

    def check(case: Case) -> None:
        current = cases.etag(case)
        if not sent.contains(current):
            raise PreconditionFailed(details={"etag": f'"{current}"'})

    return check


# --- cases ----------------------------------------------------------------------------------


@bp.get("/cases")
@spec.validate(
    query=CaseListQuery,
    resp=responses((401, 422), HTTP_200=CaseList),
    tags=[_TAG],
)
def list_cases(query: CaseListQuery):  # type: ignore[no-untyped-def]
    """List the caller's cases (all cases for admins), newest first, with filters and pages."""
    page = cases.list_cases(
        actor=current_user,
        status=query.status,
        urgency=query.urgency,
        q=query.q,
        page=query.page,
        per_page=query.per_page,
    )
    outdated = case_record.outdated_cases(page.items)
    return CaseList(
        items=[
            CaseSummary.model_validate(case).model_copy(update={"outdated": case.id in outdated})
            for case in page.items
        ],
        total=page.total,
        page=page.page,
        per_page=page.per_page,
    )


@bp.post("/cases")
@spec.validate(
    json=CaseIn,
    resp=responses((401, 415, 422), HTTP_201=CaseOut),
    tags=[_TAG],
)
def create_case(json: CaseIn):  # type: ignore[no-untyped-def]
    """Open a case for a pseudonymous patient; answers 201 with its ``Location``.

    As the portal's new-case form does, the age, sex and body site given become the first
    answers of the questionnaire (``age``, ``sex``, ``location1.primary``), so the questionnaire
    does not ask them again.
    """
    case = questionnaire.open_case(actor=current_user, **json.model_dump())
    return case_out(case), 201, _case_location(case)


@bp.get("/cases/<uuid:case_id>")
@spec.validate(resp=responses((401, 404), HTTP_200=CaseOut), tags=[_TAG])
def get_case(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Return a case with its anamnesis, images and latest analysis; its ``ETag`` can be sent
    back as ``If-Match`` when answering (``POST /api/cases/<id>/answers``)."""
    case = cases.get_case(actor=current_user, case_id=case_id)
    return case_out(case), 200, _case_etag(case)


@bp.patch("/cases/<uuid:case_id>")
@spec.validate(
    json=CaseUpdate,
    resp=responses((401, 404, 409, 415, 422), HTTP_200=CaseOut),
    tags=[_TAG],
)
def update_case(case_id: uuid.UUID, json: CaseUpdate):  # type: ignore[no-untyped-def]
    """Change editable fields and the physician notes of a case."""
    case = cases.update_case(actor=current_user, case_id=case_id, changes=json.changes())
    return case_out(case)


@bp.delete("/cases/<uuid:case_id>")
@spec.validate(resp=responses((401, 404, 409), HTTP_200=CaseOut), tags=[_TAG])
def archive_case(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Archive a case (it is kept, read-only, and left out of the default list); a reviewed
    (signed) case answers 409 ``case_reviewed``: reopen it with a reason first."""
    return case_out(cases.archive_case(actor=current_user, case_id=case_id))


@bp.post("/cases/<uuid:case_id>/unarchive")
@spec.validate(
    json=UnarchiveIn, resp=responses((401, 404, 409, 415, 422), HTTP_200=CaseOut), tags=[_TAG]
)
def unarchive_case(case_id: uuid.UUID, json: UnarchiveIn):  # type: ignore[no-untyped-def]
    """Restore a case archived by mistake to the status it had, with a reason (audited)."""
    case = archive.unarchive_case(actor=current_user, case_id=case_id, reason=json.reason)
    return case_out(case)


@bp.post("/cases/<uuid:case_id>/answers")
@spec.validate(
    json=AnswersIn,
    resp=responses((401, 404, 409, 412, 415, 422), HTTP_200=CaseOut),
    tags=[_TAG],
)
def merge_answers(case_id: uuid.UUID, json: AnswersIn):  # type: ignore[no-untyped-def]
    """Merge ``{fieldName: answer}`` into the case's anamnesis.

    Optimistic concurrency: send ``If-Match`` with the case's ``ETag`` (from ``GET`` or an
    earlier answer) and the answers are refused with 412 ``precondition_failed`` when the
    case changed meanwhile (another client answered); without ``If-Match`` the answers merge.
    """
    case = cases.merge_answers(
        actor=current_user, case_id=case_id, answers=json.root, precondition=_if_match()
    )
    return case_out(case), 200, _case_etag(case)


# --- images ---------------------------------------------------------------------------------


@bp.url_value_preprocessor
def _limit_upload_size(endpoint: str | None, _values: dict | None) -> None:
    """Refuse an oversized image upload before its body is read (413 in the error shape); a
    URL value preprocessor runs before every before_request function (some read the form)."""
    if endpoint != "cases_api.upload_image":
        return
    refuse_oversized_upload()


@bp.post("/cases/<uuid:case_id>/images")
@spec.validate(
    form=ImageUpload,
    headers=IdempotencyHeaders,
    resp=responses((401, 404, 409, 413, 415, 422, 503), HTTP_201=ImageOut),
    tags=[_IMAGE_TAG],
)
def upload_image(case_id: uuid.UUID, form: ImageUpload):  # type: ignore[no-untyped-def]
    """Upload a lesion photograph (multipart field ``image``); answers 201 with the record.

    Send ``Idempotency-Key`` to make a retry safe: the same key and photo within 24 hours
    replays the first answer (the same image) instead of storing a second photo.
    """
    require_form(form)
    upload = request.files.get("image")
    if upload is None:
        raise ValidationFailed({"image": "Attach the photo as a file in the form field 'image'."})

    def fingerprint() -> str:
        digest = hashlib.file_digest(upload.stream, "sha256").hexdigest()  # type: ignore[arg-type]
        upload.stream.seek(0)
        return request_fingerprint("case-image", str(case_id), digest)

    def run(_attempt: Attempt) -> tuple[dict[str, Any], int]:
        image = case_images.add_image(actor=current_user, case_id=case_id, stream=upload.stream)
        return image_out(image).model_dump(mode="json"), 201

    body, status, headers = answer_once(fingerprint, run)
    if status == 201:
        headers["Location"] = body["url"]
    return body, status, headers


@bp.get("/cases/<uuid:case_id>/images/<uuid:image_id>")
@spec.validate(
    resp=responses((401, 404, 503), HTTP_200=None, HTTP_302=None),
    tags=[_IMAGE_TAG],
)
def get_image(case_id: uuid.UUID, image_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Deliver an image: 302 to a short-lived presigned URL (S3) or the bytes (local storage)."""
    download = case_images.open_image(actor=current_user, case_id=case_id, image_id=image_id)
    if download.url is not None:
        response = redirect(download.url, code=302)
    else:
        assert download.stream is not None
        with download.stream as stream:  # bounded by MAX_IMAGE_BYTES
            response = Response(stream.read(), mimetype=download.content_type)
        extension = "png" if download.content_type == "image/png" else "jpg"
        response.headers["Content-Disposition"] = f'inline; filename="{image_id}.{extension}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.delete("/cases/<uuid:case_id>/images/<uuid:image_id>")
@spec.validate(
    resp=responses((401, 404, 409, 503), HTTP_204=None),
    tags=[_IMAGE_TAG],
)
def delete_image(case_id: uuid.UUID, image_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Delete an image: its stored object and its record."""
    case_images.delete_image(actor=current_user, case_id=case_id, image_id=image_id)
    return "", 204


# The case for other systems (FHIR, PDF) lives beside, on this blueprint.
from app.blueprints.cases import interop  # noqa: E402, F401
