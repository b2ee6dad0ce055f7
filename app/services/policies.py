"""Who may do what: pure predicates over an actor and a resource, no I/O, no Flask.

Services call these after loading a resource; the API and the portal never decide access
themselves. A physician reaches only the cases they own; an admin reaches every case. Anything
the actor may not see is reported as "not found" by the services, so existence never leaks.
"""

from __future__ import annotations

from typing import Any


def _is_active(actor: Any) -> bool:
    return actor is not None and bool(getattr(actor, "is_active", False))


def is_admin(actor: Any) -> bool:
    """Whether ``actor`` is an active admin."""
    return _is_active(actor) and bool(getattr(actor, "is_admin", False))


def can_list_all_cases(actor: Any) -> bool:
    """Whether ``actor`` lists every case (admins) rather than only their own."""
    return is_admin(actor)


def can_create_case(actor: Any) -> bool:
    """Whether ``actor`` may open a case (any active user; the case is theirs)."""
    return _is_active(actor)


def can_view_case(actor: Any, case: Any) -> bool:
    """Whether ``actor`` may read ``case`` (its fields, anamnesis and images)."""
    return is_admin(actor) or (_is_active(actor) and case.owner_id == actor.id)


def can_edit_case(actor: Any, case: Any) -> bool:
    """Whether ``actor`` may change ``case``: fields, answers, images, archive.

    Today the same people who may view it: its owner and admins.
    """
    return can_view_case(actor, case)
