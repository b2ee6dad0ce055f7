"""Portal actions of the questionnaire: answer the current question, change an earlier answer.

Both post from the case page and answer as every case-page form does (see
:func:`app.blueprints.cases.views.after_case_post`); the next question is asked by the case page.
"""

from __future__ import annotations

import uuid

from flask import Blueprint
from flask_login import current_user

from app.blueprints.cases.views import after_case_post, case_view
from app.blueprints.questionnaire.forms import AnswerForm, ChangeAnswerForm, read_question
from app.errors import ValidationFailed
from app.portal_login import keeps_draft
from app.services import cases, questionnaire

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
        questionnaire.answer_question(
            actor=current_user,
            case_id=case_id,
            question=question,
            values=form.answer.data,
            skip=bool(form.skip.data),
        )
    except ValidationFailed as failed:
        problem = failed.details.get("answer") or failed.message
        return case_view(
            case_id, 422, question=question, answer_problem=problem, answer_values=form.answer.data
        )
    return after_case_post(case_id, "questionnaire")


@bp.post("/cases/<uuid:case_id>/answers/change")
def change(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Take back one answer, so that the questionnaire asks that question again."""
    form = ChangeAnswerForm()
    if not form.validate():
        return case_view(case_id, 422, notice="Choose the answer to change.")
    cases.remove_answer(actor=current_user, case_id=case_id, field_name=form.field_name.data)
    return after_case_post(case_id, "questionnaire")
