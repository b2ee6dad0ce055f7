"""The histology outcome form on the case page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, StringField, TextAreaField
from wtforms.validators import InputRequired, Optional

from app.services.clinical_terms import MAX_NOTES


class OutcomeForm(FlaskForm):
    """The pathology report's diagnosis, ICD-10 code, date, notes, and whether excised."""

    diagnosis = StringField(
        "Histology diagnosis",
        id="outcome-diagnosis",  # ids apart from the review form's on the same page
        validators=[InputRequired("Enter the histology diagnosis.")],
        render_kw={"maxlength": 255, "autocomplete": "off"},
    )
    icd10 = StringField(
        "ICD-10 code (optional)",
        id="outcome-icd10",
        validators=[Optional()],
        render_kw={"maxlength": 10, "autocomplete": "off", "class": "icd10-input"},
    )
    outcome_date = DateField(
        "Date of the histology report",
        id="outcome-date",
        validators=[InputRequired("Enter the date of the histology report.")],
    )
    excised = BooleanField("The lesion was excised", id="outcome-excised")
    notes = TextAreaField(
        "Notes (optional)",
        id="outcome-notes",
        validators=[Optional()],
        render_kw={"maxlength": MAX_NOTES, "rows": 2},
    )
