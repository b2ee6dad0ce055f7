"""The clinical record (#12): analysis inputs, answers in the order asked, the replay of a
changed branching answer, and the one headline urgency — reference AI over real HTTP."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from typing import Any

import pytest

from app.extensions import db
from app.models import Analysis, AuditEvent, Case, User
from app.services import cases, questionnaire
from app.services.ai_client import get_ai_client
from app.services.clinical_record.headline import LEVELS, headline_action
from tests.test_api_diagnosis import MELANOMA, diagnose

# --- the one headline urgency ---------------------------------------------------------------

RED_FLAG_URGENCIES = ("low", "medium", "high", "emergency")
PRIORITIES = ("routine", "soon", "urgent", "emergency")
TIERS = ("confident", "possible", "refer")
PRIORITY_LEVEL = {"routine": 0, "soon": 1, "urgent": 2, "emergency": 3}


@pytest.mark.parametrize(
    ("flags", "priority", "tier"), list(itertools.product(RED_FLAG_URGENCIES, PRIORITIES, TIERS))
)
def test_every_combination_gives_the_most_urgent_and_never_routine_when_uncertain(
    flags, priority, tier
):
    headline = headline_action(red_flag_urgency=flags, triage_priority=priority, tier=tier)
    expected = max(
        RED_FLAG_URGENCIES.index(flags), PRIORITY_LEVEL[priority], 1 if tier == "refer" else 0
    )
    assert headline.urgency == LEVELS[expected]
    assert (
        headline.action_text
        == {
            "low": "Routine care",
            "medium": "Physician review within 24 hours",
            "high": "Refer on the 2-week suspected-cancer pathway",
            "emergency": "Refer as an emergency, now",
        }[headline.urgency]
    )
    if tier == "refer":
        assert headline.urgency != "low"
    assert headline.reasons  # it says why


@pytest.mark.parametrize(
    "extra", [{"refer_to_specialist": True}, {"low_quality_override": True}, {"tier": None}]
)
def test_a_referral_an_overridden_photo_or_no_tier_is_never_routine(extra):
    arguments = {"red_flag_urgency": "low", "triage_priority": "routine", "tier": "confident"}
    headline = headline_action(**{**arguments, **extra})
    assert headline.urgency == "medium"
    assert headline.action == "physician_review_within_24h"


def test_the_issues_keratosis_case_speaks_with_one_voice():
    # Melanoma 37 %: tier refer, triage soon, red flags low → one action, review in 24 hours.
    headline = headline_action(red_flag_urgency="low", triage_priority="soon", tier="refer")
    assert (headline.urgency, headline.action_text) == (
        "medium",
        "Physician review within 24 hours",
    )


# --- every analysis keeps its inputs ---------------------------------------------------------


def test_an_analysis_keeps_its_inputs_and_the_ai_responses(
    ai_client, ai_app, make_user, api_headers
):
    headers = api_headers(make_user())
    body = diagnose(ai_client, headers, MELANOMA, {"age": 70, "bleeding": True}).get_json()
    case = ai_client.get(f"/api/cases/{body['case_id']}", headers=headers).get_json()
    analysis = case["latest_analysis"]
    inputs = analysis["inputs"]
    assert inputs["anamnesis"] == {"age": 70, "bleeding": True}
    assert inputs["answer_order"] == ["age", "bleeding"]
    assert inputs["case"]["patient_age"] == 70
    assert inputs["image"] == {
        "id": body["image_id"],
        "sha256": case["images"][0]["sha256"],
    }
    assert inputs["reconstructed"] is False
    responses = analysis["ai_responses"]
    assert responses["model_version"].startswith("reference-")
    assert responses["prediction"]["metadata"]["model_version"] == responses["model_version"]
    assert set(responses) >= {"image_validity", "prediction", "red_flags", "triage"}
    assert body["inputs"] == inputs
    # The headline is one urgency, the same in the case, its analysis and the diagnosis answer.
    assert case["urgency"] == analysis["urgency"] == body["urgency"]
    assert case["action_text"] == analysis["action_text"] == body["action_text"]


def test_the_stored_image_hash_is_the_hash_of_the_analysed_bytes(
    ai_client, ai_app, make_user, api_headers
):
    headers = api_headers(make_user())
    body = diagnose(ai_client, headers).get_json()
    image = ai_client.get(
        f"/api/cases/{body['case_id']}/images/{body['image_id']}", headers=headers
    )
    assert body["inputs"]["image"]["sha256"] == hashlib.sha256(image.data).hexdigest()


def test_answers_keep_the_order_they_were_given(ai_client, ai_app, make_user, api_headers):
    headers = api_headers(make_user())
    anamnesis = {"sex": "male", "bleeding": False, "age": 61, "color": ["brown"]}
    body = diagnose(ai_client, headers, MELANOMA, anamnesis).get_json()
    url = f"/api/cases/{body['case_id']}/answers"
    ai_client.post(url, json={"itch": 2, "age": 62}, headers=headers)
    case = ai_client.get(f"/api/cases/{body['case_id']}", headers=headers).get_json()
    assert case["answer_order"] == ["sex", "bleeding", "age", "color", "itch"]


# --- a changed branching answer drops the abandoned branch -----------------------------------


def _form_answer(question: Any) -> list[str]:
    """A deterministic answer to any question of the reference questionnaire."""
    if question.field_name == "morphology":
        return ["pigmented spot or mole"]
    if question.question_type == "bool":
        return ["no"]
    if question.question_type == "number":
        return [str(int(question.min or 0) + 5)]
    if question.question_type in ("radio", "checkbox"):
        return [question.options[0]]
    return ["text"]


def _walk(actor: Any, case_id: uuid.UUID) -> None:
    for _ in range(40):
        question = questionnaire.next_question(actor=actor, case_id=case_id)
        if questionnaire.is_photo_step(question):
            return
        questionnaire.answer_question(
            actor=actor, case_id=case_id, question=question, values=_form_answer(question)
        )
    raise AssertionError("the questionnaire did not end")


def test_changing_a_branching_answer_drops_the_answers_no_longer_asked(
    ai_app, make_user, make_case
):
    owner = make_user()
    case_id = make_case(owner)
    with ai_app.test_request_context():
        actor = db.session.get(User, owner.id)
        _walk(actor, case_id)
        case = db.session.get(Case, case_id)
        before = list(case.answer_order)
        assert "elevation" in case.anamnesis  # a growth's question
        order_before = before.index("morphology")
        question = get_ai_client().next_question(
            {key: case.anamnesis[key] for key in before[:order_before]}
        )
        assert question.field_name == "morphology"
        saved = questionnaire.answer_question(
            actor=actor, case_id=case_id, question=question, values=["red rash"]
        )
        assert "elevation" in saved.dropped
        case = db.session.get(Case, case_id)
        assert case.anamnesis["morphology"] == "red rash"
        assert "elevation" not in case.anamnesis
        assert case.answer_order == [key for key in before if key not in saved.dropped]
        # The answers before the change are all kept.
        assert set(before[: order_before + 1]) <= set(case.anamnesis)
        # The removal is audited with the values that were dropped.
        event = db.session.query(AuditEvent).order_by(AuditEvent.id.desc()).first()
        assert event.details["removed"] == saved.dropped
        assert event.details["changes"]["anamnesis.elevation"]["after"] is None


def test_changing_an_answer_that_does_not_branch_drops_nothing(ai_app, make_user, make_case):
    owner = make_user()
    case_id = make_case(owner)
    with ai_app.test_request_context():
        actor = db.session.get(User, owner.id)
        _walk(actor, case_id)
        case = db.session.get(Case, case_id)
        before = dict(case.anamnesis)
        question = get_ai_client().next_question({})
        assert question.field_name == "age"
        saved = questionnaire.answer_question(
            actor=actor, case_id=case_id, question=question, values=["33"]
        )
        assert saved.dropped == []
        assert db.session.get(Case, case_id).anamnesis == {**before, "age": 33}


def test_question_for_change_fills_in_the_earlier_answer(ai_app, make_user, make_case):
    owner = make_user()
    case_id = make_case(owner)
    with ai_app.test_request_context():
        actor = db.session.get(User, owner.id)
        cases.merge_answers(actor=actor, case_id=case_id, answers={"age": 54, "sex": "female"})
        question, values = questionnaire.question_for_change(
            actor=actor, case_id=case_id, field_name="sex"
        )
        assert question.field_name == "sex" and values == ["female"]
        assert (
            questionnaire.question_for_change(
                actor=actor, case_id=case_id, field_name="never-asked"
            )
            is None
        )


def test_an_old_analysis_without_inputs_is_never_called_outdated(
    ai_client, ai_app, make_user, api_headers
):
    headers = api_headers(make_user())
    body = diagnose(ai_client, headers).get_json()
    with ai_app.app_context():
        db.session.get(Analysis, uuid.UUID(body["analysis_id"])).inputs = None
        db.session.commit()
    ai_client.post(f"/api/cases/{body['case_id']}/answers", json={"itch": 1}, headers=headers)
    case = ai_client.get(f"/api/cases/{body['case_id']}", headers=headers).get_json()
    assert case["latest_analysis"]["inputs"] is None
    assert case["outdated"] is False


# --- every face of the case uses the one rule ------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "priority", "tier", "override"),
    [
        ("low", "routine", "confident", True),  # an overridden photo: never routine
        ("low", "routine", "refer", False),
        ("high", "soon", "possible", False),
        ("emergency", "routine", "confident", False),
    ],
)
def test_the_report_and_fhir_headline_is_the_clinical_record_headline(
    flags, priority, tier, override
):
    from types import SimpleNamespace

    from app.services.clinical_record.words import action_words
    from app.services.report.content import headline as report_headline

    analysis = SimpleNamespace(
        status="completed",
        red_flags={"urgency": flags},
        triage={"priority": priority},
        tier=tier,
        refer_to_specialist=False,
        accepted_low_quality=override,
        image_validity={"isValid": not override},
        analysed_despite_low_quality=override,
    )
    from app.services.clinical_record.headline import headline_of

    mine = headline_of(analysis)
    theirs = report_headline(analysis)
    assert theirs.action == mine.action
    assert action_words(theirs.action) == mine.action_text
