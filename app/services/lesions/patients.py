"""Patients: create, list and read (owner-or-admin, every call audited, one commit)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, PermissionDenied, ValidationFailed
from app.extensions import db
from app.models import Case, Lesion, Patient
from app.models.base import utcnow
from app.services import audit, policies
from app.services.cases import MAX_PAGE, MAX_PER_PAGE, patient_reference_problem
from app.services.clinical_terms import MIN_BIRTH_YEAR
from app.services.lesions import access
from app.services.lesions.shapes import LesionSummary, PatientPage, PatientSummary

DEFAULT_PER_PAGE = 20


def birth_year_problem(value: Any) -> str | None:
    """Why ``value`` is not an acceptable year of birth (whole number, 1880–this year)."""
    this_year = utcnow().year
    if isinstance(value, bool) or not isinstance(value, int):
        return "The year of birth must be a whole number."
    if not MIN_BIRTH_YEAR <= value <= this_year:
        return f"The year of birth must be between {MIN_BIRTH_YEAR} and {this_year}."
    return None


def _owned(actor: Any, reference: str) -> Patient | None:
    """The actor's patient of ``reference`` in any letter case (:meth:`Patient.reference_is`)."""
    return db.session.scalar(
        select(Patient).where(Patient.owner_id == actor.id, Patient.reference_is(reference))
    )


def _exists(existing: Patient | None) -> Conflict:
    """409 ``patient_exists`` naming the actor's patient of that reference (as it was recorded:
    a reference differing only in letter case or spaces is the same patient)."""
    if existing is None:
        return Conflict("You already have a patient with this reference.", code="patient_exists")
    return Conflict(
        f"You already have this patient, recorded as {existing.reference}: references that "
        "differ only in capitals or spaces are one patient.",
        code="patient_exists",
        details={"patient_id": str(existing.id)},
    )


def create_patient(*, actor: Any, reference: str, birth_year: int | None = None) -> Patient:
    """Add a patient owned by ``actor`` (``reference`` trimmed; the same rules as a case's
    pseudonymous patient reference).

    Raises:
        ValidationFailed: a bad reference or year of birth (``details``: field → message).
        Conflict: ``patient_exists`` when the actor already has this reference, in any letter
            case (``details["patient_id"]``).
        PermissionDenied: the actor is inactive.
    """
    if not policies.can_create_case(actor):
        raise PermissionDenied()
    reference = reference.strip() if isinstance(reference, str) else ""
    problems = {
        "reference": patient_reference_problem(reference),
        "birth_year": None if birth_year is None else birth_year_problem(birth_year),
    }
    if any(problems.values()):
        raise ValidationFailed({name: why for name, why in problems.items() if why})
    if (existing := _owned(actor, reference)) is not None:
        raise _exists(existing)
    patient = Patient(
        id=uuid.uuid4(), owner_id=actor.id, reference=reference, birth_year=birth_year
    )
    try:
        with db.session.begin_nested():  # a concurrent request may add the same reference
            db.session.add(patient)
    except IntegrityError:  # the savepoint is rolled back; the other request's row is seen
        raise _exists(_owned(actor, reference)) from None
    audit.record(actor, access.PATIENT_CREATE, details={"patient_id": str(patient.id)})
    db.session.commit()
    return patient


def set_birth_year(*, actor: Any, patient_id: uuid.UUID, birth_year: int | None) -> Patient:
    """Record (or clear, with ``None``) the patient's year of birth, from which later visits
    take the age; the audit keeps the value before and after. The reference is not changed
    here: it is changed on a case (``PATCH /api/cases/<id>``), which moves that case.

    Raises:
        NotFound: ``patient_not_found``.
        ValidationFailed: a year of birth out of range.
    """
    if birth_year is not None and (why := birth_year_problem(birth_year)) is not None:
        raise ValidationFailed({"birth_year": why})
    patient = access.require_patient(actor=actor, patient_id=patient_id)
    before = patient.birth_year
    patient.birth_year = birth_year
    audit.record(
        actor,
        access.PATIENT_UPDATE,
        details={
            "patient_id": str(patient.id),
            "fields": ["birth_year"],
            "changes": {"birth_year": {"before": before, "after": birth_year}},
        },
    )
    db.session.commit()
    return patient


