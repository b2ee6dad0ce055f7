"""The adaptive questionnaire: a branching tree over the standard dermatology history.

The tree is an ordered list of :class:`Question`, each with a predicate saying when it applies
given the answers so far. The next question is the first applicable one without an answer, so
the result is a pure function of the anamnesis (safe to retry, nothing stored here).

Branching (the main switch is ``morphology``):

* a growth (pigmented spot, bump or nodule, scaly patch) gets the skin-cancer questions:
  elevation/firmness (EFG), colours, diameter and recent change (ABCDE, Glasgow 7-point),
  bleeding and surface (ulceration, oozing/crusting, inflammation);
* only a pigmented lesion gets asymmetry/border (ABCDE "A", "B") and family history of melanoma;
* an eruption (rash, pustules, hives, spots) gets lesion count, distribution (only when there is
  more than one lesion) and rash features;
* "spreading redness" is asked only with fever; "non-blanching" only with fever and a red rash or
  red/purple spots (the meningococcal-sepsis screen);
* every path ends with the ``camera`` question (``photo_taken``), then ``isComplete``.

Longest path: 20 questions (pigmented lesion, changed, with fever); shortest: 12.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reference_ai import anamnesis as A
from reference_ai.anamnesis import Findings, is_answered, read_findings

#: Until the morphology is known the branch is unknown; show a typical path length meanwhile.
TYPICAL_PATH_LENGTH = 17


def _always(_: Findings) -> bool:
    return True


@dataclass(frozen=True)
class Question:
    """One question of the tree; ``applies`` decides from the answers so far whether to ask it."""

    question_id: str
    text: str
    question_type: str  # camera | bool | radio | checkbox | number | text
    field_name: str
    options: tuple[str, ...] = ()
    applies: Callable[[Findings], bool] = _always
    required: bool = True
    help_text: str = ""
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None

    def to_json(self, *, answered: int, estimated_total: int) -> dict[str, Any]:
        """The contract's ``NextQuestion`` body for this question."""
        body: dict[str, Any] = {
            "questionId": self.question_id,
            "questionText": self.text,
            "questionType": self.question_type,
            "fieldName": self.field_name,
            "options": list(self.options),
            "isComplete": False,
            "required": self.required,
            "helpText": self.help_text,
            "progress": {"answered": answered, "estimatedTotal": estimated_total},
        }
        if self.question_type == "number":
            body.update(min=self.minimum, max=self.maximum, unit=self.unit)
        return body


