"""Forty invented, reviewed demo cases with histology outcomes, for the statistics page.

Each is built like every demo case (opened, answered, photo analysed by the AI Service,
reviewed) and then given a histology outcome, so that ``/stats`` shows figures after
``flask demo seed``. The figures are **invented**: the photos are the eight public ISIC
Archive samples reused, each with a few invented patients across Fitzpatrick types I-VI; the
final diagnosis is mostly the sample's ISIC label (``<dx>_ISIC_<id>.jpg``), sometimes another
one; the histology is the ISIC label, except for a few invented surprises. Nothing here is
clinical evidence about the AI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.services.anamnesis import AnswerValue

#: ISIC diagnosis code → (name as the reference AI names it, ICD-10 code).
ISIC_LABELS: dict[str, tuple[str, str]] = {
    "mel": ("Melanoma", "C43.9"),
    "nv": ("Melanocytic nevus", "D22.9"),
    "bcc": ("Basal cell carcinoma", "C44.91"),
    "akiec": ("Actinic keratosis", "L57.0"),
    "bkl": ("Seborrheic keratosis", "L82.1"),
    "df": ("Dermatofibroma", "D23.9"),
    "vasc": ("Vascular lesion", "D18.00"),
}

#: The sample photos, by file name (../shared/samples/images).
PHOTOS: tuple[str, ...] = (
    "mel_ISIC_0033454.jpg",
    "nv_ISIC_0026828.jpg",
    "bcc_ISIC_0028059.jpg",
    "akiec_ISIC_0026388.jpg",
    "bkl_ISIC_0028995.jpg",
    "df_ISIC_0030021.jpg",
    "nv_ISIC_0032787.jpg",
    "vasc_ISIC_0033349.jpg",
)
#: Skin types in turn, the lighter ones more often (as in the ISIC images).
SKIN_TYPES: tuple[str, ...] = ("I", "II", "III", "II", "IV", "III", "V", "II", "VI", "I")
SITES: tuple[str, ...] = ("back", "chest", "face", "forearm", "thigh", "lower_leg", "abdomen")
#: Cases per photo: 8 photos × 5 = 40.
PER_PHOTO = 5
#: The date of the first demo histology report; the others follow a day apart.
FIRST_REPORT = date(2026, 10, 1)


@dataclass(frozen=True)
class DemoOutcome:
    """The invented histology outcome of a demo case."""

    diagnosis: str
    icd10: str
    outcome_date: date
    excised: bool
    notes: str = "Demo outcome: invented."


def _answers(dx: str) -> dict[str, AnswerValue]:
    pigmented = dx in ("mel", "nv", "bkl")
    answers: dict[str, AnswerValue] = {
        "duration": "3-12 months" if dx in ("mel", "bcc", "akiec") else ">1 year",
        "morphology": "pigmented spot or mole" if pigmented else "bump or nodule",
        "elevation": "flat" if pigmented else "raised, firm",
        "diameter_mm": 7 if dx in ("mel", "bcc") else 4,
        "changed_recently": dx in ("mel", "bcc", "akiec"),
        "itch.scale_0_to_5": 1,
        "pain": False,
        "bleeding": dx == "bcc",
        "surface": ["oozing or crusting"] if dx == "bcc" else [],
        "fever": False,
        "immunosuppressed": False,
    }
    if pigmented:
        answers["color"] = ["dark brown", "black"] if dx == "mel" else ["light brown"]
    else:
        answers["color"] = ["pink or red"]
    if answers["changed_recently"]:
        answers["change.features"] = ["size"]
    return answers


def _final(dx: str, index: int) -> tuple[str, str]:
    """The physician's diagnosis: the ISIC label, except every fourth case of a benign
    pigmented photo, read as the other pigmented lesion (an invented disagreement)."""
    if index % 4 == 3 and dx in ("nv", "bkl"):
        return ISIC_LABELS["bkl" if dx == "nv" else "nv"]
    return ISIC_LABELS[dx]


def _histology(dx: str, index: int, number: int) -> DemoOutcome:
    """The ISIC label, except one nevus in ten that is an (invented) melanoma in situ."""
    name, code = ISIC_LABELS[dx]
    if dx == "nv" and index % 10 == 4:
        name, code = "Melanoma in situ", "D03.5"
    return DemoOutcome(
        diagnosis=name,
        icd10=code,
        outcome_date=FIRST_REPORT + timedelta(days=number),
        excised=dx in ("mel", "bcc", "akiec") or code.startswith("D03"),
    )


@dataclass(frozen=True)
class ConcordanceSpec:
    """One generated demo case: the case fields, answers, photo, review and outcome."""

    reference: str
    patient_age: int
    patient_sex: str
    body_site: str
    fitzpatrick_type: str
    chief_complaint: str
    answers: dict[str, AnswerValue]
    photo: str
    final_diagnosis: str
    icd10: str
    outcome: DemoOutcome


def concordance_specs() -> list[ConcordanceSpec]:
    """The forty demo cases, ``DEMO-101`` … ``DEMO-140`` (deterministic)."""
    specs = []
    for number in range(len(PHOTOS) * PER_PHOTO):
        photo = PHOTOS[number % len(PHOTOS)]
        dx = photo.split("_", 1)[0]
        index = number // len(PHOTOS)
        final, code = _final(dx, index + number)
        specs.append(
            ConcordanceSpec(
                reference=f"DEMO-{101 + number}",
                patient_age=30 + (number * 7) % 55,
                patient_sex=("female", "male")[number % 2],
                body_site=SITES[number % len(SITES)],
                fitzpatrick_type=SKIN_TYPES[number % len(SKIN_TYPES)],
                chief_complaint="Demo case (invented) for the statistics page.",
                answers=_answers(dx),
                photo=photo,
                final_diagnosis=final,
                icd10=code,
                outcome=_histology(dx, index + number, number),
            )
        )
    return specs
