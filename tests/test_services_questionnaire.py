"""The questionnaire service and the case record: seeding, answer checks, taking answers back,
the photo step, and the stage a case page shows."""

from __future__ import annotations

import pytest

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import AuditEvent, Case, User
from app.services import case_record, cases, questionnaire
from app.services.ai_client import NextQuestion
from tests.fixtures.cases import case_payload


def question(kind: str, **fields) -> NextQuestion:
    """A contract question of ``kind`` (radio/checkbox questions get three options)."""
    body = {
        "questionId": "q",
        "questionText": "Question?",
        "questionType": kind,
        "fieldName": "field.name",
        "options": ["one", "two", "three"] if kind in ("radio", "checkbox") else [],
        "isComplete": False,
        **fields,
    }
    return NextQuestion.model_validate(body)


@pytest.fixture
def physician(make_user):
    return make_user(email="seed@example.org")


def actor(user) -> User:
    return db.session.get(User, user.id)


# --- starting answers ---------------------------------------------------------------------------


def test_open_case_seeds_age_sex_and_site_so_they_are_not_asked_twice(app, physician):
    with app.app_context():
        case = questionnaire.open_case(actor=actor(physician), **case_payload())
        assert case.anamnesis == {"age": 54, "sex": "female", "location1.primary": "back"}
        assert case.status == "questionnaire"


@pytest.mark.parametrize(
    ("site", "term"),
    [("upper_arm", "upper extremity"), ("lower_leg", "lower extremity"), ("face", "face")],
)
def test_body_sites_are_seeded_as_their_isic_localization_terms(app, physician, site, term):
    with app.app_context():
        case = questionnaire.open_case(actor=actor(physician), **case_payload(body_site=site))
        assert case.anamnesis["location1.primary"] == term


def test_unknown_facts_are_left_for_the_questionnaire(app, physician):
    with app.app_context():
        case = questionnaire.open_case(
            actor=actor(physician),
            **case_payload(patient_age=None, patient_sex="unknown", body_site="nail"),
        )
        assert case.anamnesis == {}
        assert case.status == "draft"


def test_open_case_refuses_bad_fields_and_opens_nothing(app, physician):
    with app.app_context():
        with pytest.raises(ValidationFailed) as caught:
            questionnaire.open_case(
                actor=actor(physician), **case_payload(patient_reference="jane@example.org")
            )
        assert set(caught.value.details) == {"patient_reference"}
        assert db.session.query(Case).count() == 0


# --- answers checked against their question -----------------------------------------------------


@pytest.mark.parametrize(
    ("q", "values", "expected"),
    [
        (question("bool"), ["yes"], True),
        (question("bool"), ["no"], False),
        (question("radio"), ["two"], "two"),
        (question("checkbox"), ["three", "one"], ["one", "three"]),
        (question("checkbox"), [], []),  # none ticked: "none of these"
        (question("number", min=0, max=120, unit="years"), ["54"], 54),
        (question("number", min=0, max=200), ["4,5"], 4.5),
        (question("number", min=0, max=200), [" 7.0 "], 7),
        (question("text"), ["  itchy at night  "], "itchy at night"),
        (question("text", required=False), [""], ""),
        (question("number", required=False), [], ""),
    ],
)
def test_parse_answer_gives_the_anamnesis_value(q, values, expected):
    assert questionnaire.parse_answer(q, values) == expected


@pytest.mark.parametrize(
    ("q", "values", "message"),
    [
        (question("bool"), [], "Choose yes or no."),
        (question("bool"), ["maybe"], "Choose yes or no."),
        (question("radio"), [], "Choose one of the options."),
        (question("radio"), ["four"], "Choose one of the options."),
        (question("checkbox"), ["one", "nine"], "Tick only the options shown."),
        (question("number", min=0, max=120, unit="years"), ["121"], "between 0 and 120 years"),
        (question("number", min=0), ["-1"], "of at least 0"),
        (question("number"), ["abc"], "Enter a number"),
        (question("number"), ["nan"], "Enter a number"),
        (question("number"), [""], "Enter a number."),
        (question("text"), [" "], "Enter an answer."),
        (question("text"), ["x" * 2001], "at most 2000 characters"),
        (question("camera"), ["x"], "takes a photo"),
    ],
)
def test_parse_answer_refuses_what_does_not_fit_the_question(q, values, message):
    with pytest.raises(ValidationFailed) as caught:
        questionnaire.parse_answer(q, values)
    assert message in caught.value.details["answer"]


def test_only_an_optional_question_can_be_skipped():
    assert questionnaire.parse_answer(question("number", required=False), ["5"], skip=True) == ""
    with pytest.raises(ValidationFailed) as caught:
        questionnaire.parse_answer(question("radio"), [], skip=True)
    assert "cannot be skipped" in caught.value.details["answer"]