def summaries(patients: list[Patient]) -> list[PatientSummary]:
    """The patients with their lesion and visit counts (archived visits not counted)."""
    ids = [patient.id for patient in patients]
    lesion_counts = dict(
        db.session.execute(
            select(Lesion.patient_id, func.count())
            .where(Lesion.patient_id.in_(ids))
            .group_by(Lesion.patient_id)
        ).all()
    )
    visits = {
        row[0]: (row[1], row[2])
        for row in db.session.execute(
            select(Case.patient_id, func.count(), func.max(Case.created_at))
            .where(Case.patient_id.in_(ids), Case.status != "archived")
            .group_by(Case.patient_id)
        )
    }
    return [
        PatientSummary(
            id=patient.id,
            reference=patient.reference,
            birth_year=patient.birth_year,
            lesion_count=lesion_counts.get(patient.id, 0),
            visit_count=visits.get(patient.id, (0, None))[0],
            last_visit_at=visits.get(patient.id, (0, None))[1],
            created_at=patient.created_at,
        )
        for patient in patients
    ]


#: When the patient's newest visit was opened (``None`` without visits), for ordering.
_newest_visit = (
    select(func.max(Case.created_at))
    .where(Case.patient_id == Patient.id)
    .correlate(Patient)
    .scalar_subquery()
)


def list_patients(
    *, actor: Any, q: str | None = None, page: int = 1, per_page: int = DEFAULT_PER_PAGE
) -> PatientPage:
    """One page of the actor's patients (every patient for admins), the one seen most recently
    first (its newest visit; a patient without visits by when it was recorded); ``q`` is a
    case-insensitive substring of the reference.

    Raises:
        ValidationFailed: a page or page size out of range.
    """
    problems = {}
    if not 1 <= page <= MAX_PAGE:
        problems["page"] = f"page must be between 1 and {MAX_PAGE}."
    if not 1 <= per_page <= MAX_PER_PAGE:
        problems["per_page"] = f"per_page must be between 1 and {MAX_PER_PAGE}."
    if problems:
        raise ValidationFailed(problems)
    conditions = []
    if not policies.can_list_all_cases(actor):
        conditions.append(Patient.owner_id == actor.id)
    if q is not None and q.strip():
        escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Patient.reference.ilike(f"%{escaped}%", escape="\\"))
    total = db.session.scalar(select(func.count()).select_from(Patient).where(*conditions)) or 0
    found = list(
        db.session.scalars(
            select(Patient)
            .where(*conditions)
            .order_by(func.coalesce(_newest_visit, Patient.created_at).desc(), Patient.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    audit.record(
        actor,
        access.PATIENT_LIST,
        details={"q": q, "page": page, "per_page": per_page, "total": total},
    )
    db.session.commit()
    return PatientPage(items=summaries(found), total=total, page=page, per_page=per_page)


def get_patient(*, actor: Any, patient_id: uuid.UUID) -> PatientSummary:
    """The patient with its counts; the read is audited.

    Raises:
        NotFound: ``patient_not_found``.
    """
    patient = access.require_patient(actor=actor, patient_id=patient_id)
    audit.record(actor, access.PATIENT_READ, details={"patient_id": str(patient.id)})
    db.session.commit()
    return summaries([patient])[0]


def patient_lesions(*, actor: Any, patient_id: uuid.UUID) -> list[LesionSummary]:
    """The patient's lesions, oldest first, with their visit counts; the read is audited.

    Raises:
        NotFound: ``patient_not_found``.
    """
    from app.services.lesions.lesions import lesion_summaries

    patient = access.require_patient(actor=actor, patient_id=patient_id)
    audit.record(actor, access.LESION_LIST, details={"patient_id": str(patient.id)})
    db.session.commit()
    return lesion_summaries(list(patient.lesions))
