"""Portal pages of patients and their lesions: the patient with their lesions, the lesion with
its body map and every visit in a timeline, and two visits compared.

Every form posts and redirects without JavaScript (``after_post``); with htmx the lesion page's
forms swap their own region. The services (``app.services.lesions``) check owner-or-admin and
audit every read and write; a lesion or patient of another physician is a 404 here too.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, flash, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.blueprints.cases.forms import form_key_or_none, show_problems
from app.blueprints.lesions import body_map
from app.blueprints.lesions.forms import (
    LESION_STATUS_WORDS,
    CompareForm,
    LesionForm,
    default_pair,
    place_on_map,
)
from app.blueprints.portal import after_post, is_htmx, render
from app.errors import AIServiceError, Conflict, UpstreamUnavailable, ValidationFailed
from app.services import case_intake
from app.services.lesions import compare, lesions, links, patients, reanalysis, visits

bp = Blueprint("lesions", __name__)
bp.add_app_template_global(LESION_STATUS_WORDS, "lesion_status_words")
bp.add_app_template_global(body_map.point_of, "body_map_point")
bp.add_app_template_global(body_map, "body_map")
bp.add_app_template_global(links.visit_link, "visit_link")
bp.add_app_template_global(links.visit_links, "visit_links")
bp.add_app_template_global(default_pair, "default_compare_pair")


# --- patients ---------------------------------------------------------------------------------


@bp.get("/patients")
def patient_index():  # type: ignore[no-untyped-def]
    """List my patients (everyone's for admins), newest visit first, with a search."""
    q = (request.args.get("q") or "").strip()[:64] or None
    page = request.args.get("page", "1")
    # isdecimal, not isdigit: "²".isdigit() is True and int("²") raises.
    listing = patients.list_patients(
        actor=current_user,
        q=q,
        page=int(page) if page.isdecimal() and 0 < int(page) < 10_000 else 1,
    )
    return render(
        "lesions/patients.html",
        "lesions/_patient_list.html",
        target="patient-results",
        listing=listing,
        q=q or "",
    )


@bp.get("/patients/<uuid:patient_id>")
def patient(patient_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Show a patient with their lesions, and the form to add a lesion."""
    return _patient_page(patient_id, LesionForm(formdata=None))


def _patient_page(patient_id: uuid.UUID, form: LesionForm, status: int = 200) -> Response:
    record = patients.get_patient(actor=current_user, patient_id=patient_id)
    items = patients.patient_lesions(actor=current_user, patient_id=patient_id)
    return render(
        "lesions/patient.html",
        "lesions/_new_lesion.html",
        status,
        target="new-lesion",
        patient=record,
        lesions=items,
        form=form,
    )


@bp.post("/patients/<uuid:patient_id>/lesions")
def new_lesion(patient_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Add a lesion to the patient; on to the new lesion's page."""
    form = LesionForm()
    if form.validate():
        try:
            lesion = lesions.create_lesion(
                actor=current_user, patient_id=patient_id, **form.changes()
            )
        except ValidationFailed as failed:
            show_problems(form, failed.details)
        else:
            flash(
                f"Lesion “{lesion.label}” added. Start its first visit with New visit.", "success"
            )
            return after_post(url_for("lesions.show", lesion_id=lesion.id))
    return _patient_page(patient_id, form, 422)


# --- the lesion page --------------------------------------------------------------------------


@bp.get("/lesions/<uuid:lesion_id>")
def show(lesion_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Show the lesion: details and status, body map, every visit in a timeline, compare."""
    return _lesion_page(lesion_id)


def _lesion_page(
    lesion_id: uuid.UUID,
    status: int = 200,
    *,
    form: LesionForm | None = None,
    map_problem: str | None = None,
    target: str | None = None,
) -> Response:
    record = lesions.get_lesion(actor=current_user, lesion_id=lesion_id)
    if form is None:
        form = LesionForm(formdata=None, data=_details(record.lesion))
    fragments = {"lesion-details": "lesions/_details.html", "body-map": "lesions/_body_map.html"}
    return render(
        "lesions/lesion.html",
        fragments.get(target or "", "lesions/_details.html"),
        status,
        target=target if target in fragments else "lesion-details",
        record=record,
        lesion=record.lesion,
        patient=record.patient,
        form=form,
        map_problem=map_problem,
        compare_form=CompareForm(None, record.visits),
        new_visit_key=uuid.uuid4().hex,
        closed_problem=visits.closed_problem(record.lesion),
    )


def _details(lesion: Any) -> dict[str, Any]:
    return {"label": lesion.label, "body_site": lesion.body_site, "status": lesion.status}


@bp.post("/lesions/<uuid:lesion_id>")
def update(lesion_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Change the lesion's label, body site or status; back to the lesion page."""
    form = LesionForm()
    if form.validate():
        try:
            lesions.update_lesion(actor=current_user, lesion_id=lesion_id, changes=form.changes())
        except ValidationFailed as failed:
            show_problems(form, failed.details)
        else:
            flash("Lesion saved.", "success")
            return after_post(url_for("lesions.show", lesion_id=lesion_id))
    return _lesion_page(lesion_id, 422, form=form, target="lesion-details")


@bp.post("/lesions/<uuid:lesion_id>/map")
def place(lesion_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Place (or remove) the lesion's dot on the body map; back to the map."""
    changes, problem = place_on_map(request.form)
    if changes is not None:
        try:
            lesions.update_lesion(actor=current_user, lesion_id=lesion_id, changes=changes)
        except ValidationFailed as failed:
            problem = " ".join(str(message) for message in failed.details.values())
        else:
            if is_htmx():  # the map region again, with the dot where it was saved
                return _lesion_page(lesion_id, target="body-map")
            return after_post(url_for("lesions.show", lesion_id=lesion_id, _anchor="body-map"))
    return _lesion_page(lesion_id, 422, map_problem=problem, target="body-map")


#: The prefix of a new-visit form's key among the physician's idempotency keys.
VISIT_KEY_PREFIX = "portal-visit-form:"


@bp.post("/lesions/<uuid:lesion_id>/visits")
def new_visit(lesion_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Start a new visit of the lesion (a new case, the questionnaire asked again); the form's
    key makes a double submit (no JavaScript, a reload, Back) lead to the one visit it opened.
    An excised or resolved lesion (a page shown before its status changed) is refused, with
    the reason on the lesion page."""
    key = form_key_or_none(request.form.get("form_key"))
    try:
        case = case_intake.create_once(
            actor=current_user,
            key=VISIT_KEY_PREFIX + key if key else None,
            fields={"lesion_id": str(lesion_id)},
            create=lambda: visits.new_visit(actor=current_user, lesion_id=lesion_id),
        )
    except Conflict as refused:  # excised or resolved, or the first post is still running
        flash(refused.message, "error")
        return after_post(url_for("lesions.show", lesion_id=lesion_id))
    flash(
        "New visit started: what does not change was carried over; "
        "the questionnaire is asked again.",
        "success",
    )
    return after_post(url_for("cases.show", case_id=case.id))


# --- comparing two visits ---------------------------------------------------------------------


@bp.get("/lesions/<uuid:lesion_id>/compare")
def compare_page(lesion_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Compare two visits: photos side by side, slider overlay, and the change in words."""
    return _compare(lesion_id, request.args)


def _compare(
    lesion_id: uuid.UUID, args: Any, status: int = 200, *, notice: str | None = None
) -> Response:
    record = lesions.get_lesion(actor=current_user, lesion_id=lesion_id)
    form = CompareForm(args, record.visits)
    ids = form.case_ids()
    comparison, problem = None, None
    if len(record.visits) < 2:
        so_far = "one visit so far" if record.visits else "no visit yet"
        problem = f"This lesion has {so_far}: comparing takes two visits (New visit starts one)."
    elif ids is None:
        problem = "Choose two visits of this lesion."
    else:
        try:
            comparison = compare.compare_visits(
                actor=current_user, lesion_id=lesion_id, from_case_id=ids[0], to_case_id=ids[1]
            )
        except ValidationFailed as failed:
            problem = (
                " ".join(str(message) for message in failed.details.values()) or failed.message
            )
    reveal = args.get("reveal", "50")
    return render(
        "lesions/compare.html",
        "lesions/compare.html",
        422 if problem and status == 200 else status,
        record=record,
        lesion=record.lesion,
        patient=record.patient,
        form=form,
        comparison=comparison,
        problem=problem,
        notice=notice,
        reveal=int(reveal) // 5 * 5 if reveal.isdecimal() and int(reveal) <= 100 else 50,
    )


@bp.post("/lesions/<uuid:lesion_id>/compare/reanalyse")
def reanalyse(lesion_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Re-analyse the earlier visit's photo with the current model; back to the comparison,
    where both changes stand side by side."""
    query = {"from": request.form.get("from", ""), "to": request.form.get("to", "")}
    shown = MultiDict(query)  # the comparison shown again with a problem
    ids = CompareForm(shown, []).case_ids()
    if ids is None:
        return _compare(lesion_id, shown, 422, notice="Choose two visits of this lesion.")
    try:
        reanalysis.reanalyse_earlier(
            actor=current_user, lesion_id=lesion_id, from_case_id=ids[0], to_case_id=ids[1]
        )
    except (ValidationFailed, Conflict) as refused:
        return _compare(lesion_id, shown, refused.status, notice=refused.message)
    except (AIServiceError, UpstreamUnavailable) as down:
        return _compare(lesion_id, shown, down.status, notice=_REANALYSIS_FAILED)
    flash("The earlier photo was re-analysed with the current model.", "success")
    anchor = "same-model"
    return after_post(url_for("lesions.compare_page", lesion_id=lesion_id, **query, _anchor=anchor))


_REANALYSIS_FAILED = (
    "The AI Service could not re-analyse the earlier photo just now. Nothing was changed; "
    "please try again in a moment."
)
