"""Portal pages of cases: my cases, a new case, the case page (which grows with the case) and
its photos.

The case page is one swappable region (``#case``, template ``cases/_fragment.html``): every
form on it (answer, change, photo, analysis, review) posts, and then either redirects back to
the page (JavaScript off) or, for htmx, answers the region re-rendered (:func:`after_case_post`).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, flash, url_for
from flask import request as flask_request
from flask_login import current_user

from app.blueprints.cases.drafts import restored_context
from app.blueprints.cases.forms import CaseFilterForm, NewCaseForm, show_problems
from app.blueprints.diagnosis.forms import AnalyzeForm, PhotoForm, ReopenForm, ReviewForm
from app.blueprints.portal import after_post, is_htmx, render, thumbnail_response
from app.blueprints.questionnaire.forms import (
    AnswerForm,
    ChangeAnswerForm,
    read_progress_param,
    sign_question,
)
from app.errors import ValidationFailed
from app.services import case_images, case_intake, case_record, sessions
from app.services.ai_client import NextQuestion
from app.services.anamnesis import version as anamnesis_version
from app.services.case_record import CaseRecord
from app.services.clinical_record import evidence, headline, reviews
from app.services.clinical_record.agreement import AGREEMENT_WORDS
from app.services.clinical_record.words import FILTERS, PRIORITY_WORDS, TIER_WORDS
from app.services.lesions import links
from app.services.thumbnails import serve as thumbnail_serve

bp = Blueprint("cases", __name__)

#: The id of the case page's swappable region.
CASE_REGION = "case"

for _name, _filter in FILTERS.items():
    bp.add_app_template_filter(_filter, _name)
bp.add_app_template_global(TIER_WORDS, "tier_words")
bp.add_app_template_global(PRIORITY_WORDS, "priority_words")
bp.add_app_template_global(headline.ACTIONS, "headline_actions")
bp.add_app_template_global(headline.headline_of, "headline_of")
bp.add_app_template_global(AGREEMENT_WORDS, "agreement_words")
bp.add_app_template_global(evidence.evidence_summary, "evidence_summary")


# --- the case page, shared with the questionnaire and diagnosis views -------------------------


def render_case(record: CaseRecord, status: int = 200, **context: Any) -> Response:
    """Render the case page (or its region for htmx) at the record's stage.

    ``context`` overrides the defaults, e.g. a form with errors, ``rejection`` (the AI's image
    validity of a rejected photo) or ``notice`` (a message shown above the current step).
    """
    case_id = record.case.id
    question = record.question
    defaults: dict[str, Any] = {
        "record": record,
        "case": record.case,
        "analysis": record.analysis,
        "stage": record.stage,
        "question_token": (
            sign_question(case_id, question, anamnesis_version(record.case.anamnesis))
            if question is not None
            else ""
        ),
        "answer_form": AnswerForm(formdata=None),
        "change_form": ChangeAnswerForm(formdata=None),
        "photo_form": PhotoForm(formdata=None),
        "analyze_form": AnalyzeForm(formdata=None),
        "review_form": _review_form(record),
        "answer_problem": None,
        "answer_values": [],
        "rejection": None,
        "notice": None,
        "review_saved": False,
        "previous_progress": None,
        "review_restored": False,
        "review_refused": None,
        "answer_restored": False,
        "info": None,
        "changing": False,
        "reopen_form": ReopenForm(formdata=None),
        "review_history": reviews.review_history(case_id),
    }
    return render(
        "cases/page.html", "cases/_fragment.html", status, target=CASE_REGION, **defaults | context
    )


def _review_form(record: CaseRecord) -> ReviewForm:
    case = record.case
    form = ReviewForm(formdata=None)
    if case.reviewed_at is not None:  # editing a review starts from what was recorded
        form.final_diagnosis.data = case.final_diagnosis
        form.icd10.data = case.final_icd10
        form.agreement.data = case.ai_agreement
        form.notes.data = case.review_notes
    return form


def case_view(
    case_id: uuid.UUID,
    status: int = 200,
    *,
    question: NextQuestion | None = None,
    changing: bool = False,
    **context: Any,
) -> Response:
    """Load the case and render it; with ``question`` that question is shown again (a form
    re-rendered with its error) without asking the AI Service. With ``changing`` the question
    is an earlier one shown to change its answer, at any stage of an unsigned case."""
    record = case_record.load_case_record(
        actor=current_user, case_id=case_id, ask_ai=question is None
    )
    if question is not None and (changing or record.stage in ("photo", "question")):
        record = replace(record, question=question)
        if changing:
            context.update(stage="question", changing=True)
    return render_case(record, status, **context)


def after_case_post(case_id: uuid.UUID, anchor: str) -> Response:
    """Finish a successful post on the case page: the region for htmx, else 303 to the page."""
    if is_htmx():
        return case_view(case_id)
    return after_post(url_for("cases.show", case_id=case_id, _anchor=anchor))


# --- pages ------------------------------------------------------------------------------------


@bp.get("/cases")
def index():  # type: ignore[no-untyped-def]
    """List my cases (everyone's for admins) with search, filters and pages."""
    form = CaseFilterForm(flask_request.args)
    filters = form.filters()
    listing = case_record.find_cases(actor=current_user, **filters)
    return render(
        "cases/index.html",
        "cases/_table.html",
        target="case-results",
        form=form,
        filters=filters,
        listing=listing,
    )


@bp.route("/cases/new", methods=["GET", "POST"])
def new():  # type: ignore[no-untyped-def]
    """Show the new-case form; a valid post opens the case and goes to its page."""
    form = NewCaseForm()
    if form.validate_on_submit():
        try:
            case = case_intake.open_case_once(
                actor=current_user, form_key=form.key, **form.service_fields()
            )
        except case_intake.FormAlreadyUsed as used:
            form.renew_key()
            show_problems(form, used.details)
        except ValidationFailed as failed:
            show_problems(form, failed.details)
        else:
            _say_where_filed(case)
            return after_post(url_for("cases.show", case_id=case.id))
    status = 422 if form.is_submitted() else 200
    return render("cases/new.html", "cases/_form.html", status, target="new-case", form=form)


def _say_where_filed(case: Any) -> None:
    """Tell the physician when the reference typed found a patient recorded in other capitals
    or spacing (``pt-001`` → ``PT-001``): the case is that patient's, not a new one's."""
    visit = links.visit_link(case.id)
    if visit is not None and visit.patient_reference != case.patient_reference:
        flash(
            f"Filed under your patient {visit.patient_reference}: references that differ only "
            "in capitals or spaces are one patient.",
            "info",
        )


@bp.get("/cases/<uuid:case_id>")
def show(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Show the case at its current step: questionnaire, photo, results or review (with what
    was kept at the idle lock filled in)."""
    record = case_record.load_case_record(actor=current_user, case_id=case_id)
    kept = sessions.take_drafts(actor=current_user, case_id=case_id)
    previous = read_progress_param(flask_request.args.get("was"))  # after an answer, no JS
    context = restored_context(record, kept) if kept else {}
    return render_case(record, previous_progress=previous, **context)


@bp.get("/cases/<uuid:case_id>/images/<uuid:image_id>")
def image(case_id: uuid.UUID, image_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Send a photo of the case from either storage (never cached)."""
    download = case_images.open_image(
        actor=current_user, case_id=case_id, image_id=image_id, as_stream=True
    )
    assert download.stream is not None
    with download.stream as stream:  # bounded by MAX_IMAGE_BYTES at upload
        response = Response(stream.read(), mimetype=download.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/cases/<uuid:case_id>/images/<uuid:image_id>/thumbnail")
def image_thumbnail(case_id: uuid.UUID, image_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Send a photo of the case as a thumbnail (pages that show it small); audited as a view."""
    return thumbnail_response(
        thumbnail_serve.open_thumbnail(
            actor=current_user,
            case_id=case_id,
            image_id=image_id,
            is_current=flask_request.if_none_match.contains_weak,
        )
    )
