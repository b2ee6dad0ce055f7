"""``CONSENT_POLICY``: what the gateway does with the consent recorded on a case.

=============  ===========================================================================
``off``        nothing is checked or warned about (consent can still be recorded and shown)
``advisory``   warnings (case page, ``GET /api/cases/<id>``, the diagnosis answer) while
               AI-analysis consent is not recorded as granted, or image storage was refused;
               nothing is refused (the default)
``enforced``   the questionnaire, the photo step and every AI call answer 409
               ``consent_required`` until AI-analysis consent is recorded as granted; a
               refused image storage refuses the photo step and the analysis of a photo
               stored before the refusal; the ``/api/ai/*`` proxies, which have no case to hold a
               consent, are refused
=============  ===========================================================================

The consent of the patient to the processing of their data by the AI service is the lawful
basis this setting lets an operator require (GDPR Art. 6(1)(a) and 9(2)(a): explicit consent
for health data, Art. 7(1): the controller must be able to show it was given).
"""

from __future__ import annotations

import uuid

from flask import current_app

from app.errors import ConsentRequired
from app.services.consent.records import state_of

#: The values of ``CONSENT_POLICY`` (validated in ``config.py``).
POLICIES = ("off", "advisory", "enforced")


def current_policy() -> str:
    """The app's ``CONSENT_POLICY``: ``off``, ``advisory`` or ``enforced``."""
    return str(current_app.config.get("CONSENT_POLICY", "advisory"))


def require_for_ai(case_id: uuid.UUID) -> None:
    """Under ``enforced``, refuse an AI call for the case unless its AI-analysis consent is
    recorded as granted (one query; none under the other policies).

    Raises:
        ConsentRequired: 409 ``consent_required``, ``details.scope`` ``ai_analysis``.
    """
    if current_policy() == "enforced":
        blocked = state_of(case_id, policy="enforced").ai_block
        if blocked is not None:
            raise blocked


def require_for_photo(case_id: uuid.UUID) -> None:
    """Under ``enforced``, refuse storing a photo for the case, or analysing one it holds:
    without AI-analysis consent granted (the photo step leads to the analysis), or with image
    storage refused (a photo stored before the refusal is not analysed again).

    Raises:
        ConsentRequired: 409 ``consent_required``, ``details.scope`` the scope missing.
    """
    if current_policy() == "enforced":
        blocked = state_of(case_id, policy="enforced").photo_block
        if blocked is not None:
            raise blocked


def refuse_without_case() -> None:
    """Under ``enforced``, refuse an AI call that belongs to no case (the ``/api/ai/*``
    proxies, ``POST /api/diagnosis`` without ``case_id``): no consent can be recorded for it.

    Raises:
        ConsentRequired: 409 ``consent_required``, ``details.scope`` ``ai_analysis``.
    """
    if current_policy() == "enforced":
        raise ConsentRequired(
            "CONSENT_POLICY is enforced: the AI Service is called only for a case whose "
            "patient consented to AI analysis. Open a case (POST /api/cases), record the "
            "consent (PUT /api/cases/<id>/consent), then send the photo with its case_id "
            "(POST /api/diagnosis).",
            details={"scope": "ai_analysis", "decision": None, "case_id": None},
        )
