"""Portal actions of the diagnosis: upload the lesion photo, analyse again, record the review,
and the printable report.

A failed AI call never loses anything: the answers and the photo are stored (while the AI
already works on them), a failed analysis is recorded, and the case page then offers to try
again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import Blueprint, Response, flash, render_template, request, url_for
from flask_login import current_user

from app.blueprints.cases.forms import show_problems
from app.blueprints.cases.views import after_case_post, case_view
from app.blueprints.diagnosis import printing
from app.blueprints.diagnosis.forms import (
    AnalyzeForm,
    PhotoForm,
    ReopenForm,
    ReviewForm,
    new_form_key,
)
from app.blueprints.portal import after_post, is_htmx
from app.blueprints.questionnaire.forms import read_question
from app.blueprints.uploads import photo_too_large_message, refuse_oversized_upload
from app.error_handlers import app_error_response
from app.errors import (
    AIServiceError,
    AppError,
    Conflict,
    ConsentRequired,
    InvalidImage,
    PayloadTooLarge,
    StorageUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.portal_login import keeps_draft
from app.services import case_record, diagnosis, photo_once
from app.services.admission import admit_diagnosis, refuse_if_client_gone
from app.services.clinical_record import reviews

bp = Blueprint("diagnosis", __name__)
bp.add_app_template_global(new_form_key, "new_form_key")


@bp.url_value_preprocessor
def _refuse_oversized_photo(endpoint: str | None, _values: dict | None) -> None:
    # URL value preprocessors run before every before_request function, so this refuses an
    # oversized upload before the CSRF check parses (and spools) its body.
    if endpoint == "diagnosis.upload_photo":
        refuse_oversized_upload()
    if endpoint in ("diagnosis.upload_photo", "diagnosis.analyze"):
        admit_diagnosis()  # a whole diagnosis: wait for its turn at the door (admission.py)


@bp.errorhandler(PayloadTooLarge)
def _photo_too_large(error: PayloadTooLarge):  # type: ignore[no-untyped-def]
    """A photo over the size limit (refused before its body is read, so also without the page's
    JavaScript check): the case page again with the message under the photo field, as for any
    other unusable photo. Anywhere else, or for a case the user may not see: the error page."""
    case_id = (request.view_args or {}).get("case_id")
    if request.endpoint == "diagnosis.upload_photo" and current_user.is_authenticated:
        form = PhotoForm(formdata=None)  # the body is never parsed
        form.photo.errors = [error.message]
        try:
            return case_view(case_id, error.status, photo_form=form)
        except AppError:
            pass
    return app_error_response(error)


@bp.post("/cases/<uuid:case_id>/photo")
def upload_photo(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Store the lesion photo with the case, record the camera answer, and run the diagnosis."""
    form = PhotoForm()
    if not form.validate():
        return case_view(case_id, 422, photo_form=form)
    refuse_if_client_gone()  # its body is read now: a client that went away shows (admission.py)
    question = read_question(case_id, form.question.data)
    answers = {}
    if question is not None and question.question_type == "camera":
        answers[question.field_name] = True  # the contract: a camera question is answered true
    try:
        photo_once.upload_once(
            actor=current_user,
            case_id=case_id,
            upload=form.photo.data.stream,
            anamnesis=answers,
            form_key=form.key,
        )
    except diagnosis.ImageRejected as rejected:
        return case_view(case_id, 422, rejection=rejected.details.get("image_validity"))
    except PayloadTooLarge:
        form.photo.errors = [photo_too_large_message()]
        return case_view(case_id, 422, photo_form=form)
    except (UnsupportedMediaType, InvalidImage) as unusable:
        form.photo.errors = [unusable.message]
        return case_view(case_id, 422, photo_form=form)
    except StorageUnavailable as down:
        return case_view(case_id, down.status, notice=_storage_notice())
    except ConsentRequired as refused:  # nothing stored; the consent form is on the page
        return case_view(case_id, refused.status, notice=refused.message)
    except AIServiceError:
        pass  # recorded as a failed analysis: the case page says so and offers to try again
    return after_case_post(case_id, "results")


