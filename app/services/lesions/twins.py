"""Patients recorded twice under references differing only in letter case (``PT-001`` and
``pt-001``), from before references were matched regardless of case (migration 0015): find
them, and resolve each pair as the operator decides, clinically.

* the same person → :func:`merge_patients` moves one patient's lesions and visits to the other;
* two people → :func:`rename_patient` gives one of them a reference of its own.

Nothing here runs by itself: migration 0015 refuses to run while twins exist and names them,
and ``flask patients duplicates | merge | rename`` call these functions. Every change is
audited with its values before and after (the merged patient's row, emptied, is deleted; the
audit keeps its id, reference and year of birth).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Case, Lesion, Patient
from app.services import audit
from app.services.cases import patient_reference_problem
from app.services.lesions import access


@dataclass(frozen=True)
class Twin:
    """One patient of a group of twins, with what hangs on it."""

    owner_id: int
    patient_id: uuid.UUID
    reference: str
    birth_year: int | None
    lesion_count: int
    visit_count: int


def reference_twins() -> list[list[Twin]]:
    """Every group of one owner's patients whose references are equal ignoring letter case
    (``lower()``, as the unique index of migration 0015), oldest patient first; ``[]`` when
    there are none (always, once migration 0015 has run)."""
    folded = func.lower(Patient.reference)
    groups = (
        select(Patient.owner_id, folded.label("folded"))
        .group_by(Patient.owner_id, folded)
        .having(func.count() > 1)
        .subquery()
    )
    lesions = select(func.count()).where(Lesion.patient_id == Patient.id).scalar_subquery()
    visits = select(func.count()).where(Case.patient_id == Patient.id).scalar_subquery()
    rows = db.session.execute(
        select(Patient, lesions, visits, folded)
        .join(groups, (groups.c.owner_id == Patient.owner_id) & (groups.c.folded == folded))
        .order_by(Patient.owner_id, folded, Patient.created_at, Patient.id)
    ).all()
    found: dict[tuple[int, str], list[Twin]] = {}
    for patient, lesion_count, visit_count, key in rows:
        found.setdefault((patient.owner_id, key), []).append(
            Twin(
                owner_id=patient.owner_id,
                patient_id=patient.id,
                reference=patient.reference,
                birth_year=patient.birth_year,
                lesion_count=lesion_count,
                visit_count=visit_count,
            )
        )
    return list(found.values())


def _patient(patient_id: uuid.UUID) -> Patient:
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"There is no patient {patient_id}.", code="patient_not_found")
    return patient


def merge_patients(*, actor: Any, source_id: uuid.UUID, into_id: uuid.UUID) -> Patient:
    """Make ``source_id`` and ``into_id`` one patient: every lesion and visit (case) of the
    source moves to ``into_id``, which keeps its reference; the source's year of birth is
    taken when ``into_id`` has none; the emptied source row is deleted. The cases keep the
    reference as typed. Audited: ``patient.merge`` (both patients, the lesions and cases
    moved) and a ``case.update`` per moved case (``patient_id`` before and after).

    Only twins may be merged (same owner, references equal ignoring letter case and spaces):
    merging two different references is not what this is for.

    Raises:
        NotFound: ``patient_not_found``.
        ValidationFailed: the same patient twice, another owner, or another reference.
        Conflict: ``birth_year_differs`` (both have a year of birth, not the same: set the
            right one first, ``PATCH /api/patients/<id>``).
    """
    source, into = _patient(source_id), _patient(into_id)
    if source.id == into.id:
        raise ValidationFailed({"into": "A patient cannot be merged into itself."})
    if source.owner_id != into.owner_id:
        raise ValidationFailed({"into": "These patients belong to different physicians."})
    if source.reference.strip().lower() != into.reference.strip().lower():
        raise ValidationFailed(
            {
                "into": f"{source.reference!r} and {into.reference!r} are different references; "
                "only references that differ in letter case or spaces are merged."
            }
        )
    if None not in (source.birth_year, into.birth_year) and source.birth_year != into.birth_year:
        raise Conflict(
            f"The two records give different years of birth ({source.birth_year} and "
            f"{into.birth_year}); nothing was merged. Set the right year on both first "
            "(PATCH /api/patients/<id>), or rename one if they are two patients.",
            code="birth_year_differs",
        )
    lesion_ids = list(db.session.scalars(select(Lesion.id).where(Lesion.patient_id == source.id)))
    case_ids = list(db.session.scalars(select(Case.id).where(Case.patient_id == source.id)))
    birth_year_before = into.birth_year
    if into.birth_year is None:
        into.birth_year = source.birth_year
    db.session.execute(
        update(Lesion).where(Lesion.patient_id == source.id).values(patient_id=into.id)
    )
    db.session.execute(update(Case).where(Case.patient_id == source.id).values(patient_id=into.id))
    for case_id in case_ids:
        audit.record(
            actor,
            audit.CASE_UPDATE,
            case_id=case_id,
            details={
                "fields": ["patient_id"],
                "changes": {"patient_id": {"before": str(source.id), "after": str(into.id)}},
                "reason": access.PATIENT_MERGE,
            },
        )
    audit.record(
        actor,
        access.PATIENT_MERGE,
        details={
            "patient_id": str(into.id),
            "merged": {
                "patient_id": str(source.id),
                "reference": source.reference,
                "birth_year": source.birth_year,
            },
            "reference": into.reference,
            "changes": {"birth_year": {"before": birth_year_before, "after": into.birth_year}},
            "lesions": [str(lesion_id) for lesion_id in lesion_ids],
            "cases": [str(case_id) for case_id in case_ids],
        },
    )
    db.session.flush()
    db.session.delete(source)
    db.session.commit()
    return into


def rename_patient(*, actor: Any, patient_id: uuid.UUID, reference: str) -> Patient:
    """Give the patient a new reference (for twins that are two people); its cases take it
    too, so that what they show matches their patient. Audited: ``patient.update`` and a
    ``case.update`` per case, each with the reference before and after.

    Raises:
        NotFound: ``patient_not_found``.
        ValidationFailed: the reference breaks the rules of a pseudonymous reference.
        Conflict: ``patient_exists`` when the owner has another patient of that reference
            (in any letter case).
    """
    patient = _patient(patient_id)
    reference = reference.strip() if isinstance(reference, str) else ""
    if (why := patient_reference_problem(reference)) is not None:
        raise ValidationFailed({"reference": why})
    taken = db.session.scalar(
        select(Patient.id).where(
            Patient.owner_id == patient.owner_id,
            Patient.reference_is(reference),
            Patient.id != patient.id,
        )
    )
    if taken is not None:
        raise Conflict(
            f"This physician already has a patient {reference!r} (in some letter case).",
            code="patient_exists",
            details={"patient_id": str(taken)},
        )
    before = patient.reference
    patient.reference = reference
    for case in db.session.scalars(select(Case).where(Case.patient_id == patient.id)):
        if case.patient_reference != reference:
            change = {"before": case.patient_reference, "after": reference}
            case.patient_reference = reference
            audit.record(
                actor,
                audit.CASE_UPDATE,
                case_id=case.id,
                details={
                    "fields": ["patient_reference"],
                    "changes": {"patient_reference": change},
                    "reason": access.PATIENT_UPDATE,
                },
            )
    audit.record(
        actor,
        access.PATIENT_UPDATE,
        details={
            "patient_id": str(patient.id),
            "fields": ["reference"],
            "changes": {"reference": {"before": before, "after": reference}},
        },
    )
    db.session.commit()
    return patient
