"""JSON API of the patient's consent: ``PUT /api/cases/<id>/consent``."""

from __future__ import annotations

import uuid

from flask import Blueprint
from flask_jwt_extended import current_user

from app.blueprints.consent.schemas import ConsentIn, ConsentOut
from app.openapi import responses, spec
from app.services import consent

bp = Blueprint("consent_api", __name__, url_prefix="/api")


@bp.put("/cases/<uuid:case_id>/consent")
@spec.validate(
    json=ConsentIn, resp=responses((401, 404, 415, 422), HTTP_200=ConsentOut), tags=["consent"]
)
def record(case_id: uuid.UUID, json: ConsentIn):  # type: ignore[no-untyped-def]
    """Record the patient's consent per scope, granted or refused (owner or admin; audited
    with the values before and after; earlier decisions stay in ``history``)."""
    state = consent.record_consent(actor=current_user, case_id=case_id, decisions=json.decisions())
    return ConsentOut.of(state)