@bp.post("/cases/<uuid:case_id>/analysis")
def analyze(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Analyse the stored photo again: after a failure, or accepting a low-quality photo."""
    form = AnalyzeForm()
    if not form.validate():
        return case_view(case_id, 422)
    try:
        photo_once.analyze_once(
            actor=current_user,
            case_id=case_id,
            accept_low_quality=form.accepts_low_quality,
            form_key=form.key,
        )
    except diagnosis.ImageRejected as rejected:
        return case_view(case_id, 422, rejection=rejected.details.get("image_validity"))
    except StorageUnavailable as down:
        return case_view(case_id, down.status, notice=_storage_notice())
    except ConsentRequired as refused:
        return case_view(case_id, refused.status, notice=refused.message)
    except AIServiceError:
        pass  # recorded as a failed analysis, shown with a retry button
    return after_case_post(case_id, "results")


def _storage_notice() -> str:
    return (
        "The image storage is not answering right now. Nothing was lost: the case and the "
        "answers are saved. Please try again in a moment."
    )


@bp.post("/cases/<uuid:case_id>/review")
@keeps_draft("review")
def review(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Record the final diagnosis, agreement with the AI and notes; the case becomes reviewed."""
    form = ReviewForm()
    if form.validate():
        try:
            diagnosis.review_case(
                actor=current_user,
                case_id=case_id,
                final_diagnosis=form.final_diagnosis.data or "",
                agreement=form.agreement.data or None,
                icd10=form.icd10.data,
                notes=form.notes.data,
                confirm_icd10=bool(form.confirm_icd10.data),
            )
        except ValidationFailed as failed:
            form.icd10_mismatch = failed.code == "icd10_mismatch"
            fields = {"icd10": failed.message} if form.icd10_mismatch else failed.details
            show_problems(form, fields)
        except Conflict as signed:
            if signed.code != "case_reviewed":
                raise
            # A second click, a back button or another tab: the signed review stands; say so
            # beside it and its Reopen, without a form to change it.
            return case_view(case_id, signed.status, review_refused=SIGNED_REVIEW)
        else:
            return _review_saved(case_id)
    return case_view(case_id, 422, review_form=form)


#: Shown when a review is posted to a reviewed (signed) case.
SIGNED_REVIEW = (
    "This case is already reviewed and signed; the review below stands. To change it, reopen "
    "the case with a reason, then record the new review."
)


#: The confirmation shown in the review section once a review is saved.
REVIEW_SAVED = "review-saved"


@bp.post("/cases/<uuid:case_id>/reopen")
def reopen(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Reopen a reviewed case with a reason, so that its answers and photo may change."""
    form = ReopenForm()
    if form.validate():
        try:
            reviews.reopen_case(actor=current_user, case_id=case_id, reason=form.reason.data)
        except ValidationFailed as failed:
            show_problems(form, failed.details)
        else:
            return after_case_post(case_id, "review")
    return case_view(case_id, 422, reopen_form=form)


def _review_saved(case_id: uuid.UUID) -> Response:
    # Saved means seen: the saved review, its confirmation and the report button are where the
    # page lands (htmx: the region with review_saved, focused by app.js; without JavaScript:
    # a flash shown in the review section, and the redirect's #review anchor).
    if is_htmx():
        return case_view(case_id, review_saved=True)
    flash("Review saved.", REVIEW_SAVED)
    return after_post(url_for("cases.show", case_id=case_id, _anchor="review"))


@bp.get("/cases/<uuid:case_id>/report")
def report(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Show the printable report: conclusion, red flags, photo and AI result, answers."""
    record = case_record.load_case_record(actor=current_user, case_id=case_id, ask_ai=False)
    body = printing.build_report(record, current_user)
    return render_template(
        "diagnosis/report.html", record=record, report=body, now=datetime.now(UTC)
    )


@bp.get("/cases/<uuid:case_id>/report.pdf")
def report_pdf(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Send the report as a PDF (``?paper=a4``, the default, or ``letter``)."""
    paper = printing.paper_size(request.args.get("paper"))
    return printing.report_pdf(actor=current_user, case_id=case_id, paper=paper)
