"""The patient's consent on the case page: shown above the current step, with its form."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash
from flask_login import current_user

from app.blueprints.cases.views import after_case_post, case_view
from app.blueprints.consent.forms import ConsentForm
from app.blueprints.portal import is_htmx
from app.errors import ValidationFailed
from app.services import consent

bp = Blueprint("consent", __name__)
bp.add_app_template_global(ConsentForm.showing, "consent_form_for")
bp.add_app_template_global(consent.SCOPE_LABELS, "consent_scope_labels")
bp.add_app_template_global(consent.state_of, "consent_of")


@bp.post("/cases/<uuid:case_id>/consent")
def record(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Record the patient's consent per scope (by the logged-in user); back to the case."""
    form = ConsentForm()
    if form.validate():
        try:
            consent.record_consent(actor=current_user, case_id=case_id, decisions=form.decisions())
        except ValidationFailed as failed:
            form.form_errors.append(
                failed.details.get("consent") or "Choose granted or refused for a scope."
            )
        else:
            if not is_htmx():
                flash("Consent saved.", "success")
                return after_case_post(case_id, "consent")
            return case_view(case_id, info="Consent saved.")
    return case_view(case_id, 422, consent_form=form)
