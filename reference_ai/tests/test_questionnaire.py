"""The questionnaire tree: walking it, branching, progress, and the rules' inputs being asked."""

from __future__ import annotations

from typing import Any

import pytest

from reference_ai import anamnesis as A
from reference_ai.questionnaire import QUESTIONS, next_question

MAX_STEPS = 20


def plausible(question: dict[str, Any], choices: dict[str, Any]) -> Any:
    """A plausible answer: the path's choice for this field, else a default by widget."""
    if question["fieldName"] in choices:
        return choices[question["fieldName"]]
    kind = question["questionType"]
    if kind == "number":
        return question["min"] + 1
    if kind == "radio":
        return question["options"][0]
    if kind == "checkbox":
        return []
    return kind == "camera"  # camera: True (photo taken); bool: "no"


def walk(client, choices: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Answer question after question over HTTP until ``isComplete``; the questions asked."""
    anamnesis: dict[str, Any] = {}
    asked: list[dict[str, Any]] = []
    for _ in range(MAX_STEPS + 1):
        response = client.post("/api/v1/questionnaire/next", json={"anamnesis": anamnesis})
        assert response.status_code == 200
        question = response.get_json()
        if question["isComplete"]:
            return asked, anamnesis
        asked.append(question)
        anamnesis[question["fieldName"]] = plausible(question, choices)
    pytest.fail(f"not complete after {MAX_STEPS} questions: {[q['fieldName'] for q in asked]}")


PIGMENTED_CHANGING_FEVER = {
    A.AGE: 61,
    A.MORPHOLOGY: A.PIGMENTED,
    A.COLOR: ["light brown", "black"],
    A.PIGMENTED_FEATURES: [A.ASYMMETRIC],
    A.DIAMETER: 8,
    A.CHANGED: True,
    A.CHANGE_FEATURES: [A.CHANGE_SIZE, A.CHANGE_RAPID],
    A.FEVER: True,
    A.SPREADING_REDNESS: False,
    A.IMMUNOSUPPRESSED: True,
    A.FAMILY_HISTORY_MELANOMA: True,
}
RASH_WITH_FEVER = {
    A.AGE: 4,
    A.MORPHOLOGY: A.RED_RASH,
    A.LESION_COUNT: "more than 10",
    A.DISTRIBUTION: A.DIST_WIDESPREAD,
    A.FEVER: True,
}
SINGLE_HIVE_NO_FEVER = {A.AGE: 30, A.MORPHOLOGY: A.WHEALS, A.LESION_COUNT: A.COUNT_SINGLE}
BUMP_UNCHANGED = {A.AGE: 45, A.MORPHOLOGY: A.BUMP, A.CHANGED: False}
SCALY_PATCH = {A.AGE: 72, A.MORPHOLOGY: A.SCALY_PATCH, A.SITE: "scalp"}
PURPURIC_WITH_FEVER = {A.AGE: 2, A.MORPHOLOGY: A.PURPURIC_SPOTS, A.FEVER: True}
PATHS = {
    "pigmented, changing, fever": PIGMENTED_CHANGING_FEVER,
    "rash with fever": RASH_WITH_FEVER,
    "single hive, no fever": SINGLE_HIVE_NO_FEVER,
    "bump, unchanged": BUMP_UNCHANGED,
    "scaly patch": SCALY_PATCH,
    "purpuric spots with fever": PURPURIC_WITH_FEVER,
}


@pytest.mark.parametrize("choices", PATHS.values(), ids=PATHS.keys())
def test_walk_ends_with_camera_then_complete_within_20(client, choices):
    asked, anamnesis = walk(client, choices)
    assert 12 <= len(asked) <= MAX_STEPS
    assert asked[-1]["questionType"] == "camera"
    assert asked[-1]["fieldName"] == A.PHOTO
    assert all(q["questionType"] != "camera" for q in asked[:-1])
    assert len({q["questionId"] for q in asked}) == len(asked)  # nothing asked twice
    assert anamnesis[A.PHOTO] is True


def test_longest_path_is_exactly_the_limit(client):
    asked, _ = walk(client, PIGMENTED_CHANGING_FEVER)
    assert len(asked) == MAX_STEPS


def fields(asked: list[dict[str, Any]]) -> set[str]:
    return {q["fieldName"] for q in asked}


def test_growth_path_asks_lesion_questions_and_skips_rash_ones(client):
    asked = fields(walk(client, PIGMENTED_CHANGING_FEVER)[0])
    assert {A.PIGMENTED_FEATURES, A.DIAMETER, A.ELEVATION, A.COLOR, A.CHANGE_FEATURES} <= asked
    assert {A.FAMILY_HISTORY_MELANOMA, A.SPREADING_REDNESS} <= asked
    assert not {A.LESION_COUNT, A.DISTRIBUTION, A.RASH_FEATURES, A.NON_BLANCHING} & asked


def test_rash_path_asks_distribution_and_skips_lesion_questions(client):
    asked = fields(walk(client, RASH_WITH_FEVER)[0])
    assert {A.LESION_COUNT, A.DISTRIBUTION, A.RASH_FEATURES, A.NON_BLANCHING} <= asked
    assert not {A.ELEVATION, A.COLOR, A.DIAMETER, A.CHANGED, A.BLEEDING, A.SURFACE} & asked
    assert A.FAMILY_HISTORY_MELANOMA not in asked


def test_single_lesion_skips_distribution_and_no_fever_skips_fever_followups(client):
    asked = fields(walk(client, SINGLE_HIVE_NO_FEVER)[0])
    assert A.LESION_COUNT in asked
    assert A.DISTRIBUTION not in asked
    assert A.FEVER in asked
    assert not {A.SPREADING_REDNESS, A.NON_BLANCHING} & asked


def test_unchanged_lesion_skips_what_changed_and_non_pigmented_skips_abcde(client):
    asked = fields(walk(client, BUMP_UNCHANGED)[0])
    assert A.CHANGED in asked
    assert A.CHANGE_FEATURES not in asked
    assert not {A.PIGMENTED_FEATURES, A.FAMILY_HISTORY_MELANOMA} & asked
    assert A.DIAMETER in asked


def test_red_flag_inputs_are_all_asked_on_some_path(client):
    """Every field a red-flag rule reads is collected by the questionnaire."""
    rule_inputs = {
        A.PIGMENTED_FEATURES,  # ABCDE A, B; Glasgow irregular shape
        A.COLOR,  # ABCDE C; Glasgow irregular colour
        A.DIAMETER,  # ABCDE D; Glasgow >= 7 mm
        A.CHANGED,  # ABCDE E
        A.CHANGE_FEATURES,  # Glasgow major criteria, EFG growing, rapid growth
        A.ELEVATION,  # EFG elevated, firm
        A.DURATION,  # EFG > 1 month, new lesion
        A.SURFACE,  # ulceration, Glasgow inflammation and oozing
        A.BLEEDING,
        A.ITCH,  # Glasgow change in sensation
        A.PAIN,
        A.FEVER,
        A.SPREADING_REDNESS,
        A.NON_BLANCHING,
        A.IMMUNOSUPPRESSED,
    }
    asked: set[str] = set()
    for choices in PATHS.values():
        asked |= fields(walk(client, choices)[0])
    assert rule_inputs <= asked


def test_next_question_is_first_unanswered_and_pure():
    answers = {A.AGE: 50, A.SITE: "back"}  # sex skipped over: asked next
    first = next_question(answers)
    assert first["fieldName"] == A.SEX
    assert next_question(dict(answers)) == first
    assert answers == {A.AGE: 50, A.SITE: "back"}  # input not modified


def test_empty_anamnesis_starts_with_age_as_a_bounded_number():
    question = next_question({})
    assert question["fieldName"] == A.AGE
    assert question["questionType"] == "number"
    assert (question["min"], question["max"], question["unit"]) == (0, 120, "years")
    assert question["progress"] == {"answered": 0, "estimatedTotal": 17}
    assert question["isComplete"] is False


def test_skipped_optional_answer_is_not_asked_again():
    answers = {**PIGMENTED_CHANGING_FEVER, A.SEX: "male", A.SITE: "back", A.DURATION: ">1 year"}
    answers[A.ELEVATION] = A.ELEV_FLAT
    del answers[A.DIAMETER]
    assert next_question(answers)["fieldName"] == A.DIAMETER
    answers[A.DIAMETER] = ""  # skipped
    assert next_question(answers)["fieldName"] != A.DIAMETER


def test_progress_counts_applicable_answers_only():
    answers = {A.AGE: 30, A.SEX: "female", A.MORPHOLOGY: A.RED_RASH, A.ELEVATION: "flat"}
    progress = next_question(answers)["progress"]
    assert progress["answered"] == 3  # elevation does not apply to a rash
    # age, sex, site, duration, morphology, count, rash features, itch, pain, fever,
    # immunosuppression, photo: distribution and the fever follow-ups are not yet known
    assert progress["estimatedTotal"] == 12


def test_itch_question_uses_the_contract_key_and_scale():
    itch = next(q for q in QUESTIONS if q.field_name == "itch.scale_0_to_5")
    body = itch.to_json(answered=0, estimated_total=1)
    assert (body["min"], body["max"]) == (0, 5)
    assert body["questionType"] == "number"


def test_every_question_is_well_formed():
    ids = [q.question_id for q in QUESTIONS]
    assert len(ids) == len(set(ids))
    assert len({q.field_name for q in QUESTIONS}) == len(QUESTIONS)
    for question in QUESTIONS:
        assert question.question_type in {"camera", "bool", "radio", "checkbox", "number"}
        assert bool(question.options) == (question.question_type in {"radio", "checkbox"})
        if question.question_type == "number":
            assert question.minimum is not None
            assert question.maximum is not None
            assert question.unit
    assert QUESTIONS[-1].question_type == "camera"


def test_complete_body_has_empty_strings():
    answers = {q.field_name: "" for q in QUESTIONS}
    body = next_question(answers)
    assert body["isComplete"] is True
    assert body["questionId"] == body["fieldName"] == ""
    assert body["options"] == []
