"""Demo data: a demo physician and a few demo cases, built through the real services.

``flask demo seed`` calls :func:`seed_demo` so that a new user sees a populated portal right
after ``make run``. Every case goes the way a physician's case goes: opened with its starting
answers (:func:`app.services.questionnaire.open_case`), the rest of the anamnesis merged
(:func:`app.services.cases.merge_answers`), the photo stored and analysed by the AI Service
(:func:`app.services.diagnosis.diagnose_upload`), and one case reviewed
(:func:`app.services.diagnosis.review_case`); one case is left at the questionnaire.

No real patient data: the references are ``DEMO-001`` …, the ages, complaints and answers are
invented, and the photos are public dermoscopic images of the ISIC Archive (file names
``<dx>_ISIC_<id>.jpg``), shipped in ``../shared/samples/images``.

Idempotent: a demo case is recognised by its owner (the demo physician) and patient reference,
and only what is missing is done: a case interrupted by an AI failure is analysed on the next
run, a complete one is left alone. A second run of a complete seed creates nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.errors import AIServiceError, AppError, Conflict, NotFound
from app.extensions import db
from app.models import Analysis, AnalysisStatus, Case, CaseImage, User
from app.services import accounts, cases, consent, diagnosis, outcomes, questionnaire
from app.services.ai_client import get_ai_client
from app.services.anamnesis import AnswerValue
from app.services.lesions import demo as demo_lesion
from app.services.stats.demo_cases import DemoOutcome, concordance_specs

#: The demo physician's login. ``.example`` is reserved (RFC 2606): it can never be a real inbox.
DEMO_EMAIL = "demo@dermadetect.example"
#: The documented demo password (printed by ``flask demo seed``; it guards demo data only).
DEMO_PASSWORD = "Demo-Derma-2026"  # noqa: S105 - a published demo credential, not a secret
DEMO_FULL_NAME = "Dr. Demo (demo account)"

#: Anamnesis fields of the reference AI Service's questionnaire (../shared/ai-service-contract.md).
_PIGMENTED = "pigmented spot or mole"
_BUMP = "bump or nodule"


class DemoSeedFailed(AppError):
    """The seed could not finish; ``message`` says why, what was done and how to go on."""

    status = 503
    code = "demo_seed_failed"


@dataclass(frozen=True)
class DemoReview:
    """The review recorded on a demo case (its agreement with the AI is derived from the
    analysis; "differs" when the diagnosis is not in the differential)."""

    final_diagnosis: str
    icd10: str
    notes: str


@dataclass(frozen=True)
class DemoCase:
    """One demo case: the case form, the rest of the anamnesis, the photo and maybe a review.

    ``photo`` is a file name in the samples folder; ``None`` leaves the case at the
    questionnaire (no photo, no analysis). ``outcome``: the histology recorded after review.
    """

    reference: str
    patient_age: int
    patient_sex: str
    body_site: str
    fitzpatrick_type: str | None
    chief_complaint: str
    answers: Mapping[str, AnswerValue]
    photo: str | None = None
    review: DemoReview | None = None
    outcome: DemoOutcome | None = None


_HANDWRITTEN: tuple[DemoCase, ...] = (
    DemoCase(
        reference="DEMO-001",
        patient_age=67,
        patient_sex="male",
        body_site="back",
        fitzpatrick_type="II",
        chief_complaint=(
            "Dark mole on the upper back; his partner noticed it has grown and darkened "
            "over the last months."
        ),
        answers={
            "duration": "3-12 months",
            "morphology": _PIGMENTED,
            "elevation": "flat",
            "color": ["light brown", "dark brown", "black"],
            "pigmented.features": ["asymmetric shape", "irregular or blurred border"],
            "diameter_mm": 9,
            "changed_recently": True,
            "change.features": ["size", "colour"],
            "itch.scale_0_to_5": 1,
            "pain": False,
            "bleeding": False,
            "surface": [],
            "fever": False,
            "immunosuppressed": False,
            "family_history_melanoma": True,
        },
        photo="mel_ISIC_0033454.jpg",
    ),
    DemoCase(
        reference="DEMO-002",
        patient_age=34,
        patient_sex="female",
        body_site="upper_arm",
        fitzpatrick_type="III",
        chief_complaint="Mole on the left upper arm, present for years; wants it checked.",
        answers={
            "duration": ">1 year",
            "morphology": _PIGMENTED,
            "elevation": "raised, soft",
            "color": ["light brown"],
            "pigmented.features": [],
            "diameter_mm": 4,
            "changed_recently": False,
            "itch.scale_0_to_5": 0,
            "pain": False,
            "bleeding": False,
            "surface": [],
            "fever": False,
            "immunosuppressed": False,
            "family_history_melanoma": False,
        },
        photo="nv_ISIC_0026828.jpg",
        review=DemoReview(
            final_diagnosis="Melanocytic nevus",
            icd10="D22.6",
            notes="Demo review: symmetric, evenly pigmented, stable for years. Routine follow-up.",
        ),
    ),
    DemoCase(
        reference="DEMO-003",
        patient_age=72,
        patient_sex="male",
        body_site="face",
        fitzpatrick_type="I",
        chief_complaint="Pearly bump beside the nose that does not heal and crusts now and then.",
        answers={
            "duration": "3-12 months",
            "morphology": _BUMP,
            "elevation": "raised, firm",
            "color": ["skin-coloured", "pink or red"],
            "diameter_mm": 6,
            "changed_recently": True,
            "change.features": ["size"],
            "itch.scale_0_to_5": 0,
            "pain": False,
            "bleeding": True,
            "surface": ["oozing or crusting"],
            "fever": False,
            "immunosuppressed": False,
        },
        photo="bcc_ISIC_0028059.jpg",
    ),
    DemoCase(
        reference="DEMO-004",
        patient_age=52,
        patient_sex="male",
        body_site="chest",
        fitzpatrick_type="III",
        chief_complaint="Bright red, soft, dome-shaped spot on the chest; noticed a year ago.",
        answers={
            "duration": ">1 year",
            "morphology": _BUMP,
            "elevation": "raised, soft",
            "color": ["pink or red"],
            "diameter_mm": 3,
            "changed_recently": False,
            "itch.scale_0_to_5": 0,
            "pain": False,
            "bleeding": False,
            "surface": [],
            "fever": False,
            "immunosuppressed": False,
        },
        photo="vasc_ISIC_0033349.jpg",
    ),
    DemoCase(
        reference="DEMO-005",
        patient_age=58,
        patient_sex="female",
        body_site="forearm",
        fitzpatrick_type="II",
        chief_complaint="Rough, scaly patch on the back of the forearm.",
        answers={"duration": "1-3 months"},
    ),
)

#: The hand-written demo cases, then forty reviewed ones with histology for the statistics
#: page (:mod:`app.services.stats.demo_cases`; invented).
DEMO_CASES: tuple[DemoCase, ...] = (
    *_HANDWRITTEN,
    *(
        DemoCase(
            reference=spec.reference,
            patient_age=spec.patient_age,
            patient_sex=spec.patient_sex,
            body_site=spec.body_site,
            fitzpatrick_type=spec.fitzpatrick_type,
            chief_complaint=spec.chief_complaint,
            answers=spec.answers,
            photo=spec.photo,
            review=DemoReview(spec.final_diagnosis, spec.icd10, "Demo review: invented."),
            outcome=spec.outcome,
        )
        for spec in concordance_specs()
    ),
)


@dataclass(frozen=True)
class CaseSeed:
    """What the seed did to one demo case and where the case stands now.

    ``done`` lists the steps taken in this run (``created``, ``answered``, ``analysed``,
    ``reviewed``, ``outcome``), empty when the case was already complete. ``top_diagnosis`` and
    ``probability`` (0–1) come from the newest completed analysis, if any.
    """

    reference: str
    case_id: uuid.UUID
    status: str
    urgency: str | None
    top_diagnosis: str | None
    probability: float | None
    done: tuple[str, ...]


@dataclass
class SeedResult:
    """The demo physician (``email``, whether created now, whether ``password`` logs in) and
    one :class:`CaseSeed` per demo case, in order."""

    email: str
    password: str
    user_created: bool
    password_works: bool
    cases: list[CaseSeed] = field(default_factory=list)
    #: The demo lesion seen three times (:mod:`app.services.lesions.demo`).
    lesion: demo_lesion.LesionSeed | None = None

    @property
    def created_anything(self) -> bool:
        """Whether this run changed anything (a new user, case, answer, analysis or review)."""
        lesion_done = self.lesion is not None and bool(self.lesion.done)
        return self.user_created or lesion_done or any(seed.done for seed in self.cases)


def default_samples_dir() -> Path:
    """Return the folder ``../shared/samples/images`` next to the repository root."""
    return Path(current_app.root_path).resolve().parent.parent / "shared" / "samples" / "images"


def _check_samples(samples_dir: Path) -> None:
    if not samples_dir.is_dir():
        raise NotFound(
            f"The sample images folder {samples_dir} does not exist; pass --samples DIR "
            "(a folder with the demo photos, e.g. ../shared/samples/images). Nothing was created.",
            code="samples_not_found",
        )
    missing = [
        case.photo
        for case in DEMO_CASES
        if case.photo is not None and not (samples_dir / case.photo).is_file()
    ]
    missing += [photo for photo in demo_lesion.PHOTOS if not (samples_dir / photo).is_file()]
    missing = list(dict.fromkeys(missing))
    if missing:
        raise NotFound(
            f"The sample images folder {samples_dir} lacks {', '.join(missing)}. "
            "Nothing was created.",
            code="samples_not_found",
        )


def _find_case(owner_id: int, reference: str) -> Case | None:
    return db.session.scalars(
        select(Case)
        .where(Case.owner_id == owner_id, Case.patient_reference == reference)
        .order_by(Case.created_at)
        .limit(1)
    ).first()


def _completed_analysis(case_id: uuid.UUID) -> Analysis | None:
    return db.session.scalars(
        select(Analysis)
        .where(Analysis.case_id == case_id, Analysis.status == AnalysisStatus.COMPLETED)
        .order_by(Analysis.created_at.desc())
        .limit(1)
    ).first()


def _has_image(case_id: uuid.UUID) -> bool:
    return db.session.scalar(select(CaseImage.id).where(CaseImage.case_id == case_id)) is not None


def _needs_work(user: User | None, spec: DemoCase) -> bool:
    """Whether ``spec`` still needs the AI Service (a photo to analyse) for this user."""
    if spec.photo is None:
        return False
    case = _find_case(user.id, spec.reference) if user is not None else None
    if case is None:
        return True
    return case.status != "archived" and _completed_analysis(case.id) is None


def _require_ai_service() -> None:
    client = get_ai_client()
    try:
        client.health()
    except AIServiceError as error:
        raise DemoSeedFailed(
            f"The AI Service at {client.base_url} does not answer ({error.code}). "
            "Start it (`make run` starts the reference AI service on port 8090) or set "
            "AI_SERVICE_URL to one that runs. Nothing was created."
        ) from error
    finally:
        db.session.rollback()


def _demo_user(password: str) -> tuple[User, bool]:
    user = accounts.find_by_email(DEMO_EMAIL)
    if user is None:
        user = accounts.create_user(
            email=DEMO_EMAIL, password=password, full_name=DEMO_FULL_NAME, role="physician"
        )
        return user, True
    if not user.is_active:
        raise Conflict(
            f"The demo account {DEMO_EMAIL} is deactivated; activate it with "
            f"`flask users activate --email {DEMO_EMAIL}` and run the seed again.",
            code="demo_user_inactive",
        )
    return user, False


def _seed_case(user: User, spec: DemoCase, samples_dir: Path) -> CaseSeed:
    """Bring one demo case as far as ``spec`` says, doing only what is missing."""
    done: list[str] = []
    case = _find_case(user.id, spec.reference)
    if case is None:
        case = questionnaire.open_case(
            actor=user,
            patient_reference=spec.reference,
            patient_age=spec.patient_age,
            patient_sex=spec.patient_sex,
            body_site=spec.body_site,
            chief_complaint=spec.chief_complaint,
            fitzpatrick_type=spec.fitzpatrick_type,
        )
        done.append("created")
    case_id = case.id
    if case.status == "archived":  # someone archived it: leave it as it is
        return _describe(spec, case_id, done)

    missing = {key: value for key, value in spec.answers.items() if key not in case.anamnesis}
    if missing and case.status in ("draft", "questionnaire", "awaiting_image"):
        cases.merge_answers(actor=user, case_id=case_id, answers=missing)
        if "created" not in done:
            done.append("answered")

    if spec.photo is not None and _completed_analysis(case_id) is None:
        consent.grant_for_demo(actor=user, case_id=case_id)  # invented patients
        if _has_image(case_id):  # stored by an earlier run whose analysis failed
            diagnosis.analyze_case(actor=user, case_id=case_id)
        else:
            with (samples_dir / spec.photo).open("rb") as photo:
                # The portal answers the questionnaire's camera question with true.
                diagnosis.diagnose_upload(
                    actor=user, upload=photo, anamnesis={"photo_taken": True}, case_id=case_id
                )
        done.append("analysed")

    if spec.review is not None:
        case = cases.require_case(actor=user, case_id=case_id)
        if case.status == "analyzed":
            diagnosis.review_case(
                actor=user,
                case_id=case_id,
                final_diagnosis=spec.review.final_diagnosis,
                icd10=spec.review.icd10,
                notes=spec.review.notes,
                agreement="differs",  # used only when not derived from the differential
            )
            done.append("reviewed")
    reviewed = cases.require_case(actor=user, case_id=case_id).status == "reviewed"
    if spec.outcome is not None and reviewed and outcomes.outcome_of(case_id) is None:
        outcomes.record_outcome(
            actor=user,
            case_id=case_id,
            diagnosis=spec.outcome.diagnosis,
            icd10=spec.outcome.icd10,
            # A report never predates its visit: a demo seeded after the invented report
            # dates gives the reports the day of the visit.
            outcome_date=max(spec.outcome.outcome_date, outcomes.visit_date(case)),
            notes=spec.outcome.notes,
            excised=spec.outcome.excised,
        )
        done.append("outcome")
    return _describe(spec, case_id, done)


def _describe(spec: DemoCase, case_id: uuid.UUID, done: list[str]) -> CaseSeed:
    case = db.session.get(Case, case_id)
    analysis = _completed_analysis(case_id)
    top: dict[str, Any] = (analysis.predictions or [{}])[0] if analysis is not None else {}
    seed = CaseSeed(
        reference=spec.reference,
        case_id=case_id,
        status=case.status,
        urgency=case.urgency,
        top_diagnosis=top.get("disease"),
        probability=top.get("probability"),
        done=tuple(done),
    )
    db.session.rollback()  # end the read transaction; nothing is held between cases
    return seed


def seed_demo(
    *,
    samples_dir: Path,
    password: str = DEMO_PASSWORD,
    on_case: Callable[[CaseSeed], None] | None = None,
) -> SeedResult:
    """Create (or complete) the demo physician and the demo cases :data:`DEMO_CASES`.

    Order: the samples are checked, then — only when some photo still needs an analysis — the
    AI Service's health, all before anything is written; then the user and each case in turn.
    ``on_case`` is called after each case (for progress output).

    The password is used only when the account is created; for an existing account it is
    checked (``password_works``) and never changed.

    Returns:
        A :class:`SeedResult`; ``created_anything`` is false on a repeated run.

    Raises:
        NotFound: ``samples_not_found``: the folder or a photo in it is missing (nothing created).
        ValidationFailed: ``password`` is too weak for a new account (nothing created).
        Conflict: ``demo_user_inactive``: the demo account exists but is deactivated.
        DemoSeedFailed: the AI Service does not answer (at the start: nothing created; later:
            the message names the cases done and the one that failed; run the seed again).
        StorageUnavailable: a photo could not be stored (the case and its answers are kept).
    """
    _check_samples(samples_dir)
    existing = accounts.find_by_email(DEMO_EMAIL)
    if existing is None and (why := accounts.password_problem(password)) is not None:
        raise DemoSeedFailed(f"{why} Nothing was created.", status=422, code="weak_password")
    if any(_needs_work(existing, spec) for spec in DEMO_CASES) or demo_lesion.needs_ai(existing):
        _require_ai_service()

    user, created = _demo_user(password)
    result = SeedResult(
        email=user.email,
        password=password,
        user_created=created,
        password_works=created or accounts.password_matches(user, password),
    )
    for spec in DEMO_CASES:
        try:
            seed = _seed_case(user, spec, samples_dir)
        except (AIServiceError, diagnosis.ImageRejected) as error:
            db.session.rollback()
            finished = ", ".join(seed.reference for seed in result.cases) or "none"
            raise DemoSeedFailed(
                f"The analysis of {spec.reference} did not complete ({error.code}). "
                f"Cases complete: {finished}; {spec.reference} is kept with its answers and "
                "photo. Run `flask demo seed` again when the AI Service answers: it finishes "
                "what is missing."
            ) from error
        result.cases.append(seed)
        if on_case is not None:
            on_case(seed)
    try:
        result.lesion = demo_lesion.seed_demo_lesion(user=user, samples_dir=samples_dir)
    except (AIServiceError, diagnosis.ImageRejected) as error:
        db.session.rollback()
        raise DemoSeedFailed(
            f"An analysis of the demo lesion ({demo_lesion.REFERENCE}) did not complete "
            f"({error.code}); every demo case is complete and what the lesion got is kept. "
            "Run `flask demo seed` again when the AI Service answers."
        ) from error
    return result
