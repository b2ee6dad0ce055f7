"""The patient's consent, recorded per case and scope, and what ``CONSENT_POLICY`` does with it.

- :mod:`.records`: record a decision (append-only, audited with before/after values) and read
  a case's consent (:class:`~.records.ConsentState`: the current decision per scope, the
  history, the warnings and refusals the policy gives);
- :mod:`.policy`: the checks the questionnaire, photo and diagnosis services call before the
  AI Service is asked or a photo is stored.

Scopes (:data:`app.models.consent.CONSENT_SCOPES`): ``ai_analysis``, ``image_storage``,
``teaching_research``; each ``granted`` or ``refused``, or not recorded (unknown: never taken
for a refusal nor for a consent).
"""

from app.models.consent import CONSENT_DECISIONS, CONSENT_SCOPES
from app.services.consent.policy import (
    POLICIES,
    current_policy,
    refuse_without_case,
    require_for_ai,
    require_for_photo,
)
from app.services.consent.records import (
    CASE_CONSENT,
    SCOPE_LABELS,
    ConsentState,
    cases_granting,
    current_decisions,
    current_rows,
    grant_for_demo,
    record_consent,
    state_of,
)

__all__ = [
    "CASE_CONSENT",
    "CONSENT_DECISIONS",
    "CONSENT_SCOPES",
    "POLICIES",
    "SCOPE_LABELS",
    "ConsentState",
    "cases_granting",
    "current_decisions",
    "current_policy",
    "current_rows",
    "grant_for_demo",
    "record_consent",
    "refuse_without_case",
    "require_for_ai",
    "require_for_photo",
    "state_of",
]