QUESTIONS: tuple[Question, ...] = (
    Question(
        "patient_age",
        "How old is the patient?",
        "number",
        A.AGE,
        minimum=0,
        maximum=120,
        unit="years",
        help_text="Age in completed years. Skin cancers become more likely after 50.",
    ),
    Question(
        "patient_sex",
        "What is the patient's sex?",
        "radio",
        A.SEX,
        options=A.SEX_OPTIONS,
        help_text="Sex recorded at birth; used for site-specific risk (e.g. melanoma on legs).",
    ),
    Question(
        "body_site",
        "Where on the body is the lesion (or most of the rash)?",
        "radio",
        A.SITE,
        options=A.SITE_OPTIONS,
        help_text="Choose the main site. Face, scalp, ears, neck, hands and arms are sun-exposed.",
    ),
    Question(
        "symptom_duration",
        "How long has it been present?",
        "radio",
        A.DURATION,
        options=tuple(A.DURATION_WEEKS),
        help_text="Since the patient first noticed it.",
    ),
    Question(
        "morphology",
        "What does it look like?",
        "radio",
        A.MORPHOLOGY,
        options=A.MORPHOLOGY_OPTIONS,
        help_text="The primary lesion. This decides which of the following questions apply.",
    ),
    Question(
        "lesion_count",
        "How many lesions are there?",
        "radio",
        A.LESION_COUNT,
        options=A.LESION_COUNT_OPTIONS,
        applies=lambda f: f.is_eruption,
    ),
    Question(
        "distribution",
        "How are the lesions distributed?",
        "radio",
        A.DISTRIBUTION,
        options=A.DISTRIBUTION_OPTIONS,
        applies=lambda f: f.is_eruption and f.multiple,
        help_text="Flexural suggests eczema, extensor psoriasis, central face rosacea.",
    ),
    Question(
        "elevation",
        "Is the lesion raised, and how does it feel?",
        "radio",
        A.ELEVATION,
        options=A.ELEVATION_OPTIONS,
        applies=lambda f: f.is_growth,
        help_text="Raised and firm is the E and F of the EFG rule for nodular melanoma.",
    ),
    Question(
        "lesion_colour",
        "Which colours does the lesion show?",
        "checkbox",
        A.COLOR,
        options=A.COLOR_OPTIONS,
        applies=lambda f: f.is_growth,
        help_text="Tick every colour seen; several shades suggest colour variegation (ABCDE C).",
    ),
    Question(
        "pigmented_features",
        "Which of these describe the pigmented lesion?",
        "checkbox",
        A.PIGMENTED_FEATURES,
        options=A.PIGMENTED_FEATURE_OPTIONS,
        applies=lambda f: f.morphology == A.PIGMENTED,
        help_text="ABCDE A and B. Leave both unticked if the lesion is symmetric and well defined.",
    ),
    Question(
        "lesion_diameter",
        "What is the largest diameter of the lesion?",
        "number",
        A.DIAMETER,
        applies=lambda f: f.morphology in (A.PIGMENTED, A.BUMP),
        minimum=0,
        maximum=200,
        unit="mm",
        required=False,
        help_text="Over 6 mm is ABCDE D; 7 mm or more scores in the Glasgow 7-point checklist.",
    ),
    Question(
        "recent_change",
        "Has the lesion changed recently?",
        "bool",
        A.CHANGED,
        applies=lambda f: f.is_growth,
        help_text="Any change in size, shape or colour over the last months (ABCDE E).",
    ),
    Question(
        "change_features",
        "What has changed?",
        "checkbox",
        A.CHANGE_FEATURES,
        options=A.CHANGE_FEATURE_OPTIONS,
        applies=lambda f: f.is_growth and bool(f.changed),
        help_text="Change in size, shape or colour are the major Glasgow 7-point criteria.",
    ),
    Question(
        "rash_features",
        "Which of these describe the rash?",
        "checkbox",
        A.RASH_FEATURES,
        options=A.RASH_FEATURE_OPTIONS,
        applies=lambda f: f.is_eruption,
        help_text="Tick all that apply; leave all unticked if none do.",
    ),
    Question(
        "itch_severity",
        "How itchy is it?",
        "number",
        A.ITCH,
        minimum=0,
        maximum=5,
        unit="points (0 none - 5 worst)",
        help_text="0 no itch, 5 the worst imaginable itch.",
    ),
    Question(
        "pain",
        "Is it painful or tender?",
        "bool",
        A.PAIN,
        help_text="New pain or itch in a lesion is a change in sensation (Glasgow 7-point).",
    ),
    Question(
        "bleeding",
        "Does the lesion bleed without being injured?",
        "bool",
        A.BLEEDING,
        applies=lambda f: f.is_growth,
    ),
    Question(
        "lesion_surface",
        "Which of these describe the lesion's surface?",
        "checkbox",
        A.SURFACE,
        options=A.SURFACE_OPTIONS,
        applies=lambda f: f.is_growth,
        help_text="Ulceration is a red flag; oozing/crusting and inflammation score in Glasgow.",
    ),
    Question(
        "fever",
        "Does the patient have a fever or feel unwell?",
        "bool",
        A.FEVER,
        help_text="Temperature of 38 °C or more, chills, or feeling generally unwell.",
    ),
    Question(
        "spreading_redness",
        "Is redness spreading quickly around the area?",
        "bool",
        A.SPREADING_REDNESS,
        applies=lambda f: bool(f.fever),
        help_text="Spreading redness with fever suggests cellulitis or necrotising infection.",
    ),
    Question(
        "non_blanching",
        "Does the rash stay visible when a glass is pressed on it (non-blanching)?",
        "bool",
        A.NON_BLANCHING,
        applies=lambda f: bool(f.fever) and f.morphology in (A.RED_RASH, A.PURPURIC_SPOTS),
        help_text="A non-blanching rash with fever may be meningococcal sepsis: an emergency.",
    ),
    Question(
        "immunosuppression",
        "Is the patient immunosuppressed?",
        "bool",
        A.IMMUNOSUPPRESSED,
        help_text="Organ transplant, chemotherapy, HIV, biologics or long-term oral steroids.",
    ),
    Question(
        "family_history_melanoma",
        "Has a first-degree relative had melanoma?",
        "bool",
        A.FAMILY_HISTORY_MELANOMA,
        applies=lambda f: f.morphology == A.PIGMENTED,
    ),
    Question(
        "lesion_photo",
        "Take a photo of the lesion",
        "camera",
        A.PHOTO,
        help_text="Fill the frame with the lesion, in focus, in even daylight, without flash.",
    ),
)

_COMPLETE: dict[str, Any] = {
    "questionId": "",
    "questionText": "",
    "questionType": "",
    "fieldName": "",
    "options": [],
    "isComplete": True,
    "required": False,
    "helpText": "",
}


def applicable_questions(anamnesis: dict[str, Any]) -> list[Question]:
    """The questions that apply to these answers, in the order they are asked."""
    findings = read_findings(anamnesis)
    return [question for question in QUESTIONS if question.applies(findings)]


def next_question(anamnesis: dict[str, Any]) -> dict[str, Any]:
    """The contract's ``NextQuestion`` body: the first applicable unanswered question, or the end.

    ``progress.answered`` counts the applicable questions answered; ``progress.estimatedTotal``
    counts the applicable questions (at least :data:`TYPICAL_PATH_LENGTH` until the morphology,
    which decides the branch, is known).
    """
    applicable = applicable_questions(anamnesis)
    answered = sum(1 for q in applicable if is_answered(anamnesis, q.field_name))
    estimated_total = len(applicable)
    if not is_answered(anamnesis, A.MORPHOLOGY):
        estimated_total = max(estimated_total, TYPICAL_PATH_LENGTH)
    for question in applicable:
        if not is_answered(anamnesis, question.field_name):
            return question.to_json(answered=answered, estimated_total=estimated_total)
    return {**_COMPLETE, "progress": {"answered": answered, "estimatedTotal": answered}}
