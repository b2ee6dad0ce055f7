"""Drafts: a form posted on a case after the portal session had ended by inactivity is kept,
per user, case and form, and handed back once after the next login.

Only a *locked* session (ended by the idle lock, not by logout) can leave a draft, and only for
a case its user may edit: a cookie replayed after logout leaves nothing behind.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Case, Draft, User
from app.models.base import utcnow
from app.services import policies
from app.services.sessions.portal import locked_session_user

#: The case-page forms that keep a draft, and the most text a draft keeps per field.
DRAFT_FORMS = ("answer", "review")
MAX_FIELD_CHARS = 20_000


def keep_draft(
    *, session_key: str | None, case_id: uuid.UUID, form: str, fields: dict[str, list[str]]
) -> bool:
    """Keep ``fields`` (form field name → posted values) as the draft of the locked session's
    user for ``case_id`` and ``form``, replacing an earlier one; return whether it was kept.

    Nothing is kept (``False``) when the session is not locked (logged out, unknown, too old),
    the case does not exist or its user may not edit it, or ``form`` is not in
    :data:`DRAFT_FORMS`. Values longer than :data:`MAX_FIELD_CHARS` are cut there.
    """
    user = locked_session_user(session_key)
    if user is None or form not in DRAFT_FORMS:
        return False
    case = db.session.get(Case, case_id)
    if case is None or not policies.can_edit_case(user, case):
        return False
    # NUL cut too: PostgreSQL cannot store it in jsonb (the posted form was never checked).
    kept = {
        name.replace("\x00", ""): [v.replace("\x00", "")[:MAX_FIELD_CHARS] for v in values]
        for name, values in fields.items()
    }
    draft = db.session.scalar(
        select(Draft).where(Draft.user_id == user.id, Draft.case_id == case_id, Draft.form == form)
    )
    if draft is None:
        draft = Draft(user_id=user.id, case_id=case_id, form=form)
        db.session.add(draft)
    draft.fields = kept
    draft.created_at = utcnow()
    try:
        db.session.commit()
    except IntegrityError:  # the same form posted twice at once: the other one is kept
        db.session.rollback()
    return True


def take_drafts(*, actor: User, case_id: uuid.UUID) -> dict[str, dict[str, list[str]]]:
    """Return and delete ``actor``'s drafts of ``case_id``: ``{form: {field: [values]}}``.

    Handed back once: the form they fill is the place they live on.
    """
    drafts = db.session.scalars(
        select(Draft).where(Draft.user_id == actor.id, Draft.case_id == case_id)
    ).all()
    if not drafts:
        return {}
    found: dict[str, dict[str, Any]] = {draft.form: dict(draft.fields) for draft in drafts}
    db.session.execute(delete(Draft).where(Draft.id.in_([draft.id for draft in drafts])))
    db.session.commit()
    return found
