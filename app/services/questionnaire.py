"""The questionnaire of a case: open a case with what is already known, ask the AI Service for
the next question, check an answer against its question and record it on the case.

The AI Service owns the questions and the anamnesis keys (../shared/ai-service-contract.md); the
gateway asks ``questionnaire/next`` with the answers saved so far and stores each answer under
the returned ``fieldName`` before the next question is asked, so a closed browser loses nothing.
A question of type ``camera`` (or ``isComplete``) means: the questionnaire is done, the photo is
next (:func:`is_photo_step`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.errors import AnsweredMeanwhile, ValidationFailed
from app.extensions import db
from app.models import Case
from app.observability import current_request_id
from app.services import anamnesis as anamnesis_rules
from app.services import cases, consent
from app.services.ai_client import NextQuestion, get_ai_client
from app.services.anamnesis import MAX_STRING_LENGTH, AnswerValue
from app.services.clinical_record import answers as answer_record
from app.services.clinical_record import words

#: Anamnesis keys of the contract's example (``age``, ``sex``, ``location1.primary``): the
#: questionnaire starts with these, and the case form has already asked them.
AGE_FIELD = "age"
SEX_FIELD = "sex"
SITE_FIELD = "location1.primary"

#: Body site → the ISIC Archive / HAM10000 ``localization`` term, the vocabulary the contract's
#: example uses for ``location1.primary`` ("back"). Sites without an equivalent term (buttock,
#: nail, mucosa, other) are left for the questionnaire to ask.
SITE_TERMS: dict[str, str] = {
    "scalp": "scalp",
    "face": "face",
    "ear": "ear",
    "neck": "neck",
    "chest": "chest",
    "abdomen": "abdomen",
    "back": "back",
    "upper_arm": "upper extremity",
    "forearm": "upper extremity",
    "hand": "hand",
    "genital": "genital",
    "thigh": "lower extremity",
    "lower_leg": "lower extremity",
    "foot": "foot",
}

#: Sexes the questionnaire knows; ``unknown`` is not an answer, so it is left to be asked.
_SEX_ANSWERS = frozenset({"female", "male", "other"})

#: A yes/no question's two answers as the form posts them.
YES, NO = "yes", "no"

#: What a skipped optional question is recorded as (the contract has no null answers).
SKIPPED = ""


def starting_answers(case: Case) -> dict[str, AnswerValue]:
    """Return the answers the case form already gave: age, sex and body site when known.

    So that the physician is not asked twice; each one can still be changed on the case page.
    """
    answers: dict[str, AnswerValue] = {}
    if case.patient_age is not None:
        answers[AGE_FIELD] = case.patient_age
    if case.patient_sex in _SEX_ANSWERS:
        answers[SEX_FIELD] = case.patient_sex
    if case.body_site in SITE_TERMS:
        answers[SITE_FIELD] = SITE_TERMS[case.body_site]
    return answers


def open_case(
    *,
    actor: Any,
    patient_reference: str,
    patient_age: int | None,
    patient_sex: str,
    body_site: str,
    chief_complaint: str,
    fitzpatrick_type: str | None = None,
) -> Case:
    """Open a case (see :func:`app.services.cases.create_case`) with its starting answers.

    The case is committed first, then :func:`starting_answers` are merged into its anamnesis
    (status ``questionnaire``); a case without any starting answer stays ``draft``.

    Raises:
        ValidationFailed: a field breaks its rule (``details``: field → message).
        PermissionDenied: the actor is inactive.
    """
    case = cases.create_case(
        actor=actor,
        patient_reference=patient_reference,
        patient_age=patient_age,
        patient_sex=patient_sex,
        body_site=body_site,
        chief_complaint=chief_complaint,
        fitzpatrick_type=fitzpatrick_type,
    )
    answers = starting_answers(case)
    if answers:
        case = cases.merge_answers(actor=actor, case_id=case.id, answers=answers)
    return case


def is_photo_step(question: NextQuestion) -> bool:
    """Whether the questionnaire is done and the lesion photo comes next."""
    return question.is_complete or question.question_type == "camera"


def next_question(*, actor: Any, case_id: uuid.UUID) -> NextQuestion:
    """Ask the AI Service for the case's next question (no transaction held meanwhile).

    When the answer is the photo step (:func:`is_photo_step`), a ``draft`` or ``questionnaire``
    case moves to ``awaiting_image``.

    Raises:
        NotFound: ``case_not_found``.
        ConsentRequired: ``CONSENT_POLICY=enforced`` and no AI-analysis consent granted.
        AIServiceError: the AI Service is unavailable (502), too slow (504), refused the
            anamnesis (422) or answered outside the contract (502).
    """
    case = cases.require_case(actor=actor, case_id=case_id)
    consent.require_for_ai(case.id)
    anamnesis, status = dict(case.anamnesis or {}), case.status
    db.session.rollback()  # no transaction across the network call
    question = get_ai_client().next_question(anamnesis, request_id=current_request_id())
    if is_photo_step(question) and status in ("draft", "questionnaire"):
        cases.mark_awaiting_image(actor=actor, case_id=case_id)
    return question


def _problem(message: str) -> ValidationFailed:
    return ValidationFailed({"answer": message})


def _bounds_text(question: NextQuestion) -> str:
    unit = f" {question.unit}" if question.unit else ""
    low, high = question.min, question.max
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}{unit}"
    if low is not None:
        return f"of at least {low:g}{unit}"
    return f"of at most {high:g}{unit}"


_EMPTY_MESSAGES = {
    "bool": "Choose yes or no.",
    "radio": "Choose one of the options.",
    "number": "Enter a number.",
}


def _ticked(question: NextQuestion, values: Sequence[str]) -> list[str]:
    chosen = {value for value in values if value}
    ticked = [option for option in question.options if option in chosen]
    if len(ticked) != len(chosen):
        raise _problem("Tick only the options shown.")
    return ticked


def _number(question: NextQuestion, text: str) -> int | float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise _problem("Enter a number, for example 12 or 4.5.") from None
    if not math.isfinite(value):
        raise _problem("Enter a number, for example 12 or 4.5.")
    low, high = question.min, question.max
    if (low is not None and value < low) or (high is not None and value > high):
        raise _problem(f"Enter a number {_bounds_text(question)}.")
    return int(value) if value.is_integer() else value


def parse_answer(question: NextQuestion, values: Sequence[str], *, skip: bool = False) -> Any:
    """Turn what the form posted for ``question`` into its anamnesis value.

    ``bool`` → ``True``/``False`` (posted ``yes``/``no``); ``radio`` → one of the options;
    ``checkbox`` → the ticked options in their order (none ticked: ``[]``, "none of these");
    ``number`` → an int or float within ``min``/``max``; ``text`` → the trimmed text. A skipped
    optional question (or an optional one left empty) is recorded as ``""``.

    Raises:
        ValidationFailed: ``details["answer"]`` says what is wrong (a required question
            skipped or left empty, an option not offered, a number out of bounds, …).
    """
    if question.is_complete or question.question_type in ("", "camera"):
        raise _problem("This step takes a photo, not an answer.")
    if skip:
        if question.required:
            raise _problem("This question needs an answer; it cannot be skipped.")
        return SKIPPED
    kind = question.question_type
    if kind == "checkbox":
        return _ticked(question, values)
    text = next((value.strip() for value in values if value.strip()), "")
    if not text:
        if question.required:
            raise _problem(_EMPTY_MESSAGES.get(kind, "Enter an answer."))
        return SKIPPED
    if kind == "bool":
        if text not in (YES, NO):
            raise _problem(_EMPTY_MESSAGES["bool"])
        return text == YES
    if kind == "radio":
        if text not in question.options:
            raise _problem(_EMPTY_MESSAGES["radio"])
        return text
    if kind == "number":
        return _number(question, text)
    if len(text) > MAX_STRING_LENGTH:
        raise _problem(f"Answers may be at most {MAX_STRING_LENGTH} characters.")
    return text


@dataclass(frozen=True)
class SavedAnswer:
    """A saved answer: the case after it, and the answers dropped because the questionnaire
    no longer asks them (field names, in the order they had been asked)."""

    case: Case
    dropped: list[str] = field(default_factory=list)


def answer_question(
    *,
    actor: Any,
    case_id: uuid.UUID,
    question: NextQuestion,
    values: Sequence[str],
    skip: bool = False,
    answers_version: str | None = None,
) -> SavedAnswer:
    """Check an answer against its question (:func:`parse_answer`) and save it on the case,
    with the question's text as shown (``Case.question_texts``).

    When the answer changes an earlier one, the questionnaire is replayed with the answers
    kept (:func:`app.services.clinical_record.answers.replay`): answers to questions the new
    path no longer asks are removed (audited) and named in ``SavedAnswer.dropped``.

    ``answers_version`` is :func:`app.services.anamnesis.version` of the anamnesis the question
    was asked for (signed into the page); when the anamnesis has changed since (the question
    was answered in another window, or another answer changed), nothing is saved. Changing an
    answer on purpose shows its question again (:func:`question_for_change`), with the version
    of that moment. ``None`` (a page made before versions were signed) skips the check.

    Raises:
        ValidationFailed: the answer does not fit the question (``details["answer"]``).
        AnsweredMeanwhile: the anamnesis changed since the question was shown (``details``:
            the field → its current answer, ``None`` when not answered).
        NotFound: ``case_not_found``. Conflict: ``case_archived``.
        AIServiceError: the replay could not ask the AI (the answer itself is saved).
    """
    value = parse_answer(question, values, skip=skip)
    before = dict(cases.require_case(actor=actor, case_id=case_id).anamnesis or {})
    changed = question.field_name in before and before[question.field_name] != value
    case = cases.merge_answers(
        actor=actor,
        case_id=case_id,
        answers={question.field_name: value},
        question_texts={question.field_name: question.question_text},
        precondition=_unchanged_since(answers_version, question.field_name),
    )
    if not changed:
        return SavedAnswer(case)
    return _drop_abandoned_answers(actor=actor, case=case)


def _unchanged_since(answers_version: str | None, field_name: str) -> Any:
    """The precondition of :func:`answer_question`: the anamnesis is still the one the question
    was asked for."""

    def check(case: Case) -> None:
        current = dict(case.anamnesis or {})
        if answers_version is None or anamnesis_rules.version(current) == answers_version:
            return
        raise AnsweredMeanwhile(
            _meanwhile_message(field_name, current),
            details={field_name: current.get(field_name)},
        )

    return check


def _meanwhile_message(field_name: str, current: dict[str, Any]) -> str:
    if field_name in current:
        return (
            f"This question was answered meanwhile ({words.answer_text(current[field_name])}) "
            "in another window, so nothing was saved. Reload to see the current "
            "questionnaire; use “Change” to change that answer."
        )
    return (
        "The answers changed meanwhile in another window, so nothing was saved. "
        "Here is the current question."
    )


def _drop_abandoned_answers(*, actor: Any, case: Case) -> SavedAnswer:
    """Replay the questionnaire on the case's answers and remove those it no longer asks."""
    case_id, anamnesis = case.id, dict(case.anamnesis or {})
    order = answer_record.ordered_keys(anamnesis, case.answer_order)
    consent.require_for_ai(case_id)  # the answer itself is saved
    db.session.rollback()  # no transaction across the AI calls
    client, request_id = get_ai_client(), current_request_id()

    def ask(answers: dict[str, Any]) -> tuple[str | None, bool]:
        question = client.next_question(answers, request_id=request_id)
        if question.is_complete:
            return None, True
        return question.field_name, is_photo_step(question)

    kept = answer_record.replay(anamnesis, ask)
    dropped = [key for key in order if key not in kept]
    if not dropped:
        return SavedAnswer(cases.require_case(actor=actor, case_id=case_id))
    return SavedAnswer(
        cases.remove_answers(actor=actor, case_id=case_id, field_names=dropped), dropped
    )


