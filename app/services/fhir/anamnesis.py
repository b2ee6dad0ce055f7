"""The anamnesis as a ``QuestionnaireResponse`` and the ``Questionnaire`` it answers.

The AI Service owns the questions; a case records the answers under each question's
``fieldName``. The ``Questionnaire`` therefore lists the questions that were answered in this
case, in the order the record keeps (``linkId`` = field name, ``text`` = the question as the AI
Service worded it when the physician answered it, ``Case.question_texts``; the field's label when
no question was shown, e.g. answers given by the case form or sent through the API), with the
item type read off the answer.
"""

from __future__ import annotations

from typing import Any

from app.services.clinical_record.words import field_label
from app.services.fhir.source import CaseSource
from app.services.fhir.subject import patient_id, practitioner_ref
from app.services.fhir.terms import CASE_ID_SYSTEM, Refs, instant, resource_id

#: Statuses in which the questionnaire is finished (the photo step was reached).
_ANSWERED = frozenset({"awaiting_image", "analyzed", "analysis_failed", "reviewed"})


def questionnaire_id(source: CaseSource) -> str:
    """The id of the case's ``Questionnaire``."""
    return resource_id("Questionnaire", source.case.id)


def question_text(source: CaseSource, field: str) -> str:
    """The question as shown for ``field`` (see the module docstring), else the field's label."""
    shown = (getattr(source.case, "question_texts", None) or {}).get(field)
    return shown or field_label(field)


def _item_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    return "string"


def _answers(value: Any) -> list[dict[str, Any]]:
    """FHIR answers of one anamnesis value (a skipped question: none)."""
    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    if isinstance(value, float):
        return [{"valueDecimal": value}]
    if isinstance(value, list):
        return [{"valueString": item} for item in value] or [{"valueString": "None of these"}]
    return [{"valueString": value}] if value != "" else []


def questionnaire(source: CaseSource, refs: Refs) -> dict[str, Any]:
    """The questions answered in this case, in order (see the module docstring)."""
    items = []
    for field, value in source.answers:
        item = {"linkId": field, "text": question_text(source, field), "type": _item_type(value)}
        if isinstance(value, list):
            item["repeats"] = True
        items.append(item)
    return {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(source),
        "url": refs.canonical("Questionnaire", questionnaire_id(source)),
        "identifier": [{"system": CASE_ID_SYSTEM, "value": str(source.case.id)}],
        "name": "DermaDetectAnamnesis",
        "title": "Dermatology history (questions asked by the AI Service in this case)",
        "status": "active",
        "subjectType": ["Patient"],
        "item": items,
    }


def _status(source: CaseSource) -> str:
    status = source.case.status
    if status == "archived":
        return "completed" if source.analysis is not None else "stopped"
    return "completed" if status in _ANSWERED else "in-progress"


def questionnaire_response(source: CaseSource, refs: Refs) -> dict[str, Any]:
    """The answers as asked; ``completed`` once the questionnaire reached the photo step."""
    case = source.case
    items = []
    for field, value in source.answers:
        item: dict[str, Any] = {"linkId": field, "text": question_text(source, field)}
        answers = _answers(value)
        if answers:
            item["answer"] = answers
        items.append(item)
    return {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id("QuestionnaireResponse", case.id),
        "identifier": {"system": CASE_ID_SYSTEM, "value": str(case.id)},
        "questionnaire": refs.canonical("Questionnaire", questionnaire_id(source)),
        "status": _status(source),
        "subject": refs.to("Patient", patient_id(source)),
        "authored": instant(case.updated_at),
        "author": practitioner_ref(refs, source, case.owner_id),
        "item": items,
    }
