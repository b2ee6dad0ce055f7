"""Lesions over time, services: patients and lesions behind every case, a new visit carrying
over what does not change, the timeline, and two visits compared in words (reference AI over
real HTTP, PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Case, Lesion, Patient, User
from app.models.base import utcnow
from app.services import cases, questionnaire
from app.services.lesions import compare, lesions, patients, visits
from tests.fixtures.cases import case_payload
from tests.lesion_visits import make_lesion, seen_three_times


def _actor(user):
    return db.session.get(User, user.id)


# --- patients and lesions behind every case --------------------------------------------------


def test_a_case_opened_without_a_lesion_gets_its_patient_and_a_new_lesion(app, make_user):
    owner, other = make_user(), make_user()
    with app.app_context():
        first = cases.create_case(actor=_actor(owner), **case_payload(patient_reference="PT-9"))
        second = cases.create_case(
            actor=_actor(owner), **case_payload(patient_reference="PT-9", body_site="face")
        )
        theirs = cases.create_case(actor=_actor(other), **case_payload(patient_reference="PT-9"))
        assert first.patient_id == second.patient_id != theirs.patient_id
        assert first.lesion_id != second.lesion_id
        lesion = db.session.get(Lesion, second.lesion_id)
        assert (lesion.body_site, lesion.status) == ("face", "monitoring")
        assert lesion.label.startswith("Face: Pigmented lesion that changed colour")
        other = cases.create_case(
            actor=_actor(owner), **case_payload(body_site="other", chief_complaint="Behind ear")
        )
        assert db.session.get(Lesion, other.lesion_id).label == "Other site: Behind ear"
        patient = db.session.get(Patient, first.patient_id)
        assert (patient.owner_id, patient.reference) == (owner.id, "PT-9")


def test_changing_a_case_reference_moves_it_to_that_patient(app, make_user):
    owner = make_user()
    with app.app_context():
        alone = cases.create_case(actor=_actor(owner), **case_payload(patient_reference="PT-A"))
        lesion_id = alone.lesion_id
        cases.update_case(
            actor=_actor(owner), case_id=alone.id, changes={"patient_reference": "PT-B"}
        )
        moved = db.session.get(Case, alone.id)
        patient_b = db.session.get(Patient, moved.patient_id)
        assert patient_b.reference == "PT-B"
        assert moved.lesion_id == lesion_id  # its only visit: the lesion moved along
        assert db.session.get(Lesion, lesion_id).patient_id == patient_b.id

        # a lesion with two visits stays; the moved visit starts a lesion of its own
        _, shared = make_lesion(app, owner, reference="PT-C", birth_year=None)
        one = visits.new_visit(actor=_actor(owner), lesion_id=shared)
        visits.new_visit(actor=_actor(owner), lesion_id=shared)
        cases.update_case(
            actor=_actor(owner), case_id=one.id, changes={"patient_reference": "PT-B"}
        )
        one = db.session.get(Case, one.id)
        assert one.patient_id == patient_b.id and one.lesion_id != shared
        assert db.session.get(Lesion, shared).patient.reference == "PT-C"


def test_create_patient_rules(app, make_user):
    owner = make_user()
    with app.app_context():
        patient = patients.create_patient(actor=_actor(owner), reference=" PT-1 ", birth_year=1970)
        assert patient.reference == "PT-1"
        with pytest.raises(Conflict) as exists:
            patients.create_patient(actor=_actor(owner), reference="PT-1")
        assert exists.value.code == "patient_exists"
        assert exists.value.details == {"patient_id": str(patient.id)}
        with pytest.raises(ValidationFailed) as bad:
            patients.create_patient(
                actor=_actor(owner), reference="jane@example.org", birth_year=utcnow().year + 1
            )
        assert set(bad.value.details) == {"reference", "birth_year"}
        with pytest.raises(ValidationFailed):
            patients.create_patient(actor=_actor(owner), reference="   ")


def test_lesion_fields_are_checked_and_the_body_map_point_is_whole(app, make_user):
    owner, other = make_user(), make_user()
    patient_id, lesion_id = make_lesion(app, owner)
    with app.app_context():
        with pytest.raises(ValidationFailed) as bad:
            lesions.create_lesion(
                actor=_actor(owner),
                patient_id=patient_id,
                label="",
                body_site="elbow",
                map_x=1.5,
                status="gone",
            )
        assert set(bad.value.details) == {"label", "body_site", "map_x", "map_view", "status"}
        with pytest.raises(NotFound) as hidden:
            lesions.create_lesion(
                actor=_actor(other), patient_id=patient_id, label="x", body_site="back"
            )
        assert hidden.value.code == "patient_not_found"
        moved = lesions.update_lesion(
            actor=_actor(owner), lesion_id=lesion_id, changes={"map_x": 0.5, "status": "excised"}
        )
        assert (moved.map_x, moved.map_y, moved.map_view, moved.status) == (
            0.5,
            0.27,
            "back",
            "excised",
        )
        cleared = lesions.update_lesion(
            actor=_actor(owner),
            lesion_id=lesion_id,
            changes={"map_x": None, "map_y": None, "map_view": None},
        )
        assert cleared.map_view is None
        with pytest.raises(ValidationFailed):
            lesions.update_lesion(actor=_actor(owner), lesion_id=lesion_id, changes={"map_y": 0.5})
        with pytest.raises(NotFound):
            lesions.get_lesion(actor=_actor(other), lesion_id=lesion_id)


# --- a new visit ------------------------------------------------------------------------------


def test_a_new_visit_carries_over_what_does_not_change(app, make_user):
    owner = make_user()
    _, lesion_id = make_lesion(app, owner, birth_year=1981)
    with app.app_context():
        first = visits.new_visit(actor=_actor(owner), lesion_id=lesion_id)
        assert first.patient_age == utcnow().year - 1981
        assert (first.patient_sex, first.body_site, first.fitzpatrick_type) == (
            "unknown",
            "back",
            None,
        )
        assert first.chief_complaint == "Follow-up visit: left scapula, naevus"
        cases.update_case(
            actor=_actor(owner),
            case_id=first.id,
            changes={"patient_sex": "female", "fitzpatrick_type": "II"},
        )
        cases.merge_answers(actor=_actor(owner), case_id=first.id, answers={"diameter_mm": 5})
        second = visits.new_visit(
            actor=_actor(owner), lesion_id=lesion_id, chief_complaint="Grew, says the patient"
        )
        assert (second.patient_sex, second.fitzpatrick_type) == ("female", "II")
        # what was carried over is already answered; the rest of the questionnaire is asked again
        assert second.anamnesis == {
            "age": utcnow().year - 1981,
            "sex": "female",
            "location1.primary": "back",
        }
        assert second.status == "questionnaire"
        assert second.chief_complaint == "Grew, says the patient"
        assert (second.lesion_id, second.patient_id) == (first.lesion_id, first.patient_id)


def test_a_new_visit_does_not_ask_again_what_it_carried_over(app, make_user):
    """The questionnaire starts with age, sex and body site; a new visit answers them from what
    it carried over, as the New case form does (``questionnaire.starting_answers``), so that
    they are not asked again and an answer cannot silently replace the carried-over value."""
    owner = make_user()
    _, lesion_id = make_lesion(app, owner, birth_year=1981)
    with app.app_context():
        first = visits.new_visit(actor=_actor(owner), lesion_id=lesion_id)
        cases.update_case(actor=_actor(owner), case_id=first.id, changes={"patient_sex": "male"})
        second = visits.new_visit(actor=_actor(owner), lesion_id=lesion_id)
        assert questionnaire.starting_answers(second) == {
            "age": utcnow().year - 1981,
            "sex": "male",
            "location1.primary": "back",
        }
        assert second.anamnesis == questionnaire.starting_answers(second)


def test_without_a_birth_year_the_previous_age_is_carried(app, make_user):
    owner = make_user()
    _, lesion_id = make_lesion(app, owner, birth_year=None)
    with app.app_context():
        first = visits.new_visit(actor=_actor(owner), lesion_id=lesion_id, patient_age=61)
        assert first.patient_age == 61
        assert visits.new_visit(actor=_actor(owner), lesion_id=lesion_id).patient_age == 61


def test_an_admins_visit_of_anothers_lesion_belongs_to_the_patients_owner(app, make_user):
    owner, admin = make_user(), make_user(role="admin")
    _, lesion_id = make_lesion(app, owner)
    with app.app_context():
        case = visits.new_visit(actor=_actor(admin), lesion_id=lesion_id)
        assert case.owner_id == owner.id
        count = db.session.scalar(select(func.count()).select_from(Patient))
        assert count == 1


def test_age_from_the_birth_year():
    assert visits.age_in(2026, 1981) == 45
    assert visits.age_in(2026, None) is None
    assert visits.age_in(2026, 1880) is None  # 146: out of range, fall back


# --- timeline and comparison against the reference AI -----------------------------------------


def test_timeline_and_comparison_in_words(ai_app, ai_client, make_user, api_headers):
    owner = make_user()
    lesion_id, (v1, v2, v3) = seen_three_times(ai_app, ai_client, api_headers(owner), owner)
    with ai_app.app_context():
        record = lesions.get_lesion(actor=_actor(owner), lesion_id=lesion_id)
        assert [entry.case_id for entry in record.visits] == [v1, v2, v3]
        assert [entry.visit_number for entry in record.visits] == [1, 2, 3]
        first, last = record.visits[0], record.visits[-1]
        assert first.image_id is not None and first.model_version == "reference-1.0"
        assert first.top_diagnosis.disease == "Melanocytic nevus"
        assert first.action_text == "Routine care"
        assert last.top_diagnosis.disease == "Melanoma"
        assert last.action_text == "Refer on the 2-week suspected-cancer pathway"
        assert record.lesion.visit_count == 3 and record.lesion.latest_urgency == "high"
        assert record.patient.visit_count == 3

        result = compare.compare_visits(
            actor=_actor(owner), lesion_id=lesion_id, from_case_id=v1, to_case_id=v3
        )
    assert result.same_model and result.same_model_delta is None
    assert not result.reanalysis_possible
    changed = {item.field: item.sentence for item in result.answers_changed}
    assert changed["diameter_mm"] == "Diameter 5 → 9 mm"
    assert changed["color"] == (
        "Colours: Light brown → Light brown, dark brown, black (added: dark brown, black)"
    )
    assert changed["changed_recently"] == "Changed recently: No → Yes"
    assert changed["change.features"] == "Change features: not answered → Size, colour"
    assert "age" not in changed and "photo_taken" not in changed
    delta = result.delta
    assert delta.top_diagnosis.changed
    assert (delta.top_diagnosis.before.disease, delta.top_diagnosis.after.disease) == (
        "Melanocytic nevus",
        "Melanoma",
    )
    assert (delta.urgency.before, delta.urgency.after) == ("low", "high")
    melanoma = next(item for item in delta.probabilities if item.disease == "Melanoma")
    assert melanoma.before < 0.1 and melanoma.after > 0.9
    appeared = {flag.type for flag in delta.red_flags_appeared}
    assert "changing_pigmented_lesion" in appeared and delta.red_flags_gone == []
    assert "Diameter 5 → 9 mm." in result.sentences
    assert (
        "Headline action: Routine care → Refer on the 2-week suspected-cancer pathway."
        in result.sentences
    )
    assert any(text.startswith("Top diagnosis: Melanocytic nevus (") for text in result.sentences)
    assert "Melanoma 2 % → 99.6 % (+97 points)." in result.sentences
    assert len(result.sentences) == len(set(result.sentences))
    assert result.days_between == 0


def test_an_unfinished_later_visit_is_compared_by_what_it_has(
    ai_app, ai_client, make_user, api_headers
):
    """A new visit whose questionnaire is not finished yet: the answers it does not have yet
    are left out (not a list of "→ not answered"), and one sentence says why."""
    owner = make_user()
    lesion_id, (v1, _v2, _v3) = seen_three_times(ai_app, ai_client, api_headers(owner), owner)
    with ai_app.app_context():
        fresh = visits.new_visit(actor=_actor(owner), lesion_id=lesion_id)
        result = compare.compare_visits(
            actor=_actor(owner), lesion_id=lesion_id, from_case_id=v1, to_case_id=fresh.id
        )
        visit_number = result.to_visit.visit_number
    assert visit_number == 4
    assert [item.after_text for item in result.answers_changed if item.after is None] == []
    assert not any("not answered" in sentence for sentence in result.sentences)
    assert (
        "Visit 4: the questionnaire is not finished; the answers it has not had yet are left "
        "out." in result.sentences
    )


def test_comparison_refuses_bad_pairs(ai_app, ai_client, make_user, api_headers):
    owner, other = make_user(), make_user()
    lesion_id, (v1, v2) = seen_three_times(ai_app, ai_client, api_headers(owner), owner, count=2)
    with ai_app.app_context():
        elsewhere = cases.create_case(actor=_actor(owner), **case_payload()).id
        for pair, field in (
            ((v1, v1), "to"),
            ((v1, elsewhere), "to"),
            ((uuid.uuid4(), v2), "from"),
        ):
            with pytest.raises(ValidationFailed) as bad:
                compare.compare_visits(
                    actor=_actor(owner),
                    lesion_id=lesion_id,
                    from_case_id=pair[0],
                    to_case_id=pair[1],
                )
            assert field in bad.value.details
        with pytest.raises(NotFound):
            compare.compare_visits(
                actor=_actor(other), lesion_id=lesion_id, from_case_id=v1, to_case_id=v2
            )
        # a visit not analysed yet: the answers are compared, the AI is not; the lesion's
        # urgency stays the newest analysed visit's
        v3 = visits.new_visit(actor=_actor(owner), lesion_id=lesion_id).id
        record = lesions.get_lesion(actor=_actor(owner), lesion_id=lesion_id)
        assert record.lesion.latest_urgency == record.visits[1].urgency is not None
        result = compare.compare_visits(
            actor=_actor(owner), lesion_id=lesion_id, from_case_id=v1, to_case_id=v3
        )
        assert result.delta is None
        assert "No AI comparison: visit 3 not analysed yet." in result.sentences
