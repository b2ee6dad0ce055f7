"""Words the portal shows: every clinical code has a label, answers and codes read well."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.services.clinical_record import words as display
from app.services.clinical_terms import (
    BODY_SITES,
    CASE_STATUSES,
    FITZPATRICK_TYPES,
    PATIENT_SEXES,
)


def test_every_vocabulary_value_has_a_human_label():
    assert set(display.BODY_SITE_LABELS) == set(BODY_SITES)
    assert set(display.SEX_LABELS) == set(PATIENT_SEXES)
    assert set(display.FITZPATRICK_LABELS) == set(FITZPATRICK_TYPES)
    assert set(display.STATUS_LABELS) == set(CASE_STATUSES)
    assert set(display.TIER_WORDS) == {"confident", "possible", "refer"}
    assert display.TIER_WORDS["possible"][0] == "Possible — review the highlighted shortlist"


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("age", "Age"),
        ("location1.primary", "Body site"),
        ("itch.scale_0_to_5", "Itch scale 0 to 5"),
        ("diameter_mm", "Diameter (mm)"),
        ("pigmented.features", "Pigmented features"),
        ("family_history_melanoma", "Family history melanoma"),
    ],
)
def test_field_labels(field, label):
    assert display.field_label(field) == label


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "Yes"),
        (False, "No"),
        ([], "None of these"),
        (["dark brown", "black"], "Dark brown, black"),
        ("", "Skipped"),
        (4.5, "4.5"),
        (54, "54"),
        ("pigmented spot or mole", "Pigmented spot or mole"),
    ],
)
def test_answers_in_words(value, text):
    assert display.answer_text(value) == text


def test_answers_are_listed_age_sex_site_first_and_the_photo_last():
    order = display.answers_in_order(
        {"photo_taken": True, "zeta": 1, "sex": "male", "bleeding": False, "age": 40}
    )
    assert [key for key, _ in order] == ["age", "sex", "bleeding", "zeta", "photo_taken"]


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("physician_review_within_24h", "Physician review within 24 hours"),
        ("urgent_dermatology_referral_2_weeks", "Urgent dermatology referral (within 2 weeks)"),
        ("see_gp_within_48h", "See gp within 48 hours"),
    ],
)
def test_triage_actions_in_words(code, words):
    assert display.action_words(code) == words


def test_percent_and_times():
    assert display.percent(0.734) == "73 %"
    assert display.percent(0.005) == "0.5 %"
    assert display.percent(0.0004) == "<0.1 %"
    assert display.percent(0) == "0 %"
    # An AI probability short of 1 never reads "100 %" (certainty it did not claim): one
    # decimal above 99 %, as below 1 %.
    assert display.percent(0.996) == "99.6 %"
    assert display.percent(0.99) == "99 %"
    assert display.percent(0.99996) == ">99.9 %"
    assert display.percent(1.0) == "100 %"
    moment = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)
    assert display.when(moment) == "29 Nov 2026, 14:05 UTC"
    assert display.day(moment) == "29 Nov 2026"
