"""Each red-flag rule fires on its trigger and not without it; urgency is the maximum."""

from __future__ import annotations

from typing import Any

import pytest

from reference_ai import anamnesis as A
from reference_ai.anamnesis import read_findings
from reference_ai.red_flags import evaluate, glasgow_score

#: A stable, small, symmetric, single-coloured mole: no rule fires.
BENIGN_MOLE: dict[str, Any] = {
    A.AGE: 30,
    A.SEX: "female",
    A.SITE: "back",
    A.DURATION: ">1 year",
    A.MORPHOLOGY: A.PIGMENTED,
    A.ELEVATION: A.ELEV_FLAT,
    A.COLOR: ["light brown"],
    A.PIGMENTED_FEATURES: [],
    A.DIAMETER: 4,
    A.CHANGED: False,
    A.ITCH: 0,
    A.PAIN: False,
    A.BLEEDING: False,
    A.SURFACE: [],
    A.FEVER: False,
    A.IMMUNOSUPPRESSED: False,
    A.FAMILY_HISTORY_MELANOMA: False,
}


def flags_for(changes: dict[str, Any], diagnoses=()) -> dict[str, Any]:
    return evaluate(read_findings({**BENIGN_MOLE, **changes}), diagnoses)


def rules_fired(result: dict[str, Any]) -> set[str]:
    return {flag["rule"].split(" (")[0] for flag in result["flags"]}


def test_benign_mole_has_no_flags():
    result = flags_for({})
    assert result["hasRedFlags"] is False
    assert result["flags"] == []
    assert result["urgency"] == "low"
    assert "No red flags" in result["recommendation"]


# --- ABCDE ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({A.PIGMENTED_FEATURES: [A.ASYMMETRIC], A.CHANGED: True}, True),  # A + E
        ({A.DIAMETER: 6.5, A.COLOR: ["light brown", "black"]}, True),  # D + C
        ({A.PIGMENTED_FEATURES: [A.ASYMMETRIC, A.IRREGULAR_BORDER], A.COLOR: ["blue-grey"]}, True),
        ({A.PIGMENTED_FEATURES: [A.ASYMMETRIC, A.IRREGULAR_BORDER]}, False),  # A + B only
        ({A.DIAMETER: 6.0, A.CHANGED: False, A.PIGMENTED_FEATURES: [A.ASYMMETRIC]}, False),
        ({A.CHANGED: True}, False),  # E alone
        ({A.DIAMETER: 12}, False),  # D alone
    ],
)
def test_abcde(changes, fires):
    assert ("ABCDE criteria" in rules_fired(flags_for(changes))) is fires


def test_abcde_needs_a_pigmented_lesion():
    changes = {A.PIGMENTED_FEATURES: [A.ASYMMETRIC], A.CHANGED: True, A.COLOR: ["pink or red"]}
    assert "ABCDE criteria" in rules_fired(flags_for(changes))
    assert "ABCDE criteria" not in rules_fired(flags_for({**changes, A.MORPHOLOGY: A.RED_RASH}))


def test_abcde_flag_names_features_rule_and_source():
    result = flags_for({A.PIGMENTED_FEATURES: [A.ASYMMETRIC], A.CHANGED: True})
    flag = next(f for f in result["flags"] if f["rule"].startswith("ABCDE"))
    assert flag["type"] == "changing_pigmented_lesion"
    assert flag["severity"] == "high"
    assert "A, E" in flag["description"]
    assert "JAMA 2004" in flag["source"]
    assert result["urgency"] == "high"


# --- EFG -----------------------------------------------------------------------------------

EFG = {
    A.MORPHOLOGY: A.BUMP,
    A.COLOR: ["pink or red"],
    A.ELEVATION: A.ELEV_RAISED_FIRM,
    A.CHANGED: True,
    A.CHANGE_FEATURES: [A.CHANGE_SIZE],
    A.DURATION: "1-3 months",
}


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({}, True),
        ({A.ELEVATION: A.ELEV_RAISED_SOFT}, False),  # not firm
        ({A.ELEVATION: A.ELEV_FLAT}, False),  # not elevated
        ({A.CHANGE_FEATURES: [A.CHANGE_COLOUR]}, False),  # not growing
        ({A.DURATION: "1-4 weeks"}, False),  # not > 1 month
    ],
)
def test_efg(changes, fires):
    assert ("EFG criteria" in rules_fired(flags_for({**EFG, **changes}))) is fires


# --- Glasgow 7-point -------------------------------------------------------------------------


def test_glasgow_weights_major_two_and_minor_one():
    findings = read_findings(
        {**BENIGN_MOLE, A.CHANGED: True, A.CHANGE_FEATURES: [A.CHANGE_SIZE], A.DIAMETER: 7}
    )
    score, met = glasgow_score(findings)
    assert score == 3
    assert met == ["change in size", "diameter >= 7 mm"]


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({A.CHANGED: True, A.CHANGE_FEATURES: [A.CHANGE_SIZE], A.DIAMETER: 7}, True),  # 2 + 1
        ({A.CHANGED: True, A.CHANGE_FEATURES: [A.CHANGE_SIZE], A.DIAMETER: 6.9}, False),  # 2
        ({A.SURFACE: [A.SURFACE_INFLAMED, A.SURFACE_CRUSTING], A.ITCH: 3}, True),  # 1 + 1 + 1
        ({A.SURFACE: [A.SURFACE_INFLAMED], A.ITCH: 3}, False),  # 1 + 1
        ({A.COLOR: ["dark brown", "black"]}, False),  # irregular colour alone: 2
        ({A.COLOR: ["dark brown", "black"], A.PAIN: True}, True),  # 2 + 1
    ],
)
def test_glasgow(changes, fires):
    assert ("Glasgow weighted 7-point checklist" in rules_fired(flags_for(changes))) is fires


