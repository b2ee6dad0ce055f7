"""Recording and reading the patient's consent on a case (``case_consents``, append-only).

A decision is recorded per scope; recording a different decision adds a row and keeps the
earlier ones (the history); recording the decision already current adds nothing. Every
recording is audited (``case.consent``) with each changed scope's value before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from app.errors import ConsentRequired, NotFound, ValidationFailed
from app.extensions import db
from app.models import CaseConsent, User
from app.models.base import utcnow
from app.models.consent import CONSENT_DECISIONS, CONSENT_SCOPES
from app.services import audit, cases, policies

#: Audit action of a recorded consent.
CASE_CONSENT = "case.consent"

#: The scopes in words (portal, report, warnings).
SCOPE_LABELS = {
    "ai_analysis": "AI analysis",
    "image_storage": "Image storage",
    "teaching_research": "Teaching and research use",
}


@dataclass(frozen=True)
class ConsentState:
    """A case's consent: the current decision per recorded scope and every record.

    ``current`` maps each recorded scope to its newest record (a scope absent from it is not
    recorded); ``history`` holds every record, newest first; ``names`` the recorders' full
    names by user id; ``policy`` the ``CONSENT_POLICY`` the warnings and blocks follow.
    """

    case_id: uuid.UUID
    policy: str
    current: dict[str, CaseConsent] = field(default_factory=dict)
    history: list[CaseConsent] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)

    def decision(self, scope: str) -> str | None:
        """``granted``, ``refused``, or ``None`` when the scope is not recorded."""
        record = self.current.get(scope)
        return record.decision if record is not None else None

    def recorded_by(self, record: CaseConsent) -> str:
        """The full name of who recorded ``record``, or an empty string."""
        return self.names.get(record.recorded_by_id or 0, "")

    @property
    def complete(self) -> bool:
        """Whether every scope is recorded (granted or refused)."""
        return all(scope in self.current for scope in CONSENT_SCOPES)

    def _missing(self, scope: str) -> ConsentRequired | None:
        decision = self.decision(scope)
        if scope == "ai_analysis" and decision != "granted":
            why = (
                "The patient refused AI analysis"
                if decision == "refused"
                else "The patient's consent to AI analysis is not recorded"
            )
            message = (
                f"{why}: the questionnaire, the photo and the AI analysis wait until it is "
                "recorded as granted. Nothing entered so far is lost."
            )
        elif scope == "image_storage" and decision == "refused":
            message = (
                "The patient refused the storage of images: no photo can be stored or "
                "analysed for this case unless image storage is recorded as granted."
            )
        else:
            return None
        details = {"scope": scope, "decision": decision, "case_id": str(self.case_id)}
        return ConsentRequired(message, details=details)

    @property
    def ai_block(self) -> ConsentRequired | None:
        """Under ``enforced``, why the AI may not be called for this case; else ``None``."""
        return self._missing("ai_analysis") if self.policy == "enforced" else None

    @property
    def photo_block(self) -> ConsentRequired | None:
        """Under ``enforced``, why no photo may be stored for this case; else ``None``."""
        if self.policy != "enforced":
            return None
        return self._missing("ai_analysis") or self._missing("image_storage")

    @property
    def warnings(self) -> list[str]:
        """Under ``advisory``: AI-analysis consent not recorded as granted, image storage
        refused, in words. ``[]`` under ``off``, and under ``enforced`` (there they refuse)."""
        if self.policy != "advisory":
            return []
        found = [self._missing("ai_analysis"), self._missing("image_storage")]
        return [_advice(blocked) for blocked in found if blocked is not None]


def _advice(blocked: ConsentRequired) -> str:
    if blocked.details["scope"] == "image_storage":
        return "The patient refused the storage of images; a photo stored now goes against it."
    if blocked.details["decision"] == "refused":
        return "The patient refused AI analysis; the AI is still called when you go on."
    return "The patient's consent to AI analysis is not recorded."


def _records(case_ids: list[uuid.UUID]) -> list[CaseConsent]:
    if not case_ids:
        return []
    return list(
        db.session.scalars(
            select(CaseConsent)
            .where(CaseConsent.case_id.in_(case_ids))
            .order_by(CaseConsent.recorded_at.desc(), CaseConsent.scope)
        )
    )


def state_of(case_id: uuid.UUID, *, policy: str | None = None) -> ConsentState:
    """The consent of the case (no access check: for callers that loaded the case through
    one). ``policy`` defaults to the app's ``CONSENT_POLICY``."""
    from app.services.consent.policy import current_policy

    history = _records([case_id])
    current: dict[str, CaseConsent] = {}
    for record in history:
        current.setdefault(record.scope, record)
    ids = {record.recorded_by_id for record in history if record.recorded_by_id is not None}
    names: dict[int, str] = {}
    if ids:
        rows = db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
        names = {user_id: name for user_id, name in rows}  # noqa: C416 - Row objects
    return ConsentState(case_id, policy or current_policy(), current, history, names)


