"""JSON API of the worklist: ``GET /api/worklist`` and ``POST /api/cases/<id>/reassign``."""

from __future__ import annotations

import uuid

from flask import Blueprint, url_for
from flask_jwt_extended import current_user

from app.blueprints.cases.api import case_out
from app.blueprints.cases.schemas import CaseOut
from app.blueprints.worklist.schemas import ReassignIn, WorkItemOut, Worklist, WorklistQuery
from app.openapi import responses, spec
from app.services import worklist

bp = Blueprint("worklist_api", __name__, url_prefix="/api")

_TAG = "worklist"


@bp.get("/worklist")
@spec.validate(query=WorklistQuery, resp=responses((401, 403, 422), HTTP_200=Worklist), tags=[_TAG])
def get_worklist(query: WorklistQuery):  # type: ignore[no-untyped-def]
    """List analysed, unreviewed cases: overdue first, then by due time; with counts per state."""
    items = worklist.worklist(
        actor=current_user,
        physician_id=query.physician_id,
        state=query.state,
        urgency=query.urgency,
        limit=query.limit,
    )
    counts = worklist.counts(actor=current_user, physician_id=query.physician_id)
    return Worklist(items=[_out(item) for item in items], counts=counts)


def _out(item: worklist.WorkItem) -> WorkItemOut:
    out = WorkItemOut.model_validate(item)
    if item.image_id is not None:
        out.image_url = url_for("cases_api.get_image", case_id=item.case_id, image_id=item.image_id)
    return out


@bp.post("/cases/<uuid:case_id>/reassign")
@spec.validate(
    json=ReassignIn, resp=responses((401, 403, 404, 409, 422), HTTP_200=CaseOut), tags=[_TAG]
)
def reassign(case_id: uuid.UUID, json: ReassignIn):  # type: ignore[no-untyped-def]
    """Hand a case to another physician (admins; audited)."""
    case = worklist.reassign_case(
        actor=current_user, case_id=case_id, physician_id=json.physician_id
    )
    return case_out(case)
