"""Forget token checks in the process that commits a revoking change, at the commit.

The database's announcement (:mod:`app.services.token_checks.listener`) reaches every worker within
milliseconds, but not synchronously: a worker that has just committed a logout must not accept
the same token on its very next request. SQLAlchemy session events note, at each flush, the
``User`` rows updated or deleted and the ``TokenBlocklist`` rows inserted; after the commit the
process forgets them in every :class:`~app.services.token_checks.memory.TokenChecks` it holds. A
rollback drops the notes. Bulk SQL (``session.execute(update(User))``) is not seen here: the
announcement covers it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import TokenBlocklist, User

_NOTES = "revocation_notes"
_installed = False


def install(all_checks: Callable[[], Iterable[Any]]) -> None:
    """Listen on every ORM session of the process (once); ``all_checks`` lists the memories."""
    global _installed  # noqa: PLW0603 - one set of listeners per process
    if _installed:
        return
    _installed = True

    @event.listens_for(Session, "after_flush")
    def _note(session: Session, _context: Any) -> None:
        users = {o.id for o in (*session.dirty, *session.deleted) if isinstance(o, User)}
        jtis = {o.jti for o in session.new if isinstance(o, TokenBlocklist)}
        if users or jtis:
            notes = session.info.setdefault(_NOTES, (set(), set()))
            notes[0].update(users)
            notes[1].update(jtis)

    @event.listens_for(Session, "after_commit")
    def _forget(session: Session) -> None:
        notes = session.info.pop(_NOTES, None)
        if notes is None:
            return
        users, jtis = notes
        for checks in all_checks():
            for user_id in users:
                checks.forget_user(user_id)
            for jti in jtis:
                checks.forget_token(jti)

    @event.listens_for(Session, "after_rollback")
    def _drop_notes(session: Session) -> None:
        session.info.pop(_NOTES, None)
