"""``GET /api/stats/concordance``: how often the AI agreed with physicians and histology."""

from __future__ import annotations

from flask import Blueprint
from flask_jwt_extended import current_user

from app.blueprints.stats.schemas import ConcordanceOut, ConcordanceQuery, concordance_out
from app.openapi import responses, spec
from app.services import stats

bp = Blueprint("stats_api", __name__, url_prefix="/api")


@bp.get("/stats/concordance")
@spec.validate(
    query=ConcordanceQuery,
    resp=responses((401, 403, 422), HTTP_200=ConcordanceOut),
    tags=["statistics"],
)
def concordance(query: ConcordanceQuery):  # type: ignore[no-untyped-def]
    """Return the concordance figures of the reviewed cases the filters select."""
    figures = stats.concordance(actor=current_user, filters=query.filters())
    return concordance_out(figures, sorted(stats.MALIGNANT_ICD10))
