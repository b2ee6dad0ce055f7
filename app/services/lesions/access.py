"""Loading the patients and lesions an actor may see, and the audit action names.

Owner-or-admin, as for cases (:mod:`app.services.policies`): a physician reaches the patients
they own, and those patients' lesions; an admin reaches all. Anything else is reported as not
found, exactly like something that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.models import Case, Lesion, Patient
from app.services import policies

PATIENT_CREATE = "patient.create"
PATIENT_LIST = "patient.list"
PATIENT_READ = "patient.read"
PATIENT_UPDATE = "patient.update"
PATIENT_MERGE = "patient.merge"
LESION_CREATE = "lesion.create"
LESION_LIST = "lesion.list"
LESION_READ = "lesion.read"
LESION_UPDATE = "lesion.update"
LESION_COMPARE = "lesion.compare"
LESION_REANALYSE = "lesion.reanalyse"


def can_view_patient(actor: Any, patient: Patient) -> bool:
    """Whether ``actor`` may see ``patient`` (and its lesions): its owner or an admin."""
    return policies.can_view_case(actor, patient)  # the same rule: owner_id or admin


def require_patient(*, actor: Any, patient_id: uuid.UUID) -> Patient:
    """The patient, when the actor may see it.

    Raises:
        NotFound: ``patient_not_found`` (also for another physician's patient).
    """
    patient = db.session.get(Patient, patient_id)
    if patient is None or not can_view_patient(actor, patient):
        raise NotFound("Patient not found.", code="patient_not_found")
    return patient


def require_lesion(*, actor: Any, lesion_id: uuid.UUID) -> Lesion:
    """The lesion, when the actor may see its patient.

    Raises:
        NotFound: ``lesion_not_found`` (also for another physician's lesion).
    """
    lesion = db.session.get(Lesion, lesion_id)
    if lesion is None or not can_view_patient(actor, lesion.patient):
        raise NotFound("Lesion not found.", code="lesion_not_found")
    return lesion


def visits_of(lesion_id: uuid.UUID, *, archived: bool = False) -> list[Case]:
    """The lesion's cases (visits), oldest first; archived ones only with ``archived``."""
    query = select(Case).where(Case.lesion_id == lesion_id)
    if not archived:
        query = query.where(Case.status != "archived")
    return list(db.session.scalars(query.order_by(Case.created_at, Case.id)))