def test_answer_question_saves_the_answer_under_its_field_name(app, physician, make_case):
    case_id = make_case(physician)
    with app.app_context():
        q = question("checkbox", fieldName="color")
        questionnaire.answer_question(
            actor=actor(physician), case_id=case_id, question=q, values=["two"]
        )
        assert db.session.get(Case, case_id).anamnesis == {"color": ["two"]}


# --- taking an answer back ----------------------------------------------------------------------


def test_remove_answer_takes_one_answer_back_and_audits_its_value(app, physician, make_case):
    case_id = make_case(physician)
    with app.app_context():
        me = actor(physician)
        cases.merge_answers(actor=me, case_id=case_id, answers={"age": 54, "bleeding": True})
        case = cases.remove_answer(actor=me, case_id=case_id, field_name="bleeding")
        assert case.anamnesis == {"age": 54}
        event = db.session.query(AuditEvent).order_by(AuditEvent.id.desc()).first()
        assert event.action == "case.update"
        assert event.details == {
            "fields": ["anamnesis"],
            "removed": ["bleeding"],
            "changes": {"anamnesis.bleeding": {"before": True, "after": None}},
        }
        # Taking back an answer that is not there changes nothing (a double click).
        events = db.session.query(AuditEvent).count()
        assert cases.remove_answer(actor=me, case_id=case_id, field_name="bleeding").anamnesis == {
            "age": 54
        }
        assert db.session.query(AuditEvent).count() == events


def test_remove_answer_on_another_physicians_or_an_archived_case(app, make_user, make_case):
    owner, other = make_user(), make_user()
    case_id = make_case(owner)
    with app.app_context():
        with pytest.raises(NotFound):
            cases.remove_answer(actor=actor(other), case_id=case_id, field_name="age")
        cases.archive_case(actor=actor(owner), case_id=case_id)
        with pytest.raises(Conflict):
            cases.remove_answer(actor=actor(owner), case_id=case_id, field_name="age")


# --- the AI's next question and the photo step ----------------------------------------------------


def test_next_question_asks_the_reference_ai_with_the_saved_answers(ai_app, physician):
    with ai_app.app_context():
        me = actor(physician)
        case = questionnaire.open_case(actor=me, **case_payload())
        asked = questionnaire.next_question(actor=me, case_id=case.id)
        assert asked.field_name == "duration"  # age, sex and site were seeded
        assert asked.question_type == "radio"
        assert not questionnaire.is_photo_step(asked)


def test_the_camera_question_moves_the_case_to_awaiting_image(ai_app, physician):
    with ai_app.app_context():
        me = actor(physician)
        case = questionnaire.open_case(actor=me, **case_payload())
        for _ in range(30):
            asked = questionnaire.next_question(actor=me, case_id=case.id)
            if questionnaire.is_photo_step(asked):
                break
            value = {"bool": False, "number": 3, "checkbox": [], "text": "n/a"}.get(
                asked.question_type, asked.options[0] if asked.options else ""
            )
            cases.merge_answers(actor=me, case_id=case.id, answers={asked.field_name: value})
        assert asked.question_type == "camera"
        assert asked.field_name == "photo_taken"
        assert db.session.get(Case, case.id).status == "awaiting_image"


def test_case_record_reports_an_unreachable_ai_instead_of_failing(
    make_app, app, physician, make_case, closed_url
):
    down = make_app(AI_SERVICE_URL=closed_url, AI_SERVICE_RETRIES=0)
    case_id = make_case(physician)
    with down.app_context():
        record = case_record.load_case_record(actor=actor(physician), case_id=case_id)
        assert record.stage == "unavailable"
        assert record.question_error.code == "ai_service_unavailable"
        assert record.name(physician.id) == "Dr. Test"


def test_case_record_without_asking_the_ai(app, physician, make_case):
    case_id = make_case(physician)
    with app.app_context():
        record = case_record.load_case_record(actor=actor(physician), case_id=case_id, ask_ai=False)
        assert record.question is None
        assert record.stage == "photo"
        assert record.unanalysed_image is None


def test_find_cases_names_the_owners_for_admins_only(app, make_user, make_case):
    physician = make_user(full_name="Dr. Owner")
    admin = make_user(role="admin", full_name="Ada Admin")
    make_case(physician)
    with app.app_context():
        listing = case_record.find_cases(actor=actor(admin))
        assert listing.owners == {physician.id: "Dr. Owner"}
        assert listing.pages == 1
        assert case_record.find_cases(actor=actor(physician)).owners == {}
