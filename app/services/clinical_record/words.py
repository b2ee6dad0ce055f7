"""Words of the clinical record: codes and anamnesis answers as a physician reads them.

Pure functions, no I/O: the portal registers them as Jinja filters
(:mod:`app.blueprints.cases.views`), and the report and FHIR services label with the same words.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from app.services.clinical_record.answers import ordered_answers

BODY_SITE_LABELS: dict[str, str] = {
    "scalp": "Scalp",
    "face": "Face",
    "ear": "Ear",
    "neck": "Neck",
    "chest": "Chest or breast",
    "abdomen": "Abdomen or flank",
    "back": "Back",
    "upper_arm": "Upper arm, shoulder or axilla",
    "forearm": "Forearm or elbow",
    "hand": "Hand or finger",
    "genital": "Genital or perianal",
    "buttock": "Buttock",
    "thigh": "Thigh or hip",
    "lower_leg": "Lower leg or knee",
    "foot": "Foot or toe",
    "nail": "Nail (finger or toe)",
    "mucosa": "Mucosa (oral, nasal, conjunctival, genital)",
    "other": "Other (say where in the chief complaint)",
}

SEX_LABELS: dict[str, str] = {
    "female": "Female",
    "male": "Male",
    "other": "Other",
    "unknown": "Not stated",
}

#: Fitzpatrick skin phototypes (Fitzpatrick TB, Arch Dermatol 1988;124:869-871).
FITZPATRICK_LABELS: dict[str, str] = {
    "I": "I — always burns, never tans",
    "II": "II — usually burns, tans minimally",
    "III": "III — sometimes burns, tans gradually",
    "IV": "IV — rarely burns, tans easily",
    "V": "V — very rarely burns, tans darkly",
    "VI": "VI — never burns, deeply pigmented",
}

STATUS_LABELS: dict[str, str] = {
    "draft": "Draft",
    "questionnaire": "Questionnaire",
    "awaiting_image": "Awaiting photo",
    "analyzed": "Analysed",
    "analysis_failed": "Analysis failed",
    "reviewed": "Reviewed",
    "archived": "Archived",
}

#: The prediction tier in plain words (tier rule: ../shared/ai-service-contract.md).
TIER_WORDS: dict[str, tuple[str, str]] = {
    "confident": (
        "Confident",
        "The leading suggestion is likely; confirm it clinically.",
    ),
    "possible": (
        "Possible — review the highlighted shortlist",
        "No single suggestion is clear; the marked diagnoses are the shortlist to consider.",
    ),
    "refer": (
        "Uncertain — a specialist should assess the lesion",
        "The AI is not confident in any diagnosis, so this case is never routine: see the "
        "recommended action above.",
    ),
}

PRIORITY_WORDS: dict[str, str] = {
    "routine": "Routine",
    "soon": "Soon",
    "urgent": "Urgent",
    "emergency": "Emergency",
}

#: Recommended actions known from the contract and the reference service; others are spelled
#: out from their code (``physician_review_within_24h`` → "Physician review within 24 hours").
ACTION_WORDS: dict[str, str] = {
    "emergency_referral_now": "Refer as an emergency, now",
    "urgent_dermatology_referral_2_weeks": "Urgent dermatology referral (within 2 weeks)",
    "physician_review_within_24h": "Physician review within 24 hours",
    "routine_dermatology_review": "Routine dermatology review",
    # The headline actions (app.services.clinical_record.headline.ACTIONS), in the same words.
    "suspected_cancer_pathway_2_weeks": "Refer on the 2-week suspected-cancer pathway",
    "routine_care": "Routine care",
}

#: Anamnesis keys of the contract's example, by name; other keys are spelled out.
FIELD_LABELS: dict[str, str] = {
    "age": "Age",
    "sex": "Sex",
    "location1.primary": "Body site",
    "duration": "Duration",
    "changed_recently": "Changed recently",
    "color": "Colours",
    "bleeding": "Bleeding",
    "photo_taken": "Photo taken",
}

_HOURS = re.compile(r"\b(\d+)h\b")
_UNIT_SUFFIX = re.compile(r"_(mm|cm|kg|days|weeks|months|years)$")


def body_site_label(value: str | None) -> str:
    """Human label of a body site code."""
    return BODY_SITE_LABELS.get(value or "", (value or "").replace("_", " ").capitalize())


def sex_label(value: str | None) -> str:
    """Human label of a patient sex code."""
    return SEX_LABELS.get(value or "", value or "")


def fitzpatrick_label(value: str | None) -> str:
    """Fitzpatrick type with its short description, or "Not recorded"."""
    return FITZPATRICK_LABELS.get(value or "", "Not recorded")


def status_label(value: str | None) -> str:
    """Human label of a case status."""
    return STATUS_LABELS.get(value or "", (value or "").replace("_", " ").capitalize())


def spell_code(code: str | None) -> str:
    """``snake_case_code`` → "Snake case code" (with "24h" → "24 hours")."""
    words = (code or "").replace("_", " ").replace(".", " ").strip()
    words = _HOURS.sub(lambda match: f"{match.group(1)} hours", words)
    return words[:1].upper() + words[1:]


def action_words(code: str | None) -> str:
    """A triage ``recommendedAction`` code in words."""
    return ACTION_WORDS.get(code or "", spell_code(code))


def field_label(field_name: str) -> str:
    """An anamnesis key as a label: known keys by name, others spelled out
    (``itch.scale_0_to_5`` → "Itch scale 0 to 5", ``location1.primary`` → "Body site")."""
    if field_name in FIELD_LABELS:
        return FIELD_LABELS[field_name]
    words = re.sub(r"(?<=[a-z])\d+(?=\.)", "", field_name)  # location1.primary → location.primary
    words = _UNIT_SUFFIX.sub(r" (\1)", words)  # diameter_mm → diameter (mm)
    return spell_code(words)


def answer_text(value: Any) -> str:
    """An anamnesis answer in words: Yes/No, lists joined, "Skipped" for an empty answer."""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, list):
        if not value:
            return "None of these"
        text = ", ".join(str(item) for item in value)
        return text[:1].upper() + text[1:]
    if isinstance(value, float):
        return f"{value:g}"
    if value == "" or value is None:
        return "Skipped"
    text = str(value)
    return text[:1].upper() + text[1:]


def answers_in_order(
    anamnesis: dict[str, Any] | None, order: list[str] | None = None
) -> list[tuple[str, Any]]:
    """The answers as ``(fieldName, answer)`` pairs in the order they were asked (``order``:
    ``Case.answer_order`` or an analysis's ``inputs["answer_order"]``)."""
    return ordered_answers(anamnesis, order)


def option_label(option: str) -> str:
    """An AI option string with a capital first letter (the value posted stays as sent)."""
    return option[:1].upper() + option[1:]


def percent(value: float | None) -> str:
    """0.734 → "73 %"; one decimal below 1 % and above 99 % (0.996 → "99.6 %"), so that a
    probability short of certainty never reads "100 %" nor one above zero "0 %"."""
    if value is None:
        return ""
    share = value * 100
    if 0 < share < 0.1:
        return "<0.1 %"
    if 99.9 < share < 100 and f"{share:.1f}" == "100.0":
        return ">99.9 %"
    return f"{share:.1f} %" if 0 < share < 1 or 99 < share < 100 else f"{share:.0f} %"


def when(value: datetime | None) -> str:
    """A timestamp as "29 Nov 2026, 14:05 UTC" (the browser shows it in local time)."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def day(value: datetime | None) -> str:
    """A timestamp's date as "29 Nov 2026"."""
    return "" if value is None else value.astimezone(UTC).strftime("%-d %b %Y")


FILTERS = {
    "body_site": body_site_label,
    "sex": sex_label,
    "fitzpatrick": fitzpatrick_label,
    "status_label": status_label,
    "action_words": action_words,
    "field_label": field_label,
    "answer_text": answer_text,
    "answers_in_order": answers_in_order,
    "option_label": option_label,
    "percent": percent,
    "when": when,
    "day": day,
    "spell_code": spell_code,
}
