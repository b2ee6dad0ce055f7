"""WTForms of the case pages: the new-case form and the filters of the case list.

The forms check only what a form can know (a field is filled in, a number is a number, a choice
is offered); the domain rules (age range, pseudonymous reference, lengths) are the cases
service's, and its ``ValidationFailed`` details are shown on the fields they name
(:func:`show_problems`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from flask_wtf import FlaskForm
from wtforms import (
    Form,
    HiddenField,
    IntegerField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from app.services.cases import MAX_PAGE
from app.services.clinical_record.words import (
    BODY_SITE_LABELS,
    FITZPATRICK_LABELS,
    SEX_LABELS,
    STATUS_LABELS,
)
from app.services.clinical_terms import (
    BODY_SITES,
    CASE_STATUSES,
    FITZPATRICK_TYPES,
    MAX_CHIEF_COMPLAINT,
    MAX_PATIENT_AGE,
    MAX_PATIENT_REFERENCE,
    MIN_PATIENT_AGE,
    PATIENT_SEXES,
    URGENCIES,
)

#: What a form key looks like (the hex of a UUID4, or any similar token of a few dozen characters).
_FORM_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def form_key_or_none(value: str | None) -> str | None:
    """A posted form key (see :mod:`app.services.case_intake`) when it looks like one (16-64
    letters, digits, ``_`` or ``-``), else ``None``."""
    return value if value and _FORM_KEY.fullmatch(value) else None


def _blank_to_none(value: str | None) -> str | None:
    return value or None


class NewCaseForm(FlaskForm):
    """Patient facts of a new case; the patient reference must never identify the patient."""

    patient_reference = StringField(
        "Patient reference",
        validators=[InputRequired("Enter a patient reference.")],
        render_kw={"maxlength": MAX_PATIENT_REFERENCE, "autocomplete": "off"},
    )
    patient_age = IntegerField(
        "Age (years)",
        validators=[InputRequired("Enter the age in whole years.")],
        render_kw={"min": MIN_PATIENT_AGE, "max": MAX_PATIENT_AGE, "inputmode": "numeric"},
    )
    patient_sex = SelectField(
        "Sex",
        choices=[SelectChoice("", "Choose…")]
        + [SelectChoice(x, SEX_LABELS[x]) for x in PATIENT_SEXES],
        validators=[InputRequired("Choose the patient's sex (or 'Not stated').")],
    )
    body_site = SelectField(
        "Body site",
        choices=[SelectChoice("", "Choose…")]
        + [SelectChoice(site, BODY_SITE_LABELS[site]) for site in BODY_SITES],
        validators=[InputRequired("Choose where the lesion is.")],
    )
    fitzpatrick_type = SelectField(
        "Fitzpatrick skin type (optional)",
        choices=[SelectChoice("", "Not recorded")]
        + [SelectChoice(t, FITZPATRICK_LABELS[t]) for t in FITZPATRICK_TYPES],
        validators=[Optional()],
        filters=[_blank_to_none],
        validate_choice=False,  # the cases service checks it and names the allowed values
    )
    chief_complaint = TextAreaField(
        "Chief complaint",
        validators=[InputRequired("Describe the chief complaint in a sentence or two.")],
        render_kw={"maxlength": MAX_CHIEF_COMPLAINT, "rows": 3},
    )

    #: This form's idempotency key: a double submit opens one case (see
    #: :mod:`app.services.case_intake`); made when the form is first shown.
    form_key = HiddenField(default=lambda: uuid.uuid4().hex)

    @property
    def key(self) -> str | None:
        """The posted form key, or ``None`` when it is missing or malformed (then the case is
        opened without the double-submit guard, as before the key existed)."""
        return form_key_or_none(self.form_key.data)

    def renew_key(self) -> None:
        """Give the form a fresh key, so that its next submit opens another case."""
        self.form_key.data = uuid.uuid4().hex

    def service_fields(self) -> dict:
        """The values to pass to the cases service."""
        return {
            "patient_reference": self.patient_reference.data or "",
            "patient_age": self.patient_age.data,
            "patient_sex": self.patient_sex.data or "",
            "body_site": self.body_site.data or "",
            "fitzpatrick_type": self.fitzpatrick_type.data,
            "chief_complaint": self.chief_complaint.data or "",
        }


def show_problems(form: FlaskForm, problems: Mapping[str, str]) -> None:
    """Put a service's ``ValidationFailed`` details on the form fields they name; a problem
    without a field goes to ``form.form_errors``."""
    for name, message in problems.items():
        field = form._fields.get(name.split(".", 1)[0])
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


class CaseFilterForm(Form):
    """The search and filters of the case list (a GET form: no CSRF token needed)."""

    q = SearchField("Search by patient reference", filters=[lambda v: (v or "").strip()])
    #: A reference is at most this long, so a longer search finds nothing; the page's field
    #: stops there (a search of thousands of characters would otherwise exceed the request line
    #: that gunicorn accepts and get its bare 414 page).
    q_max_length = MAX_PATIENT_REFERENCE
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "All but archived")]
        + [SelectChoice(s, STATUS_LABELS[s]) for s in CASE_STATUSES],
    )
    urgency = SelectField(
        "Urgency",
        choices=[SelectChoice("", "Any urgency")]
        + [SelectChoice(u, f"{u.capitalize()} urgency") for u in URGENCIES],
    )
    page = IntegerField("Page", default=1)

    def filters(self) -> dict:
        """Valid filters for the cases service; an unknown value is ignored, not an error."""
        self.validate()
        if self.status.data not in CASE_STATUSES:
            self.status.data = ""
        if self.urgency.data not in URGENCIES:
            self.urgency.data = ""
        page = self.page.data
        if not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
            self.page.data = page = 1
        return {
            "q": self.q.data or None,
            "status": self.status.data or None,
            "urgency": self.urgency.data or None,
            "page": page,
        }

    @property
    def is_filtered(self) -> bool:
        """Whether any search or filter is applied."""
        return bool(self.q.data or self.status.data or self.urgency.data)
