"""JSON API of lesions over time: ``/api/patients`` and ``/api/lesions`` (issue #17).

Views are thin: parse (spectree + pydantic), call one service of :mod:`app.services.lesions`,
serialise. Owner-or-admin rules, audit and transactions live in the services; another
physician's patient or lesion is a 404 like one that does not exist.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, url_for
from flask_jwt_extended import current_user

from app.blueprints.cases.api import case_out
from app.blueprints.cases.schemas import CaseOut
from app.blueprints.lesions.schemas import (
    ComparisonOut,
    LesionDetail,
    LesionIn,
    LesionList,
    LesionOut,
    LesionUpdate,
    PatientIn,
    PatientList,
    PatientListQuery,
    PatientOut,
    PatientUpdate,
    VisitIn,
    VisitPairIn,
    VisitPairQuery,
)
from app.openapi import responses, spec
from app.services.admission import admit_diagnosis
from app.services.lesions import compare, lesions, patients, reanalysis, visits

bp = Blueprint("lesions_api", __name__, url_prefix="/api")

_TAG = "lesions"


@bp.post("/patients")
@spec.validate(
    json=PatientIn, resp=responses((401, 409, 415, 422), HTTP_201=PatientOut), tags=[_TAG]
)
def create_patient(json: PatientIn):  # type: ignore[no-untyped-def]
    """Add a patient (a pseudonymous reference, unique per physician); 409 if it exists."""
    patient = patients.create_patient(
        actor=current_user, reference=json.reference, birth_year=json.birth_year
    )
    location = {"Location": url_for("lesions_api.get_patient", patient_id=patient.id)}
    return PatientOut.model_validate(patients.summaries([patient])[0]), 201, location


@bp.get("/patients")
@spec.validate(
    query=PatientListQuery, resp=responses((401, 422), HTTP_200=PatientList), tags=[_TAG]
)
def list_patients(query: PatientListQuery):  # type: ignore[no-untyped-def]
    """List the caller's patients (all patients for admins), newest first."""
    page = patients.list_patients(
        actor=current_user, q=query.q, page=query.page, per_page=query.per_page
    )
    return PatientList.model_validate(page)


@bp.get("/patients/<uuid:patient_id>")
@spec.validate(resp=responses((401, 404), HTTP_200=PatientOut), tags=[_TAG])
def get_patient(patient_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Return a patient with the counts of its lesions and visits."""
    return PatientOut.model_validate(
        patients.get_patient(actor=current_user, patient_id=patient_id)
    )


@bp.patch("/patients/<uuid:patient_id>")
@spec.validate(
    json=PatientUpdate, resp=responses((401, 404, 415, 422), HTTP_200=PatientOut), tags=[_TAG]
)
def update_patient(patient_id: uuid.UUID, json: PatientUpdate):  # type: ignore[no-untyped-def]
    """Record or clear the patient's year of birth (later visits take the age from it)."""
    patient = patients.set_birth_year(
        actor=current_user, patient_id=patient_id, birth_year=json.birth_year
    )
    return PatientOut.model_validate(patients.summaries([patient])[0])


@bp.get("/patients/<uuid:patient_id>/lesions")
@spec.validate(resp=responses((401, 404), HTTP_200=LesionList), tags=[_TAG])
def patient_lesions(patient_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """List a patient's lesions, oldest first, with their visit counts."""
    found = patients.patient_lesions(actor=current_user, patient_id=patient_id)
    return LesionList(items=[LesionOut.model_validate(item) for item in found])


@bp.post("/lesions")
@spec.validate(json=LesionIn, resp=responses((401, 404, 415, 422), HTTP_201=LesionOut), tags=[_TAG])
def create_lesion(json: LesionIn):  # type: ignore[no-untyped-def]
    """Add a lesion to one of the caller's patients (label, body site, body-map point)."""
    lesion = lesions.create_lesion(actor=current_user, **json.model_dump())
    location = {"Location": url_for("lesions_api.get_lesion", lesion_id=lesion.id)}
    return LesionOut.model_validate(lesions.lesion_summaries([lesion])[0]), 201, location


@bp.get("/lesions/<uuid:lesion_id>")
@spec.validate(resp=responses((401, 404), HTTP_200=LesionDetail), tags=[_TAG])
def get_lesion(lesion_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Return a lesion, its patient and every visit (the timeline, oldest first)."""
    return LesionDetail.model_validate(lesions.get_lesion(actor=current_user, lesion_id=lesion_id))


@bp.patch("/lesions/<uuid:lesion_id>")
@spec.validate(
    json=LesionUpdate, resp=responses((401, 404, 415, 422), HTTP_200=LesionOut), tags=[_TAG]
)
def update_lesion(lesion_id: uuid.UUID, json: LesionUpdate):  # type: ignore[no-untyped-def]
    """Change a lesion's label, body site, body-map point or status (audited)."""
    lesion = lesions.update_lesion(actor=current_user, lesion_id=lesion_id, changes=json.changes())
    return LesionOut.model_validate(lesions.lesion_summaries([lesion])[0])


@bp.post("/lesions/<uuid:lesion_id>/cases")
@spec.validate(
    json=VisitIn, resp=responses((401, 404, 409, 415, 422), HTTP_201=CaseOut), tags=[_TAG]
)
def new_visit(lesion_id: uuid.UUID, json: VisitIn):  # type: ignore[no-untyped-def]
    """Open a new visit (case) of the lesion: sex, skin type, site and age carried over (and
    in the anamnesis as the answers to age, sex and body site), the rest of the questionnaire
    asked again. 409 ``lesion_closed`` for an excised or resolved lesion: set its status back
    to ``monitoring`` (PATCH, audited), or add a new lesion for a recurrence."""
    case = visits.new_visit(
        actor=current_user,
        lesion_id=lesion_id,
        chief_complaint=json.chief_complaint,
        patient_age=json.patient_age,
    )
    return case_out(case), 201, {"Location": url_for("cases_api.get_case", case_id=case.id)}


@bp.get("/lesions/<uuid:lesion_id>/compare")
@spec.validate(
    query=VisitPairQuery, resp=responses((401, 404, 422), HTTP_200=ComparisonOut), tags=[_TAG]
)
def compare_visits(lesion_id: uuid.UUID, query: VisitPairQuery):  # type: ignore[no-untyped-def]
    """Compare two visits: the answers, tier, top diagnosis, probabilities and red flags that
    changed, in words and as data; with the same-model change once re-analysed."""
    result = compare.compare_visits(
        actor=current_user, lesion_id=lesion_id, from_case_id=query.from_, to_case_id=query.to
    )
    return ComparisonOut.model_validate(result)


@bp.post("/lesions/<uuid:lesion_id>/compare/reanalyse")
@spec.validate(
    json=VisitPairIn,
    resp=responses((401, 404, 409, 415, 422, 502, 503, 504), HTTP_201=ComparisonOut),
    tags=[_TAG],
)
def reanalyse(lesion_id: uuid.UUID, json: VisitPairIn):  # type: ignore[no-untyped-def]
    """Analyse the earlier visit's photo again with the current model (a new record on that
    visit; its own analysis is kept as it was) and return the comparison with both changes."""
    # Admitted at the door as a whole diagnosis is (app/services/admission.py): its JSON body is
    # small, so being read by now costs nothing.
    admit_diagnosis()
    result = reanalysis.reanalyse_earlier(
        actor=current_user, lesion_id=lesion_id, from_case_id=json.from_, to_case_id=json.to
    )
    return ComparisonOut.model_validate(result), 201
