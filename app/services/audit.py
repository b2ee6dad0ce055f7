"""The audit trail: one ``AuditEvent`` per create, read, update and archive of a case and per
upload, view and delete of an image.

``record`` only adds the event to the session: the calling service commits it together with the
change it describes (one transaction), or commits it alone for a read. The request id and client
address come from :mod:`app.observability`, so services never touch ``request``; both are null in
the CLI and background jobs.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.extensions import db
from app.models import AuditEvent
from app.observability import current_client_address, current_request_id

#: Actions written by the cases and images services (the diagnosis adds ``case.analyze``,
#: the review ``case.review``).
CASE_CREATE = "case.create"
CASE_LIST = "case.list"
CASE_READ = "case.read"
CASE_UPDATE = "case.update"
CASE_ARCHIVE = "case.archive"
CASE_UNARCHIVE = "case.unarchive"
IMAGE_UPLOAD = "image.upload"
IMAGE_VIEW = "image.view"
IMAGE_DELETE = "image.delete"
CASE_ANALYZE = "case.analyze"
CASE_REVIEW = "case.review"
CASE_REOPEN = "case.reopen"
#: Written by the admin CLI (actor ``None``): an export of cases, the orphan purge's deletion of
#: an image row whose object is missing, and of a stored object that no image row names.
CASE_EXPORT = "case.export"
IMAGE_PURGE = "image.purge"
IMAGE_PURGE_OBJECT = "image.purge_object"


def record(
    actor: Any,
    action: str,
    case_id: uuid.UUID | None = None,
    image_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current session (not committed) and return it.

    Args:
        actor: the acting ``User``, or ``None`` for the CLI and system jobs.
        action: dotted verb, e.g. ``"case.read"`` (see the constants in this module).
        case_id, image_id: what was acted on, if anything.
        details: JSON-serialisable context (field names, filters, sizes). Changes to a case
            carry the values before and after (``"changes"``), so that the record of what
            a result was read beside survives the change; nothing else holds patient data.
    """
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        case_id=case_id,
        image_id=image_id,
        request_id=current_request_id(),
        client_address=current_client_address(),
        details=dict(details or {}),
    )
    db.session.add(event)
    return event