def test_glasgow_only_for_pigmented_lesions():
    changes = {A.MORPHOLOGY: A.SCALY_PATCH, A.COLOR: ["pink or red"], A.CHANGED: True}
    changes |= {A.CHANGE_FEATURES: [A.CHANGE_SIZE, A.CHANGE_SHAPE]}
    assert "Glasgow weighted 7-point checklist" not in rules_fired(flags_for(changes))


# --- bleeding / ulceration, rapid growth ------------------------------------------------------


def test_bleeding_fires_only_when_bleeding_or_ulcerated():
    bleeding = flags_for({A.BLEEDING: True})
    assert [f["type"] for f in bleeding["flags"]] == ["bleeding"]
    ulcerated = flags_for({A.SURFACE: [A.SURFACE_ULCERATED]})
    assert [f["type"] for f in ulcerated["flags"]] == ["ulceration"]
    assert flags_for({A.BLEEDING: False, A.SURFACE: [A.SURFACE_CRUSTING]})["flags"] == []


def test_rapid_growth_fires_only_on_rapid_growth():
    rapid = {A.MORPHOLOGY: A.BUMP, A.COLOR: ["skin-coloured"], A.CHANGED: True}
    fired = flags_for({**rapid, A.CHANGE_FEATURES: [A.CHANGE_RAPID]})
    assert "rapid_growth" in {f["type"] for f in fired["flags"]}
    slow = flags_for({**rapid, A.CHANGE_FEATURES: [A.CHANGE_SIZE]})
    assert "rapid_growth" not in {f["type"] for f in slow["flags"]}


# --- emergencies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({A.FEVER: True, A.SPREADING_REDNESS: True}, True),
        ({A.FEVER: True, A.SPREADING_REDNESS: False}, False),
        ({A.FEVER: False, A.SPREADING_REDNESS: True}, False),
    ],
)
def test_fever_with_spreading_redness_is_an_emergency(changes, fires):
    result = flags_for({A.MORPHOLOGY: A.RED_RASH, **changes})
    types = {f["type"] for f in result["flags"]}
    assert ("systemic_infection_signs" in types) is fires
    assert (result["urgency"] == "emergency") is fires


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({A.FEVER: True, A.NON_BLANCHING: True}, True),
        ({A.FEVER: False, A.NON_BLANCHING: True}, False),
        ({A.FEVER: True, A.NON_BLANCHING: False}, False),
    ],
)
def test_non_blanching_rash_with_fever_is_an_emergency(changes, fires):
    result = flags_for({A.MORPHOLOGY: A.PURPURIC_SPOTS, **changes})
    flag = next((f for f in result["flags"] if f["type"] == "non_blanching_rash_with_fever"), None)
    assert (flag is not None) is fires
    assert (result["urgency"] == "emergency") is fires
    if flag:
        assert "NG240" in flag["source"]


# --- immunosuppression -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({A.IMMUNOSUPPRESSED: True, A.DURATION: "1-3 months"}, True),
        ({A.IMMUNOSUPPRESSED: True, A.DURATION: ">1 year"}, False),  # not new
        ({A.IMMUNOSUPPRESSED: False, A.DURATION: "1-3 months"}, False),
        ({A.IMMUNOSUPPRESSED: True, A.DURATION: None}, False),  # duration unknown: not "new"
    ],
)
def test_immunosuppression_with_new_lesion(changes, fires):
    result = flags_for(changes)
    assert ("immunosuppressed_new_lesion" in {f["type"] for f in result["flags"]}) is fires
    assert result["urgency"] == ("medium" if fires else "low")


# --- differential ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("diagnoses", "fires"),
    [
        ([{"disease": "Melanoma", "probability": 0.5}], True),
        ([{"disease": "Squamous cell carcinoma", "probability": 0.444}], True),
        ([{"disease": "Melanoma", "probability": 0.4439}], False),
        ([{"disease": "Melanocytic nevus", "probability": 0.95}], False),
    ],
)
def test_suspected_cancer_in_the_differential(diagnoses, fires):
    result = flags_for({}, diagnoses)
    assert ("suspected_skin_cancer" in {f["type"] for f in result["flags"]}) is fires


# --- combination -------------------------------------------------------------------------------


def test_urgency_is_the_highest_flag_and_every_flag_names_rule_and_source():
    result = flags_for(
        {
            A.IMMUNOSUPPRESSED: True,
            A.DURATION: "3-12 months",
            A.BLEEDING: True,
            A.FEVER: True,
            A.SPREADING_REDNESS: True,
        }
    )
    assert {f["urgency"] for f in result["flags"]} == {"medium", "high", "emergency"}
    assert result["urgency"] == "emergency"
    assert result["hasRedFlags"] is True
    for flag in result["flags"]:
        assert flag["severity"] in {"high", "medium", "low"}
        assert flag["rule"]
        assert flag["source"]
        assert flag["description"]


def test_contract_example_anamnesis_flags_a_changing_pigmented_lesion():
    example = {
        "age": 54,
        "sex": "female",
        "location1.primary": "back",
        "duration": ">1 month",
        "changed_recently": True,
        "color": ["brown", "black"],
        "bleeding": False,
    }
    result = evaluate(read_findings(example))
    assert "changing_pigmented_lesion" in {f["type"] for f in result["flags"]}
    assert result["urgency"] == "high"


def test_lenient_answers_are_read():
    result = flags_for({A.FEVER: "yes", A.SPREADING_REDNESS: 1, A.MORPHOLOGY: A.RED_RASH})
    assert result["urgency"] == "emergency"
