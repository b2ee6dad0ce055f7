"""The rows behind a case: its patient record and its lesion.

For :mod:`app.services.cases`: every case is one visit of one lesion of one patient. These
helpers only add rows to the session (no audit, no commit); the calling service commits them
with the case.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Case, Lesion, Patient
from app.models.lesion import PATIENT_REFERENCE_KEY
from app.services.clinical_record.words import body_site_label
from app.services.clinical_terms import MAX_LESION_LABEL

#: Body sites whose form label is a hint rather than a name, shortened for a lesion label.
_SHORT_SITES = {"mucosa": "Mucosa", "other": "Other site"}


def default_label(body_site: str, chief_complaint: str | None) -> str:
    """The label of a lesion opened without one: "<body site>: <chief complaint>", at most
    ``MAX_LESION_LABEL`` characters (cut with "…"); the body site alone without a complaint.
    The same rule as migration 0012 used for the cases that existed before lesions."""
    complaint = " ".join((chief_complaint or "").split())
    site = _SHORT_SITES.get(body_site) or body_site_label(body_site)
    label = f"{site}: {complaint}" if complaint else site
    return label if len(label) <= MAX_LESION_LABEL else label[: MAX_LESION_LABEL - 1] + "…"


def _patient_id_or_insert() -> Any:
    """PostgreSQL: insert the patient (``new_id``, ``owner_id``, ``reference``) unless the owner
    has one of that reference in any letter case (the conflict target is the unique index on
    ``(owner_id, lower(reference))``), and give the id of the one inserted or found. Built once
    (its compiled form is cached), executed with those three parameters."""
    owner, reference = bindparam("owner_id"), bindparam("reference")
    inserted = (
        pg_insert(Patient)
        .values(id=bindparam("new_id"), owner_id=owner, reference=reference)
        .on_conflict_do_nothing(index_elements=list(PATIENT_REFERENCE_KEY))
        .returning(Patient.id)
        .cte("inserted")
    )
    existing = select(Patient.id).where(
        Patient.owner_id == owner, func.lower(Patient.reference) == func.lower(reference)
    )
    return union_all(select(inserted.c.id), existing.limit(1)).limit(1)


_PATIENT_ID_OR_INSERT = _patient_id_or_insert()


def patient_id_for(owner_id: int, reference: str) -> uuid.UUID:
    """The id of the owner's patient of ``reference``, inserted (as typed, trimmed) when there
    is none yet. Surrounding spaces and letter case are ignored (:meth:`Patient.reference_is`):
    ``pt-001`` finds the patient recorded as ``PT-001``.

    On PostgreSQL one statement does both (an ``INSERT ... ON CONFLICT DO NOTHING`` on the
    case-insensitive unique index and the look-up of an existing row); a patient added by a
    concurrent request between the two, in any letter case, makes our insert wait on the index
    and is then found by a second look-up. Elsewhere (SQLite): a look-up, then an insert in a
    savepoint.
    """
    reference = reference.strip()
    query = select(Patient.id).where(Patient.owner_id == owner_id, Patient.reference_is(reference))
    if db.session.get_bind().dialect.name == "postgresql":
        params = {"new_id": uuid.uuid4(), "owner_id": owner_id, "reference": reference}
        found = db.session.scalar(_PATIENT_ID_OR_INSERT, params) or db.session.scalar(query)
        if found is None:  # pragma: no cover - the conflicting row is always visible by now
            raise RuntimeError(f"patient {reference!r} of owner {owner_id} vanished")
        return found
    patient_id = db.session.scalar(query)
    if patient_id is not None:
        return patient_id
    try:
        with db.session.begin_nested():  # a concurrent request may add the same patient
            patient = Patient(id=uuid.uuid4(), owner_id=owner_id, reference=reference)
            db.session.add(patient)
    except IntegrityError:
        patient_id = db.session.scalar(query)
        if patient_id is None:
            raise
        return patient_id
    return patient.id


def new_lesion_for(case: Case, patient_id: uuid.UUID) -> Lesion:
    """A new lesion of the patient ``patient_id`` for ``case`` (label from its body site and
    chief complaint, status ``monitoring``), added to the session and flushed (written before
    the case that names it)."""
    lesion = Lesion(
        id=uuid.uuid4(),
        patient_id=patient_id,
        label=default_label(case.body_site, case.chief_complaint),
        body_site=case.body_site,
        status="monitoring",
    )
    db.session.add(lesion)
    db.session.flush()
    return lesion


def attach(case: Case, lesion: Lesion | None = None) -> None:
    """Link a new ``case`` to its patient (by owner and ``patient_reference``) and to
    ``lesion``, or to a new lesion when none is given (clients that know no lesions).

    Call it before the case is added to the session: the patient and the new lesion are
    written first, so that the case's row is inserted once with both ids (no update after).
    """
    if lesion is not None:
        case.patient_id, case.lesion_id = lesion.patient_id, lesion.id
        return
    with db.session.no_autoflush:
        patient_id = patient_id_for(case.owner_id, case.patient_reference)
    case.patient_id = patient_id
    case.lesion_id = new_lesion_for(case, patient_id).id


def follow_reference(case: Case) -> dict[str, Any]:
    """After ``case.patient_reference`` changed, move the case to the owner's patient of the
    new reference: its lesion moves too when the case is the lesion's only visit, otherwise the
    case becomes the first visit of a new lesion. Return the audit changes
    (``{"patient_id": {"before", "after"}, "lesion_id": {...}}``)."""
    patient_id = patient_id_for(case.owner_id, case.patient_reference)
    before = {"patient_id": case.patient_id, "lesion_id": case.lesion_id}
    if patient_id == case.patient_id:
        return {}
    lesion = db.session.get(Lesion, case.lesion_id) if case.lesion_id else None
    others = (
        db.session.scalar(
            select(Case.id).where(Case.lesion_id == lesion.id, Case.id != case.id).limit(1)
        )
        if lesion is not None
        else None
    )
    if lesion is not None and others is None:
        lesion.patient_id = patient_id
    else:
        lesion = new_lesion_for(case, patient_id)
    case.patient_id, case.lesion_id = patient_id, lesion.id
    after = {"patient_id": case.patient_id, "lesion_id": case.lesion_id}
    return {
        name: {"before": _text(before[name]), "after": _text(after[name])}
        for name in before
        if before[name] != after[name]
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
