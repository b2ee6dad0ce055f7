"""Ending the session's transaction before a network call, without reloading what it read.

``db.session.rollback()`` expires every object the session holds, so the next use of the
request's user (``actor.id`` in an audit event) or of a row read before costs one more query
after the call. A transaction that changed nothing can be ended with ``COMMIT`` instead (the
same one round trip; ``expire_on_commit`` is off, see :mod:`app.extensions`), which keeps them.
"""

from __future__ import annotations

from app.extensions import db


def end_transaction() -> None:
    """End the session's transaction, if any, before waiting on S3 or the AI Service.

    Rolled back when the session holds changes not written yet (they are dropped, as before a
    network call they must be), else committed (nothing to write), which keeps the objects it
    loaded usable without a query. Code that needs a row as the database has it after the
    call reads it again (``populate_existing``, ``SELECT ... FOR UPDATE``).
    """
    session = db.session()
    if not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        session.rollback()
    else:
        session.commit()
