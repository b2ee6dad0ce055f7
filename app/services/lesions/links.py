"""Which lesion and patient a case is a visit of: the portal's links from a case (its page, the
case list, the worklist) to its lesion and patient (l17b's addition to the lesions package).

No permission check and no audit: the callers show cases the actor has already been allowed to
read (the case page audits its read), and a link names only the lesion's label and the
patient's pseudonymous reference, which the case itself carries.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Case, Lesion, Patient


@dataclass(frozen=True)
class VisitLink:
    """A case as a visit: ``visit_number`` of ``visit_count`` (1 = first; archived cases are
    not visits, as in the lesion's timeline), its lesion and its patient."""

    case_id: uuid.UUID
    lesion_id: uuid.UUID
    lesion_label: str
    lesion_status: str
    patient_id: uuid.UUID
    patient_reference: str
    visit_number: int | None  # None: the case is archived
    visit_count: int
    previous_case_id: uuid.UUID | None  # the visit before this one, if any


def visit_links(case_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, VisitLink]:
    """``{case id: VisitLink}`` for the given cases that belong to a lesion; two queries."""
    wanted = set(case_ids)
    if not wanted:
        return {}
    lesion_ids = set(
        db.session.scalars(
            select(Case.lesion_id).where(Case.id.in_(wanted), Case.lesion_id.is_not(None))
        )
    )
    if not lesion_ids:
        return {}
    rows = db.session.execute(
        select(
            Case.id,
            Case.lesion_id,
            Case.status,
            Lesion.label,
            Lesion.status,
            Patient.id,
            Patient.reference,
        )  # fmt: skip
        .join(Lesion, Lesion.id == Case.lesion_id)
        .join(Patient, Patient.id == Lesion.patient_id)
        .where(Case.lesion_id.in_(lesion_ids))
        .order_by(Case.lesion_id, Case.created_at, Case.id)
    ).all()
    visits: dict[uuid.UUID, list[uuid.UUID]] = {}
    for case_id, lesion_id, status, *_ in rows:
        if status != "archived":
            visits.setdefault(lesion_id, []).append(case_id)
    links: dict[uuid.UUID, VisitLink] = {}
    for case_id, lesion_id, _status, label, lesion_status, patient_id, reference in rows:
        if case_id not in wanted:
            continue
        numbered = visits.get(lesion_id, [])
        number = numbered.index(case_id) + 1 if case_id in numbered else None
        links[case_id] = VisitLink(
            case_id=case_id,
            lesion_id=lesion_id,
            lesion_label=label,
            lesion_status=lesion_status,
            patient_id=patient_id,
            patient_reference=reference,
            visit_number=number,
            visit_count=len(numbered),
            previous_case_id=numbered[number - 2] if number and number > 1 else None,
        )
    return links


def visit_link(case_id: uuid.UUID) -> VisitLink | None:
    """The case's :class:`VisitLink`, or ``None`` when it belongs to no lesion."""
    return visit_links([case_id]).get(case_id)
