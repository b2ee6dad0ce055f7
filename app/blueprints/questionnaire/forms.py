"""WTForms of the questionnaire: an answer to the current question, and "change an answer".

The question being answered travels with the form as a signed token (:func:`sign_question`):
the answer is checked against exactly the question the physician saw, without asking the AI
Service again, and the token cannot be altered or moved to another case.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError
from wtforms import Field, HiddenField, SubmitField
from wtforms.validators import InputRequired

from app.services.ai_client import NextQuestion, Progress

_SALT = "portal.questionnaire.question"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def sign_question(
    case_id: uuid.UUID, question: NextQuestion, answers_version: str | None = None
) -> str:
    """Return a signed token of ``question`` as asked for the case ``case_id`` when its
    anamnesis had ``answers_version`` (:func:`app.services.anamnesis.version`)."""
    payload = {"case": str(case_id), "question": question.model_dump(mode="json")}
    if answers_version is not None:
        payload["answers"] = answers_version
    return _serializer().dumps(payload)


def read_answers_version(case_id: uuid.UUID, token: str | None) -> str | None:
    """Return the anamnesis version signed into ``token`` (``None``: none, or a bad token)."""
    try:
        payload: Any = _serializer().loads(token or "")
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("case") != str(case_id):
        return None
    version = payload.get("answers")
    return version if isinstance(version, str) else None


def read_question(case_id: uuid.UUID, token: str | None) -> NextQuestion | None:
    """Return the question signed into ``token`` for this case, or ``None`` when the token is
    missing, altered, or was made for another case."""
    if not token:
        return None
    try:
        payload: Any = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("case") != str(case_id):
        return None
    try:
        return NextQuestion.model_validate(payload.get("question"))
    except ValidationError:
        return None


class AnswerValues(Field):
    """Every value posted under the field's name (one for most widgets, several for checkboxes)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = list(valuelist)

    def _value(self) -> str:
        return ""


class AnswerForm(FlaskForm):
    """The answer to one question; the widget itself is drawn from the question's type."""

    question = HiddenField(validators=[InputRequired()])
    #: Set when the question was shown again to change an earlier answer.
    changing = HiddenField()
    answer = AnswerValues(default=list)
    skip = SubmitField("Skip this question")


class ChangeAnswerForm(FlaskForm):
    """Which answer to take back, so that the questionnaire asks it again."""

    field_name = HiddenField(validators=[InputRequired()])


def progress_param(progress: Progress | None) -> str | None:
    """The progress of the question just answered as a URL value ("5-18": answered, estimated
    total), so that the next page (after a redirect) can tell whether the estimate grew."""
    if progress is None:
        return None
    return f"{progress.answered}-{progress.estimated_total}"


def read_progress_param(value: str | None) -> Progress | None:
    """The progress written by :func:`progress_param`, or ``None`` for anything else (it only
    words the progress line, so a bad value is ignored)."""
    parts = (value or "").split("-")
    if len(parts) != 2 or not all(part.isdigit() and len(part) <= 4 for part in parts):
        return None
    return Progress(answered=int(parts[0]), estimated_total=int(parts[1]))
