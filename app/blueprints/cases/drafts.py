"""Put the drafts kept at the idle lock back into the case page's forms, once, with a message."""

from __future__ import annotations

from typing import Any

from flask import flash
from werkzeug.datastructures import MultiDict

from app.blueprints.diagnosis.forms import ReviewForm
from app.blueprints.questionnaire.forms import read_question
from app.services.case_record import CaseRecord

RESTORED = (
    "Welcome back. What you sent after the page locked was kept: your {what} is filled in "
    "below as you left it. Check it and save it."
)
SIGNED_REVIEW = (
    "A review you sent after the page locked was not filled in: the case has been reviewed "
    "and signed since. Reopen it with a reason to change the review."
)
STALE_ANSWER = (
    "An answer you sent after the page locked was for a question that is no longer the current "
    "one, so it was not filled in."
)


def restored_context(record: CaseRecord, drafts: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    """Return the case page's context that puts ``drafts`` (``{form: {field: [values]}}``) back:
    the review form filled in, the current question's answer ticked or typed. Flashes what was
    restored, or why an answer could not be (its question is no longer the current one)."""
    context: dict[str, Any] = {}
    restored: list[str] = []
    review = drafts.get("review")
    if review is not None and record.case.status == "reviewed":
        flash(SIGNED_REVIEW, "info")  # signed meanwhile: no review form to fill in
    elif review is not None and record.analysis is not None:
        context["review_form"] = ReviewForm(formdata=MultiDict(review))
        context["review_restored"] = True
        restored.append("review")
    answer = drafts.get("answer")
    if answer is not None:
        asked = read_question(record.case.id, (answer.get("question") or [""])[0])
        if record.question is not None and asked == record.question:
            context["answer_values"] = answer.get("answer", [])
            context["answer_restored"] = True
            restored.append("answer")
        else:
            flash(STALE_ANSWER, "info")
    if restored:
        flash(RESTORED.format(what=" and ".join(restored)), "success")
    return context
