"""Pydantic models for the questionnaire's JSON bodies, and the anamnesis type other bodies embed.

The anamnesis is shape-checked by :func:`app.services.anamnesis.validate_anamnesis`, the one check
shared with the cases API, so that a bad anamnesis gets the same messages everywhere. It runs as a
pydantic *before* validator and raises :class:`app.errors.ValidationFailed`; pydantic converts only
``ValueError``/``AssertionError`` into its own errors, so this domain error leaves the validation
unchanged and the error handler answers 422 with ``details`` naming each bad answer
(``"anamnesis.<fieldName>"``), before pydantic's per-type union messages could be produced.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from app.services.anamnesis import Anamnesis, AnswerValue, validate_anamnesis


def _checked(value: Any) -> Any:
    """Shape-check an embedded anamnesis (raises ``ValidationFailed`` naming the bad answers)."""
    return validate_anamnesis(value)


#: An anamnesis inside a larger body (``{"anamnesis": {...}, ...}``), shape-checked.
CheckedAnamnesis = Annotated[dict[str, AnswerValue], BeforeValidator(_checked)]


class AnamnesisIn(Anamnesis):
    """The answers so far, ``{fieldName: answer}``; ``{}`` starts the questionnaire.

    Answers are strings (≤ 2,000 characters), numbers, booleans or lists of strings; at most
    200 answers, field names ≤ 100 characters. Field names may contain dots.
    """

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        # A body that is not an object is left to pydantic, so that the request hook can answer
        # 400 ``json_not_object`` as it does for every JSON endpoint.
        return validate_anamnesis(data) if isinstance(data, dict) else data
