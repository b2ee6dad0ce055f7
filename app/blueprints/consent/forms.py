"""The consent form on the case page: each scope granted or refused (or left as it is)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from app.services.consent import SCOPE_LABELS, ConsentState

_CHOICES = [SelectChoice("granted", "Granted"), SelectChoice("refused", "Refused")]


def _scope_field(scope: str) -> RadioField:
    return RadioField(
        SCOPE_LABELS[scope], id=f"consent-{scope}", choices=_CHOICES, validators=[Optional()]
    )


class ConsentForm(FlaskForm):
    """The patient's decision per scope; a scope left unchosen keeps its decision."""

    ai_analysis = _scope_field("ai_analysis")
    image_storage = _scope_field("image_storage")
    teaching_research = _scope_field("teaching_research")

    @classmethod
    def showing(cls, state: ConsentState | None) -> ConsentForm:
        """The form (not bound to a post) with the case's current decisions chosen."""
        form = cls(formdata=None)
        for scope in ("ai_analysis", "image_storage", "teaching_research"):
            getattr(form, scope).data = state.decision(scope) if state is not None else None
        return form

    def decisions(self) -> dict[str, str]:
        """``{scope: decision}`` of the scopes chosen."""
        return {
            name: field.data
            for name, field in (
                ("ai_analysis", self.ai_analysis),
                ("image_storage", self.image_storage),
                ("teaching_research", self.teaching_research),
            )
            if field.data
        }
