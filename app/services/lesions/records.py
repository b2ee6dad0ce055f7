"""The rows behind a case: its patient record and its lesion.

For :mod:`app.services.cases`: every case is one visit of one lesion of one patient. These
helpers only add rows to the session (no audit, no commit); the calling service commits them
with the case.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Case, Lesion, Patient
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


def patient_for(owner_id: int, reference: str) -> Patient:
    """The owner's patient of ``reference`` (trimmed, compared exactly), added to the session
    when there is none yet."""
    query = select(Patient).where(Patient.owner_id == owner_id, Patient.reference == reference)
    patient = db.session.scalar(query)
    if patient is not None:
        return patient
    try:
        with db.session.begin_nested():  # a concurrent request may add the same patient
            patient = Patient(owner_id=owner_id, reference=reference)
            db.session.add(patient)
    except IntegrityError:
        patient = db.session.scalar(query)
        if patient is None:
            raise
    return patient


def new_lesion_for(case: Case, patient: Patient) -> Lesion:
    """A new lesion of ``patient`` for ``case`` (label from its body site and chief complaint,
    status ``monitoring``), added to the session."""
    lesion = Lesion(
        patient_id=patient.id,
        label=default_label(case.body_site, case.chief_complaint),
        body_site=case.body_site,
        status="monitoring",
    )
    db.session.add(lesion)
    db.session.flush()
    return lesion


def attach(case: Case, lesion: Lesion | None = None) -> None:
    """Link a new ``case`` to its patient (by owner and ``patient_reference``) and to
    ``lesion``, or to a new lesion when none is given (clients that know no lesions)."""
    if lesion is not None:
        case.patient_id, case.lesion_id = lesion.patient_id, lesion.id
        return
    patient = patient_for(case.owner_id, case.patient_reference)
    case.patient_id = patient.id
    case.lesion_id = new_lesion_for(case, patient).id


def follow_reference(case: Case) -> dict[str, Any]:
    """After ``case.patient_reference`` changed, move the case to the owner's patient of the
    new reference: its lesion moves too when the case is the lesion's only visit, otherwise the
    case becomes the first visit of a new lesion. Return the audit changes
    (``{"patient_id": {"before", "after"}, "lesion_id": {...}}``)."""
    patient = patient_for(case.owner_id, case.patient_reference)
    before = {"patient_id": case.patient_id, "lesion_id": case.lesion_id}
    if patient.id == case.patient_id:
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
        lesion.patient_id = patient.id
    else:
        lesion = new_lesion_for(case, patient)
    case.patient_id, case.lesion_id = patient.id, lesion.id
    after = {"patient_id": case.patient_id, "lesion_id": case.lesion_id}
    return {
        name: {"before": _text(before[name]), "after": _text(after[name])}
        for name in before
        if before[name] != after[name]
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
