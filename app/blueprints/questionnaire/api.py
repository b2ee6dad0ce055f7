"""JSON API of the questionnaire under ``/api``."""

from __future__ import annotations

from flask import Blueprint

from app.blueprints.questionnaire.schemas import AnamnesisIn
from app.openapi import responses, spec
from app.services import consent
from app.services.ai_client import NextQuestion, get_ai_client

bp = Blueprint("questionnaire_api", __name__, url_prefix="/api")

_TAG = "questionnaire"


@bp.post("/ai/next_question")
@spec.validate(
    json=AnamnesisIn,
    resp=responses((400, 401, 409, 415, 422, 502, 504), HTTP_200=NextQuestion),
    tags=[_TAG],
)
def next_question(json: AnamnesisIn):  # type: ignore[no-untyped-def]
    """Return the next question for the answers so far, or ``isComplete: true`` at the end.

    The body is the anamnesis itself (``{}`` to start). Put each answer under the returned
    ``fieldName`` and post the whole anamnesis again; a ``camera`` question is answered ``true``
    (the photo goes to the diagnosis call). AI Service failures answer 502/504, its refusals 422;
    under ``CONSENT_POLICY=enforced`` 409 ``consent_required`` (no case holds a consent here).
    """
    consent.refuse_without_case()
    question = get_ai_client().next_question(json.root)
    return question.model_dump(mode="json", exclude_none=True)
