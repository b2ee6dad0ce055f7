"""The portal's home: the worklist (a physician's own queue; every queue for admins), the
reassign form (admins), and the worklist counts in the navigation."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, request, url_for
from flask_login import current_user

from app.blueprints.portal import after_post, render
from app.errors import ValidationFailed
from app.services import worklist

bp = Blueprint("worklist", __name__)

#: Words of the worklist states (navigation and page).
STATE_WORDS = {"overdue": "overdue", "due_today": "due today", "upcoming": "later"}
bp.add_app_template_global(STATE_WORDS, "worklist_state_words")


@bp.app_template_global("worklist_counts")
def worklist_counts() -> dict[str, int]:
    """Counts per state of the logged-in user's worklist, for the navigation."""
    if not current_user.is_authenticated:
        return {}
    return worklist.counts(actor=current_user)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """Show the worklist: overdue first, then by due time."""
    state = request.args.get("state") or None
    physician_id = _int_arg("physician") if current_user.is_admin else None
    try:
        items = worklist.worklist(
            actor=current_user, physician_id=physician_id, state=state, limit=200
        )
    except ValidationFailed:
        state, items = None, worklist.worklist(actor=current_user, physician_id=physician_id)
    context: dict[str, Any] = {"items": items, "state": state, "physician_id": physician_id}
    if current_user.is_admin:
        context["physicians"] = worklist.physicians()
    return render("worklist/index.html", "worklist/_list.html", target="worklist", **context)


@bp.post("/cases/<uuid:case_id>/reassign")
def reassign(case_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Hand a case to another physician (admins); back to the worklist."""
    physician = request.form.get("physician_id", "")
    try:
        case = worklist.reassign_case(
            actor=current_user,
            case_id=case_id,
            physician_id=int(physician) if physician.isdigit() else 0,
        )
    except ValidationFailed:
        flash("Choose an active physician to hand the case to.", "error")
    else:
        flash(f"Case {case.patient_reference} reassigned.", "success")
    return after_post(url_for("worklist.index"))