_CURRENT_ROWS = (
    select(*CaseConsent.__table__.columns)
    .where(CaseConsent.case_id.in_(bindparam("case_ids", expanding=True)))
    .order_by(CaseConsent.case_id, CaseConsent.scope, CaseConsent.recorded_at.desc())
)


def current_rows(case_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """``{case id: [the newest record of each recorded scope]}`` as plain column rows, in
    scope order, in one query (no access check, no ORM objects: for the exports, which
    stream). A case without any record is absent."""
    found: dict[uuid.UUID, dict[str, Any]] = {}
    for row in db.session.execute(_CURRENT_ROWS, {"case_ids": list(case_ids)}):
        found.setdefault(row.case_id, {}).setdefault(row.scope, row)
    return {case_id: list(scopes.values()) for case_id, scopes in found.items()}


def current_decisions(case_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, str | None]]:
    """``{case id: {scope: granted | refused | None}}`` (every scope, ``None`` when not
    recorded) for each of ``case_ids``, in one query (see :func:`current_rows`)."""
    wanted = list(case_ids)
    rows = current_rows(wanted)
    return {
        case_id: dict.fromkeys(CONSENT_SCOPES)
        | {row.scope: row.decision for row in rows.get(case_id, [])}
        for case_id in wanted
    }


def cases_granting(scope: str) -> Select[Any]:
    """A ``SELECT case_id`` of the cases whose newest decision for ``scope`` is ``granted``
    (a later refusal, a withdrawal, excludes the case; a case never asked is excluded)."""
    ranked = (
        select(
            CaseConsent.case_id,
            CaseConsent.decision,
            func.row_number()
            .over(partition_by=CaseConsent.case_id, order_by=CaseConsent.recorded_at.desc())
            .label("newest"),
        )
        .where(CaseConsent.scope == scope)
        .subquery()
    )
    return select(ranked.c.case_id).where(ranked.c.newest == 1, ranked.c.decision == "granted")


def grant_for_demo(*, actor: Any, case_id: uuid.UUID) -> None:
    """Record an invented demo patient's consent to AI analysis and image storage as granted,
    for those of the two scopes not recorded yet (``flask demo seed``, before it analyses a
    demo case, so that it runs under every ``CONSENT_POLICY``). Never for a real patient.

    Raises:
        NotFound: ``case_not_found``.
    """
    state = state_of(case_id)
    missing = {
        scope: "granted"
        for scope in ("ai_analysis", "image_storage")
        if state.decision(scope) is None
    }
    if missing:
        record_consent(actor=actor, case_id=case_id, decisions=missing)


def _cleaned(decisions: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for scope, decision in decisions.items():
        if scope not in CONSENT_SCOPES:
            problems[scope] = f"Unknown consent scope; one of: {', '.join(CONSENT_SCOPES)}."
        elif decision not in CONSENT_DECISIONS:
            problems[scope] = "Record the patient's decision as granted or refused."
        else:
            cleaned[scope] = decision
    if not decisions:
        problems["consent"] = "Record at least one scope: granted or refused."
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def record_consent(*, actor: Any, case_id: uuid.UUID, decisions: Mapping[str, Any]) -> ConsentState:
    """Record the patient's decision for one or more scopes of a case (audited ``case.consent``
    with ``changes: {scope: {"before", "after"}}``), by ``actor`` (owner or admin), now.

    ``decisions`` maps a scope of :data:`CONSENT_SCOPES` to ``granted`` or ``refused``; scopes
    left out keep their decision. A decision equal to the current one adds no record.
    Allowed at every status, reviewed and archived included: a patient may withdraw a
    consent at any time (GDPR Art. 7(3)), and the withdrawal must be recordable.

    Returns:
        The case's :class:`ConsentState` after the change.

    Raises:
        ValidationFailed: an unknown scope, a decision other than granted/refused, nothing
            sent (``details``: scope → message). NotFound: ``case_not_found`` (also a case
            the actor may not change).
    """
    cleaned = _cleaned(decisions)
    case = cases.require_case(actor=actor, case_id=case_id)
    if not policies.can_edit_case(actor, case):
        raise NotFound("Case not found.", code="case_not_found")
    before = state_of(case.id)
    now = utcnow()
    changes: dict[str, dict[str, str | None]] = {}
    for scope in CONSENT_SCOPES:
        wanted = cleaned.get(scope)
        if wanted is None or wanted == before.decision(scope):
            continue
        changes[scope] = {"before": before.decision(scope), "after": wanted}
        db.session.add(
            CaseConsent(
                id=uuid.uuid4(),
                case_id=case.id,
                scope=scope,
                decision=wanted,
                recorded_by_id=getattr(actor, "id", None),
                recorded_at=now,
            )
        )
    audit.record(actor, CASE_CONSENT, case_id=case.id, details={"changes": changes})
    db.session.commit()
    return state_of(case.id)