def question_for_change(
    *, actor: Any, case_id: uuid.UUID, field_name: str
) -> tuple[NextQuestion, list[str]] | None:
    """The question that asked ``field_name``, and its current answer as the form posts it.

    The AI Service is asked with the answers given before that one (in the order asked), so it
    asks that question again; ``None`` when it asks something else (the question cannot be
    found again) or the case has no such answer.

    Raises:
        NotFound: ``case_not_found``. Conflict: ``case_archived``.
        AIServiceError: the AI Service could not be asked.
    """
    case = cases.require_case(actor=actor, case_id=case_id, for_edit=True)
    consent.require_for_ai(case.id)
    anamnesis = dict(case.anamnesis or {})
    if field_name not in anamnesis:
        return None
    order = answer_record.ordered_keys(anamnesis, case.answer_order)
    earlier = {key: anamnesis[key] for key in order[: order.index(field_name)]}
    db.session.rollback()  # no transaction across the network call
    question = get_ai_client().next_question(earlier, request_id=current_request_id())
    if question.is_complete or question.field_name != field_name:
        return None
    return question, form_values(anamnesis[field_name])


def form_values(value: Any) -> list[str]:
    """An anamnesis answer as the answer form posts it (the reverse of :func:`parse_answer`)."""
    if value is True:
        return [YES]
    if value is False:
        return [NO]
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, float):
        return [f"{value:g}"]
    return [] if value == SKIPPED else [str(value)]
