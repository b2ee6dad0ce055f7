"""WTForms of the diagnosis steps: the lesion photo, a new analysis run, and the review."""

from __future__ import annotations

import re
import uuid

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from app.services.clinical_record.agreement import AGREEMENT_WORDS
from app.services.clinical_terms import MAX_NOTES

#: What a form key looks like (as the new-case form's: a UUID4's hex or a similar token).
FORM_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_form_key() -> str:
    """A fresh key for a photo or analysis form: the same form posted twice (a double click
    without JavaScript) then stores and analyses once (:mod:`app.services.photo_once`)."""
    return uuid.uuid4().hex


class _KeyedForm(FlaskForm):
    """A form whose posts with one ``form_key`` do their work once."""

    form_key = HiddenField(default=new_form_key)

    @property
    def key(self) -> str | None:
        """The posted form key, or ``None`` when missing or malformed (then the post simply
        runs, as before forms had keys)."""
        key = self.form_key.data or ""
        return key if FORM_KEY.fullmatch(key) else None


class PhotoForm(_KeyedForm):
    """The lesion photo; ``question`` is the signed camera question (its fieldName gets true)."""

    photo = FileField(
        "Photo of the lesion",
        validators=[FileRequired("Choose a photo of the lesion, or take one.")],
    )
    question = HiddenField()


class AnalyzeForm(_KeyedForm):
    """Run the analysis again on the stored photo; ``accept_low_quality`` = "1" overrides a
    rejected photo, explicitly."""

    accept_low_quality = HiddenField()

    @property
    def accepts_low_quality(self) -> bool:
        """Whether the physician chose to analyse a photo of low quality."""
        return self.accept_low_quality.data == "1"


class ReviewForm(FlaskForm):
    """The physician's final diagnosis, agreement with the AI (asked only when the diagnosis
    is not picked from the differential), and notes."""

    final_diagnosis = StringField(
        "Final diagnosis",
        validators=[InputRequired("Enter the final diagnosis.")],
        render_kw={"maxlength": 255, "autocomplete": "off", "list": "differential-names"},
    )
    icd10 = StringField(
        "ICD-10 code (optional)",
        validators=[Optional()],
        render_kw={"maxlength": 10, "autocomplete": "off", "class": "icd10-input"},
    )
    agreement = RadioField(
        "If you wrote your own diagnosis: how does it compare with the AI's suggestions?",
        choices=[SelectChoice(value, words) for value, words in AGREEMENT_WORDS.items()],
        validators=[Optional()],
        validate_choice=False,  # the service checks the value and says what to do
    )
    notes = TextAreaField(
        "Notes (optional)", validators=[Optional()], render_kw={"maxlength": MAX_NOTES, "rows": 3}
    )
    #: Offered only once the code was refused as contradicting the diagnosis.
    confirm_icd10 = BooleanField("Keep this ICD-10 code: it is meant for this diagnosis")
    #: Set by the view when the service refused the code (``icd10_mismatch``).
    icd10_mismatch = False


class ReopenForm(FlaskForm):
    """Why a reviewed (signed) case is reopened (required, audited)."""

    reason = TextAreaField(
        "Why reopen this reviewed case?",
        validators=[InputRequired("Say why the reviewed case is reopened.")],
        render_kw={"maxlength": 2000, "rows": 2},
    )
