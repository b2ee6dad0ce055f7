"""The anamnesis: the patient's questionnaire answers, keyed by each question's ``fieldName``.

Shape rules come from ../shared/ai-service-contract.md ("The anamnesis"): one flat object whose
values are a string, a number, a boolean or a list of strings; at most 200 keys, keys at most
100 characters, strings (also inside lists) at most 2,000 characters. Keys may contain dots;
they are plain keys, not paths. The AI Service owns the key set; the gateway checks only shape.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from pydantic import RootModel

from app.errors import ValidationFailed
from app.services.clinical_terms import MAX_PATIENT_AGE, MIN_PATIENT_AGE

MAX_KEYS = 200
MAX_KEY_LENGTH = 100
MAX_STRING_LENGTH = 2000
MAX_LIST_ITEMS = 100
#: PostgreSQL's jsonb cannot store U+0000, nor a lone surrogate (not a Unicode character).
NUL_PROBLEM = "Text may not contain NUL characters (U+0000)."
SURROGATE_PROBLEM = "Text may not contain unpaired surrogates (U+D800 to U+DFFF)."
_SURROGATE = re.compile("[\ud800-\udfff]")

AnswerValue = str | int | float | bool | list[str]


class Anamnesis(RootModel[dict[str, AnswerValue]]):
    """OpenAPI description of an anamnesis: ``{fieldName: answer}`` (see module docstring)."""


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_STRING_LENGTH:
        return f"Text answers may be at most {MAX_STRING_LENGTH} characters."
    if "\x00" in text:
        return NUL_PROBLEM
    if _SURROGATE.search(text):
        return SURROGATE_PROBLEM
    return None


def _value_problem(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "Numbers must be finite."
        return None
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            return f"A list answer may have at most {MAX_LIST_ITEMS} items."
        for item in value:
            if not isinstance(item, str):
                return "A list answer may contain only strings."
            if (why := _text_problem(item)) is not None:
                return why
        return None
    if value is None:
        return "An answer may not be null."
    return "An answer must be a string, a number, a boolean or a list of strings."


#: The answer holding the patient's age (the questionnaire's ``patient_age`` question).
AGE_KEY = "age"


def _age_problem(value: Any) -> str | None:
    """The age is a number of completed years within the case's range (0–120), as the
    questionnaire asks it: a negative or impossible age must not reach the AI. An empty
    string is a skipped question (see ``app.services.questionnaire.SKIPPED``)."""
    if value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "The age is a number of years."
    if not MIN_PATIENT_AGE <= value <= MAX_PATIENT_AGE:
        return f"The age must be between {MIN_PATIENT_AGE} and {MAX_PATIENT_AGE} years."
    return None


def validate_anamnesis(data: Any, *, field: str = "anamnesis") -> dict[str, AnswerValue]:
    """Return ``data`` unchanged when it has the anamnesis shape (and an ``age`` answer, if
    any, is a number of years from 0 to 120).

    Raises:
        ValidationFailed: ``details`` maps ``"<field>"`` or ``"<field>.<key>"`` to a message.
    """
    if not isinstance(data, dict):
        raise ValidationFailed({field: "The anamnesis must be a JSON object of answers."})
    if len(data) > MAX_KEYS:
        raise ValidationFailed(
            {field: f"The anamnesis may have at most {MAX_KEYS} answers, got {len(data)}."}
        )
    problems: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key.strip():
            problems[f"{field}"] = "Every answer needs a non-empty field name."
            continue
        if "\x00" in key:
            problems[f"{field}"] = f"Field names: {NUL_PROBLEM}"
            continue
        if _SURROGATE.search(key):
            problems[f"{field}"] = f"Field names: {SURROGATE_PROBLEM}"
            continue
        if len(key) > MAX_KEY_LENGTH:
            problems[f"{field}.{key[:40]}…"] = (
                f"Field names may be at most {MAX_KEY_LENGTH} characters."
            )
            continue
        why = _value_problem(value)
        if why is None and key == AGE_KEY:
            why = _age_problem(value)
        if why is not None:
            problems[f"{field}.{key}"] = why
    if problems:
        raise ValidationFailed(problems)
    return data


def version(anamnesis: dict[str, Any] | None) -> str:
    """A short fingerprint of the anamnesis (hex, 16 characters): equal for equal answers
    whatever their key order, different once any answer is added, changed or removed.

    The questionnaire page signs it into the question it shows, so that an answer posted from
    a page made before the answers changed (another window) is refused, not written over them.
    """
    canonical = json.dumps(anamnesis or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def merge(current: dict[str, AnswerValue] | None, answers: dict[str, AnswerValue]) -> dict:
    """Return ``current`` updated with ``answers`` (a new dict), checked as a whole.

    Raises:
        ValidationFailed: the merged anamnesis would break the shape rules (e.g. > 200 keys).
    """
    merged = {**(current or {}), **answers}
    return validate_anamnesis(merged)
