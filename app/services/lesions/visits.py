"""A new visit of a followed lesion: a new case carrying over what does not change."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from app.errors import Conflict
from app.models import Case, Lesion
from app.models.base import utcnow
from app.services import cases, questionnaire
from app.services.clinical_terms import (
    CLOSED_LESION_STATUSES,
    MAX_PATIENT_AGE,
    MIN_PATIENT_AGE,
)
from app.services.lesions import access


def age_in(year_of_visit: int, birth_year: int | None) -> int | None:
    """The age carried to a visit from the year of birth: the visit's year minus the year of
    birth (whole years; may be one year more than the exact age before the birthday), or
    ``None`` when the year of birth is unknown or the result is out of 0–120."""
    if birth_year is None:
        return None
    age = year_of_visit - birth_year
    return age if MIN_PATIENT_AGE <= age <= MAX_PATIENT_AGE else None


def carried_over(lesion: Lesion, previous: Case | None, *, today: date) -> dict[str, Any]:
    """The case fields a new visit of ``lesion`` starts with: the patient reference, the
    lesion's body site, and from the previous visit the sex and Fitzpatrick skin type; the age
    from the patient's year of birth when known, else the previous visit's age (``None`` for a
    first visit without a year of birth). The previous answers are not carried: the
    questionnaire is asked again, because the answers (size, colour, bleeding …) are what may
    have changed; only age, sex and site, carried here, answer its first questions."""
    patient = lesion.patient
    age = age_in(today.year, patient.birth_year)
    return {
        "patient_reference": patient.reference,
        "patient_age": age if age is not None else (previous.patient_age if previous else None),
        "patient_sex": previous.patient_sex if previous else "unknown",
        "fitzpatrick_type": previous.fitzpatrick_type if previous else None,
        "body_site": lesion.body_site,
    }


def closed_problem(lesion: Any) -> str | None:
    """Why ``lesion`` (a ``Lesion`` or its summary) takes no new visit, or ``None``: its status
    is one of ``CLOSED_LESION_STATUSES`` (excised, resolved), which ends the follow-up."""
    if lesion.status not in CLOSED_LESION_STATUSES:
        return None
    return (
        f"This lesion is recorded as {lesion.status}, so it gets no new follow-up visits. "
        "If it is still being followed, set its status back to monitoring first (the change "
        "is recorded); for a recurrence at the scar or a lesion nearby, add a new lesion for "
        "the patient and start its first visit."
    )


def new_visit(
    *,
    actor: Any,
    lesion_id: uuid.UUID,
    chief_complaint: str | None = None,
    patient_age: int | None = None,
) -> Case:
    """Open a new visit (case) of a lesion, with the fields of :func:`carried_over`, whose
    anamnesis starts with what they answer (``questionnaire.starting_answers``: age, sex, body
    site; status ``questionnaire``, or ``draft`` when none is known) and the rest of the
    questionnaire asked again; ``patient_age`` overrides the carried age; the chief complaint
    defaults to "Follow-up visit: <label>". The case belongs to the patient's owner (an
    admin may record a visit of another physician's patient). Audited as ``case.create``
    (with the lesion id).

    Raises:
        NotFound: ``lesion_not_found``.
        Conflict: ``lesion_closed``: the lesion is excised or resolved (:func:`closed_problem`;
            ``details``: ``lesion_id``, ``status``); nothing is written.
        ValidationFailed: a bad chief complaint or age.
    """
    lesion = access.require_lesion(actor=actor, lesion_id=lesion_id)
    if (why := closed_problem(lesion)) is not None:
        raise Conflict(
            why,
            code="lesion_closed",
            details={"lesion_id": str(lesion.id), "status": lesion.status},
        )
    visits = access.visits_of(lesion.id)
    fields = carried_over(lesion, visits[-1] if visits else None, today=utcnow().date())
    if patient_age is not None:
        fields["patient_age"] = patient_age
    complaint = chief_complaint if chief_complaint is not None else ""
    if not complaint.strip():
        complaint = f"Follow-up visit: {lesion.label}"
    case = cases.create_case(actor=actor, chief_complaint=complaint, lesion=lesion, **fields)
    # What was carried over answers the questionnaire's first questions (age, sex, body site),
    # as the New case form's fields do: not asked again, so an answer cannot silently replace
    # the carried-over value.
    answers = questionnaire.starting_answers(case)
    if answers:
        case = cases.merge_answers(actor=actor, case_id=case.id, answers=answers)
    return case
