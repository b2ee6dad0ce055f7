"""Portal actions of the questionnaire: answer the current question, change an earlier answer.

Both post from the case page and answer as every case-page form does (see
:func:`app.blueprints.cases.views.after_case_post`); the next question is asked by the case page.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, url_for
from flask_login import current_user

from app.blueprints.cases.views import after_case_post, case_view
from app.blueprints.portal import after_post, is_htmx
from app.blueprints.questionnaire.forms import (
    AnswerForm,
    ChangeAnswerForm,
    progress_param,
    read_answers_version,
    read_question,
)
from app.errors import AIServiceError, AnsweredMeanwhile, ConsentRequired, ValidationFailed
from app.portal_login import keeps_draft
from app.services import cases, questionnaire
from app.services.clinical_record.words import field_label

bp = Blueprint("questionnaire", __name__)

#: Shown when the posted question is not the one the case is at (another tab, an old page).
OUT_OF_DATE = "That question was out of date, so nothing was saved. Here is the current question."


@bp.post("/cases/<uuid:case_id>/answers")
@keeps_draft("answer")
def answer(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Save the answer to the current question on the case, then show the next question."""
    form = AnswerForm()
    question = read_question(case_id, form.question.data) if form.validate() else None
    if question is None:
        return case_view(case_id, 422, notice=OUT_OF_DATE)
    try:
        saved = questionnaire.answer_question(
            actor=current_user,
            case_id=case_id,
            question=question,
            values=form.answer.data,
            skip=bool(form.skip.data),
            answers_version=read_answers_version(case_id, form.question.data),
        )
    except AnsweredMeanwhile as meanwhile:
        return case_view(case_id, meanwhile.status, notice=meanwhile.message)
    except ValidationFailed as failed:
        problem = failed.details.get("answer") or failed.message
        return case_view(
            case_id,
            422,
            question=question,
            answer_problem=problem,
            answer_values=form.answer.data,
            changing=bool(form.changing.data),
        )
    except (AIServiceError, ConsentRequired):
        saved = None  # the answer is saved; only the replay could not run
    message = dropped_message(saved.dropped) if saved is not None and saved.dropped else None
    if is_htmx():  # the progress of the question answered: the next one says if it grew
        return case_view(case_id, info=message, previous_progress=question.progress)
    if message:
        flash(message, "info")
    was = progress_param(question.progress)
    return after_post(url_for("cases.show", case_id=case_id, was=was, _anchor="questionnaire"))


def dropped_message(dropped: list[str]) -> str:
    """Say which answers a changed answer removed."""
    names = ", ".join(f"“{field_label(name)}”" for name in dropped)
    return (
        f"The changed answer changed the questions that follow: {names} "
        f"{'was' if len(dropped) == 1 else 'were'} removed, as the questionnaire no longer "
        "asks them there."
    )


@bp.post("/cases/<uuid:case_id>/answers/change")
def change(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Show the question of an earlier answer again, with that answer filled in."""
    form = ChangeAnswerForm()
    if not form.validate():
        return case_view(case_id, 422, notice="Choose the answer to change.")
    field_name = form.field_name.data
    try:
        found = questionnaire.question_for_change(
            actor=current_user, case_id=case_id, field_name=field_name
        )
    except AIServiceError:
        return case_view(case_id, 503, notice=AI_DOWN)
    except ConsentRequired as refused:
        return case_view(case_id, refused.status, notice=refused.message)
    if found is None:  # the question cannot be asked again as it was: take the answer back
        cases.remove_answer(actor=current_user, case_id=case_id, field_name=field_name)
        return after_case_post(case_id, "questionnaire")
    question, values = found
    return case_view(case_id, question=question, answer_values=values, changing=True)


#: Shown when the AI Service cannot be asked for the question of an answer to change.
AI_DOWN = (
    "The AI service is not answering right now, so the question cannot be shown again. "
    "Nothing was changed; please try again in a moment."
)
