"""The statistics page and its calibration plot (an SVG image of its own)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import current_user
from pydantic import ValidationError

from app.blueprints.stats.schemas import ConcordanceQuery
from app.errors import ValidationFailed
from app.services import demo, stats, worklist
from app.services.clinical_terms import BODY_SITES, FITZPATRICK_TYPES
from app.services.stats.plot import calibration_svg

bp = Blueprint("stats", __name__)


def _query() -> tuple[ConcordanceQuery, str | None]:
    """The filters of the query string; unusable ones are dropped with a message."""
    args = {name: value for name, value in request.args.items() if value}
    if not current_user.is_admin:
        args.pop("physician_id", None)
    try:
        query = ConcordanceQuery.model_validate(args)
        query.filters().check()
    except (ValidationError, ValidationFailed):
        return ConcordanceQuery(), "Some filters were not understood and are not applied."
    return query, None


@bp.get("/stats")
def index():  # type: ignore[no-untyped-def]
    """Show the concordance statistics with their filters, plot and tables."""
    query, problem = _query()
    figures = stats.concordance(actor=current_user, filters=query.filters())
    return render_template(
        "stats/index.html",
        figures=figures,
        query=query,
        problem=problem,
        plot_args=query.model_dump(exclude_none=True, mode="json"),
        body_sites=BODY_SITES,
        fitzpatrick_types=FITZPATRICK_TYPES,
        model_versions=stats.model_versions(),
        physicians=worklist.physicians() if current_user.is_admin else [],
        malignant=sorted(stats.MALIGNANT_ICD10),
        demo_email=demo.DEMO_EMAIL,
    )


@bp.get("/stats/calibration.svg")
def calibration():  # type: ignore[no-untyped-def]
    """Draw the calibration plot of the same filters as SVG."""
    query, _ = _query()
    figures = stats.concordance(actor=current_user, filters=query.filters())
    response = Response(calibration_svg(figures.calibration), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response
