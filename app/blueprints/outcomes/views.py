"""The histology outcome on the case page: shown once recorded, a form to record it."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, url_for
from flask_login import current_user

from app.blueprints.cases.forms import show_problems
from app.blueprints.cases.views import case_view
from app.blueprints.outcomes.forms import OutcomeForm
from app.blueprints.portal import after_post
from app.errors import ValidationFailed
from app.services import outcomes

bp = Blueprint("outcomes", __name__)
bp.add_app_template_global(outcomes.outcome_of, "case_outcome")
bp.add_app_template_global(OutcomeForm, "outcome_form_class")


@bp.post("/cases/<uuid:case_id>/outcome")
def record(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Record the histology outcome of a reviewed case; back to the case at the outcome."""
    form = OutcomeForm()
    if form.validate():
        try:
            outcomes.record_outcome(
                actor=current_user,
                case_id=case_id,
                diagnosis=form.diagnosis.data or "",
                icd10=form.icd10.data,
                outcome_date=form.outcome_date.data,
                notes=form.notes.data,
                excised=bool(form.excised.data),
            )
        except ValidationFailed as failed:
            show_problems(form, failed.details)
        else:
            flash("Histology outcome saved.", "success")
            return after_post(url_for("cases.show", case_id=case_id, _anchor="outcome"))
    return case_view(case_id, 422, outcome_form=form)
