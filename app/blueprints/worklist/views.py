"""The portal's home: the worklist (a physician's own queue; every queue for admins), the
reassign form (admins), and the worklist counts in the navigation."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, request, url_for
from flask_login import current_user

from app.blueprints.portal import after_post, render, thumbnail_response
from app.errors import ValidationFailed
from app.services import worklist
from app.services.worklist import thumbnails

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


@bp.app_template_global("worklist_thumbnail_url")
def worklist_thumbnail_url(item: worklist.WorkItem) -> str:
    """The link of a worklist row's thumbnail, with the token that its ``worklist.view``
    covers it (no ``image.view`` per thumbnail)."""
    assert item.image_id is not None
    token = thumbnails.thumbnail_token(
        actor=current_user, case_id=item.case_id, image_id=item.image_id
    )
    return url_for("worklist.thumbnail", case_id=item.case_id, image_id=item.image_id, t=token)


@bp.get("/worklist/cases/<uuid:case_id>/thumbnails/<uuid:image_id>")
def thumbnail(case_id: uuid.UUID, image_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Send a worklist row's thumbnail; audited by the worklist it was shown on."""
    return thumbnail_response(
        thumbnails.open_thumbnail(
            actor=current_user,
            case_id=case_id,
            image_id=image_id,
            token=request.args.get("t"),
            is_current=request.if_none_match.contains_weak,
        )
    )


#: Largest user id (``users.id`` is a PostgreSQL integer); a bigger number matches nobody.
_MAX_ID = 2**31 - 1


def _user_id(value: str) -> int | None:
    """``value`` as a user id, or ``None`` when it is not one (isdecimal, not isdigit:
    ``"²".isdigit()`` is True and ``int("²")`` raises)."""
    return int(value) if value.isdecimal() and int(value) <= _MAX_ID else None


def _int_arg(name: str) -> int | None:
    return _user_id(request.args.get(name, ""))


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
            physician_id=_user_id(physician) or 0,
        )
    except ValidationFailed:
        flash("Choose an active physician to hand the case to.", "error")
    else:
        flash(f"Case {case.patient_reference} reassigned.", "success")
    return after_post(url_for("worklist.index"))
