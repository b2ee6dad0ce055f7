"""JSON API of histology outcomes: ``POST /api/cases/<id>/outcome``."""

from __future__ import annotations

import uuid

from flask import Blueprint
from flask_jwt_extended import current_user

from app.blueprints.outcomes.schemas import OutcomeIn, OutcomeOut
from app.openapi import responses, spec
from app.services import outcomes

bp = Blueprint("outcomes_api", __name__, url_prefix="/api")


@bp.post("/cases/<uuid:case_id>/outcome")
@spec.validate(
    json=OutcomeIn,
    resp=responses((401, 404, 409, 415, 422), HTTP_201=OutcomeOut),
    tags=["outcomes"],
)
def record(case_id: uuid.UUID, json: OutcomeIn):  # type: ignore[no-untyped-def]
    """Record the histology outcome of a reviewed case (audited; a new one supersedes)."""
    outcome = outcomes.record_outcome(
        actor=current_user,
        case_id=case_id,
        diagnosis=json.diagnosis,
        icd10=json.icd10,
        outcome_date=json.outcome_date,
        notes=json.notes,
        excised=json.excised,
    )
    return OutcomeOut.model_validate(outcome), 201
