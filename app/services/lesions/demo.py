"""Demo data for lesions over time: one demo patient with one lesion seen three times.

Invented (no real patient): a pigmented naevus on the left scapula of a woman born in 1981,
photographed a year ago, six months ago and today (public ISIC Archive photos from
``../shared/samples/images``), analysed by the AI Service. At the first two visits it is a
small, flat, light-brown mole (5, then 6 mm; routine care); at the third it measures 9 mm, shows
three colours, an asymmetric shape and an irregular border and has changed in size and colour:
with the reference AI, melanoma rises from about 2 % to 12 % to over 99 % and the headline
becomes the 2-week suspected-cancer pathway — a change worth referring.

The visits are dated back (365 and 182 days, then today: case, photo and analysis alike) so
that the timeline reads as follow-up; that is the only thing the demo writes outside the
services, and only on demo data.

Idempotent like the rest of ``flask demo seed``: the patient is found by its reference, the
lesion by its label, a visit by its place in the lesion's timeline; only what is missing is done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Analysis, Case, CaseImage, Lesion, Patient, User
from app.models.base import utcnow
from app.services import cases, consent, diagnosis
from app.services.lesions import access, lesions, patients, timeline, visits

REFERENCE = "DEMO-LESION-1"
BIRTH_YEAR = 1981
LABEL = "Left scapula, pigmented naevus"
#: The patient's Fitzpatrick skin type, recorded at the first visit.
SKIN_TYPE = {"fitzpatrick_type": "II"}
#: Where the dot sits on the body map (back view, share of width and height).
MAP_POINT = {"map_x": 0.36, "map_y": 0.27, "map_view": "back"}

_BASE = {
    "sex": "female",
    "location1.primary": "back",
    "duration": ">1 year",
    "morphology": "pigmented spot or mole",
    "elevation": "flat",
    "bleeding": False,
}


@dataclass(frozen=True)
class DemoVisit:
    """One visit of the demo lesion: days before today, the photo and the answers."""

    days_ago: int
    photo: str
    answers: dict[str, Any]
    chief_complaint: str


VISITS: tuple[DemoVisit, ...] = (
    DemoVisit(
        365,
        "nv_ISIC_0026828.jpg",
        {**_BASE, "color": ["light brown"], "pigmented.features": [], "diameter_mm": 5,
         "changed_recently": False},
        "Mole check: baseline photo of a naevus on the left scapula.",
    ),
    DemoVisit(
        182,
        "nv_ISIC_0032787.jpg",
        {**_BASE, "color": ["light brown"], "pigmented.features": [], "diameter_mm": 6,
         "changed_recently": False},
        "Six-month follow-up of the left scapular naevus.",
    ),
    DemoVisit(
        0,
        "mel_ISIC_0033454.jpg",
        {**_BASE, "color": ["light brown", "dark brown", "black"],
         "pigmented.features": ["asymmetric shape", "irregular or blurred border"],
         "diameter_mm": 9, "changed_recently": True, "change.features": ["size", "colour"]},
        "Follow-up: the patient says the mole has grown and darkened.",
    ),
)  # fmt: skip

#: The photos the demo lesion needs in the samples folder.
PHOTOS = tuple(visit.photo for visit in VISITS)


@dataclass(frozen=True)
class LesionSeed:
    """What the seed did: the lesion, its visits (case ids, oldest first) and the steps taken
    in this run (``patient``, ``lesion``, ``visit 1`` …, ``analysed 1`` …), empty when complete."""

    patient_id: uuid.UUID
    lesion_id: uuid.UUID
    case_ids: tuple[uuid.UUID, ...]
    done: tuple[str, ...]


def _patient(user: User, done: list[str]) -> Patient:
    found = db.session.scalar(
        select(Patient).where(Patient.owner_id == user.id, Patient.reference_is(REFERENCE))
    )
    if found is not None:
        return found
    done.append("patient")
    return patients.create_patient(actor=user, reference=REFERENCE, birth_year=BIRTH_YEAR)


def _lesion(user: User, patient: Patient, done: list[str]) -> Lesion:
    found = db.session.scalar(
        select(Lesion).where(Lesion.patient_id == patient.id, Lesion.label == LABEL)
    )
    if found is not None:
        return found
    done.append("lesion")
    return lesions.create_lesion(
        actor=user, patient_id=patient.id, label=LABEL, body_site="back", **MAP_POINT
    )


def needs_ai(user: User | None) -> bool:
    """Whether the demo lesion still needs the AI Service (a visit without an analysis)."""
    if user is None:
        return True
    patient = db.session.scalar(
        select(Patient).where(Patient.owner_id == user.id, Patient.reference_is(REFERENCE))
    )
    lesion = (
        db.session.scalar(
            select(Lesion).where(Lesion.patient_id == patient.id, Lesion.label == LABEL)
        )
        if patient is not None
        else None
    )
    if lesion is None:
        return True
    found = access.visits_of(lesion.id)
    analysed = timeline.latest_completed([case.id for case in found])
    return len(found) < len(VISITS) or len(analysed) < len(VISITS)


def _backdate(case_id: uuid.UUID, days_ago: int) -> None:
    """Date a demo visit ``days_ago`` back: the case, its photos and its analyses (demo data)."""
    case = db.session.get(Case, case_id)
    shift = (utcnow() - timedelta(days=days_ago)) - case.created_at
    if days_ago == 0 or abs(shift) < timedelta(days=1):
        return
    rows = [
        *db.session.scalars(select(CaseImage).where(CaseImage.case_id == case_id)),
        *db.session.scalars(select(Analysis).where(Analysis.case_id == case_id)),
    ]
    for row in rows:
        row.created_at += shift
        if getattr(row, "completed_at", None) is not None:
            row.completed_at += shift
    case.created_at, case.updated_at = case.created_at + shift, case.updated_at + shift
    db.session.commit()


def _date_records(patient: Patient, lesion: Lesion, first_case_id: uuid.UUID) -> None:
    """Date the demo patient and lesion from their first (dated back) visit."""
    first = db.session.get(Case, first_case_id).created_at
    for model, key in ((Patient, patient.id), (Lesion, lesion.id)):
        record = db.session.get(model, key)
        if record.created_at > first:
            record.created_at = record.updated_at = first
    db.session.commit()


def _visit(
    user: User, lesion: Lesion, number: int, *, spec: DemoVisit, samples_dir: Path, done: list[str]
) -> uuid.UUID:
    """Bring visit ``number`` (1-based) as far as ``spec`` says; return its case id."""
    found = access.visits_of(lesion.id)
    age = visits.age_in((utcnow() - timedelta(days=spec.days_ago)).year, BIRTH_YEAR)
    if len(found) >= number:
        case = found[number - 1]
    else:
        case = visits.new_visit(
            actor=user, lesion_id=lesion.id, chief_complaint=spec.chief_complaint, patient_age=age
        )
        if number == 1:  # recorded once; later visits carry them over
            case = cases.update_case(
                actor=user, case_id=case.id, changes={"patient_sex": "female", **SKIN_TYPE}
            )
        done.append(f"visit {number}")
    case_id = case.id
    answers = {"age": age, **spec.answers}
    missing = {key: value for key, value in answers.items() if key not in case.anamnesis}
    if missing and case.status in ("draft", "questionnaire", "awaiting_image"):
        cases.merge_answers(actor=user, case_id=case_id, answers=missing)
    if case_id not in timeline.latest_completed([case_id]):
        consent.grant_for_demo(actor=user, case_id=case_id)  # an invented patient
        if db.session.scalar(select(CaseImage.id).where(CaseImage.case_id == case_id)):
            diagnosis.analyze_case(actor=user, case_id=case_id)
        else:
            with (samples_dir / spec.photo).open("rb") as photo:
                diagnosis.diagnose_upload(
                    actor=user, upload=photo, anamnesis={"photo_taken": True}, case_id=case_id
                )
        done.append(f"analysed {number}")
    _backdate(case_id, spec.days_ago)
    return case_id


def seed_demo_lesion(*, user: User, samples_dir: Path) -> LesionSeed:
    """Create (or complete) the demo patient, its lesion and the lesion's three visits.

    Raises:
        AIServiceError, ImageRejected: an analysis failed (what was done is kept; run again).
        StorageUnavailable: a photo could not be stored.
    """
    done: list[str] = []
    patient = _patient(user, done)
    lesion = _lesion(user, patient, done)
    ids = tuple(
        _visit(user, lesion, number, spec=spec, samples_dir=samples_dir, done=done)
        for number, spec in enumerate(VISITS, start=1)
    )
    _date_records(patient, lesion, ids[0])
    seed = LesionSeed(patient_id=patient.id, lesion_id=lesion.id, case_ids=ids, done=tuple(done))
    db.session.rollback()
    return seed
