"""The anamnesis as a ``QuestionnaireResponse`` and the ``Questionnaire`` it answers.

The AI Service owns the questions; a case records the answers under each question's
``fieldName``. The ``Questionnaire`` therefore lists the questions that were answered in this
case, in the order the record keeps (``linkId`` = field name, ``text`` = the question as the AI
Service worded it when the physician answered it, ``Case.question_texts``; the field's label when
no question was shown, e.g. answers given by the case form or sent through the API), with the
item type read off the answer.

When the answers changed after the analysis (its ``inputs`` differ from the case,
:func:`~app.services.clinical_record.inputs.outdated_fields`), a second ``QuestionnaireResponse``
holds the answers *as analysed* (from the analysis's own ``inputs``): that one is what the
``RiskAssessment`` was computed from (:func:`basis_response_id`).
"""

from __future__ import annotations

from typing import Any

from app.services.clinical_record.inputs import outdated_fields
from app.services.clinical_record.words import field_label
from app.services.fhir.source import CaseSource
from app.services.fhir.subject import patient_id, practitioner_ref
from app.services.fhir.terms import (
    ANALYSIS_ID_SYSTEM,
    CASE_ID_SYSTEM,
    Refs,
    instant,
    resource_id,
)
from app.services.report.content import answers_as_asked

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
    """The questions answered in this case, in order (see the module docstring); questions
    answered only in the answers as analysed follow those answered now."""
    asked = dict(analysed_answers(source) or [])
    asked.update(source.answers)
    now = [field for field, _value in source.answers]
    order = now + [field for field in asked if field not in now]
    items = []
    for field in order:
        value = asked[field]
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


def _items(source: CaseSource, answers: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    items = []
    for field, value in answers:
        item: dict[str, Any] = {"linkId": field, "text": question_text(source, field)}
        found = _answers(value)
        if found:
            item["answer"] = found
        items.append(item)
    return items


def questionnaire_response(source: CaseSource, refs: Refs) -> dict[str, Any]:
    """The answers as asked; ``completed`` once the questionnaire reached the photo step."""
    case = source.case
    return {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id("QuestionnaireResponse", case.id),
        "identifier": {"system": CASE_ID_SYSTEM, "value": str(case.id)},
        "questionnaire": refs.canonical("Questionnaire", questionnaire_id(source)),
        "status": _status(source),
        "subject": refs.to("Patient", patient_id(source)),
        "authored": instant(case.updated_at),
        "author": practitioner_ref(refs, source, case.owner_id),
        "item": _items(source, source.answers),
    }


def analysed_answers(source: CaseSource) -> list[tuple[str, Any]] | None:
    """The answers the analysis was computed from, as asked, when they differ from the case's
    answers now (``None``: no analysis, no ``inputs`` kept, or the answers are unchanged)."""
    analysis = source.analysis
    inputs = getattr(analysis, "inputs", None) if analysis is not None else None
    changed = outdated_fields(inputs, source.case)
    if not any(name.startswith("anamnesis.") for name in changed):
        return None
    return answers_as_asked(inputs.get("anamnesis"), inputs.get("answer_order"))


def basis_response_id(source: CaseSource) -> str:
    """The id of the ``QuestionnaireResponse`` the analysis was computed from: the one as
    analysed when the answers changed since, else the case's one."""
    if analysed_answers(source) is None:
        return resource_id("QuestionnaireResponse", source.case.id)
    return resource_id("QuestionnaireResponse", source.case.id, "analysis", source.analysis.id)


def analysed_response(source: CaseSource, refs: Refs) -> dict[str, Any] | None:
    """The answers as analysed (from the analysis's ``inputs``), ``completed``, authored when
    the analysis was requested; ``None`` when they do not differ from the case's answers."""
    answers = analysed_answers(source)
    if answers is None:
        return None
    analysis = source.analysis
    author = analysis.requested_by_id or source.case.owner_id
    return {
        "resourceType": "QuestionnaireResponse",
        "id": basis_response_id(source),
        "identifier": {"system": ANALYSIS_ID_SYSTEM, "value": str(analysis.id)},
        "questionnaire": refs.canonical("Questionnaire", questionnaire_id(source)),
        "status": "completed",
        "subject": refs.to("Patient", patient_id(source)),
        "authored": instant(analysis.created_at),
        "author": practitioner_ref(refs, source, author),
        "item": _items(source, answers),
    }
