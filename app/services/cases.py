"""Cases: open, find, read, change and archive a case, and record questionnaire answers.

Shared by the JSON API, the portal and the CLI. Every function takes the acting user as
``actor``, checks access through :mod:`app.services.policies`, commits once and writes an audit
event in the same transaction. A case the actor may not see is reported as
``NotFound("case_not_found")``, exactly like a case that does not exist (no existence leak).

Status workflow (``clinical_terms.CASE_STATUSES``)::

    draft → questionnaire → awaiting_image → analyzed | analysis_failed → reviewed
    any status except archived → archived (the API never hard-deletes)

An archived case is read-only: changing it raises ``Conflict("case_archived")``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.models import Case
from app.services import anamnesis as anamnesis_rules
from app.services import audit, free_text, policies
from app.services.clinical_record.answers import extend_order
from app.services.clinical_terms import (
    BODY_SITES,
    CASE_STATUSES,
    FITZPATRICK_TYPES,
    MAX_CHIEF_COMPLAINT,
    MAX_NOTES,
    MAX_PATIENT_AGE,
    MAX_PATIENT_REFERENCE,
    MIN_PATIENT_AGE,
    PATIENT_SEXES,
    URGENCIES,
)
from app.services.lesions import records as lesion_records

#: Largest page of the case list.
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
#: Highest page number accepted (keeps the SQL offset within a bigint).
MAX_PAGE = 100_000

#: Fields ``update_case`` may change; the rest are set by the workflow (status, urgency, review).
EDITABLE_FIELDS = (
    "patient_reference",
    "patient_age",
    "patient_sex",
    "body_site",
    "fitzpatrick_type",
    "chief_complaint",
    "physician_notes",
)
_NULLABLE_FIELDS = frozenset({"fitzpatrick_type", "physician_notes"})

# Allowed workflow moves; every status but "archived" may also move to "archived".
_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"questionnaire", "awaiting_image", "analyzed", "analysis_failed"}),
    "questionnaire": frozenset({"awaiting_image", "analyzed", "analysis_failed"}),
    "awaiting_image": frozenset({"analyzed", "analysis_failed"}),
    "analyzed": frozenset({"analyzed", "analysis_failed", "reviewed"}),
    "analysis_failed": frozenset({"analyzed", "analysis_failed"}),
    # A re-run after a review replaces the analysis the review was about: review again.
    "reviewed": frozenset({"reviewed", "analyzed", "analysis_failed"}),
    "archived": frozenset(),
}

_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CasePage:
    """One page of the case list: ``items`` newest first, ``total`` matching cases overall."""

    items: list[Case]
    total: int
    page: int
    per_page: int


# --- field rules ----------------------------------------------------------------------------


def patient_reference_problem(value: str) -> str | None:
    """Return why ``value`` (already trimmed) is not an acceptable pseudonymous reference.

    Rules: 1–64 characters, no control characters, no invisible format characters (Unicode
    category Cf: zero-width space, joiners, bidi marks, soft hyphen, byte order mark; a
    reference with one looks like another and would be another patient), and not an email
    address (a reference must not identify the patient; an email address does).
    """
    if not value:
        return "A patient reference is required."
    if free_text.is_invisible(value):
        return free_text.invisible_problem("The patient reference")
    if len(value) > MAX_PATIENT_REFERENCE:
        return f"The patient reference may be at most {MAX_PATIENT_REFERENCE} characters."
    if _CONTROL_CHARS.search(value):
        return "The patient reference may not contain control characters."
    if any(unicodedata.category(char) == "Cf" for char in value):
        return (
            "The patient reference may not contain invisible characters (such as zero-width "
            "spaces, joiners or direction marks): it would look the same as another reference "
            "and be another patient."
        )
    if _EMAIL_LIKE.search(value):
        return (
            "This looks like an email address; use a pseudonymous reference "
            "(e.g. PT-2026-0042), never something that identifies the patient."
        )
    return None


def _age_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "The age must be a whole number of years."
    if not MIN_PATIENT_AGE <= value <= MAX_PATIENT_AGE:
        return f"The age must be between {MIN_PATIENT_AGE} and {MAX_PATIENT_AGE} years."
    return None


def _one_of_problem(choices: tuple[str, ...]) -> Any:
    def check(value: Any) -> str | None:
        return None if value in choices else f"Must be one of: {', '.join(choices)}."

    return check


def _text_problem(label: str, limit: int, *, required: bool) -> Any:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "Must be a string."
        if required and not value:
            return f"{label} is required."
        if required and free_text.is_invisible(value):
            return free_text.invisible_problem(label)
        if len(value) > limit:
            return f"{label} may be at most {limit} characters."
        return None

    return check


def _reference_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "Must be a string."
    return patient_reference_problem(value)


# One check per settable field: value (already trimmed) → problem or None.
_FIELD_CHECKS: dict[str, Any] = {
    "patient_reference": _reference_problem,
    "patient_age": _age_problem,
    "patient_sex": _one_of_problem(PATIENT_SEXES),
    "body_site": _one_of_problem(BODY_SITES),
    "fitzpatrick_type": _one_of_problem(FITZPATRICK_TYPES),
    "chief_complaint": _text_problem("The chief complaint", MAX_CHIEF_COMPLAINT, required=True),
    "physician_notes": _text_problem("Notes", MAX_NOTES, required=False),
}


def _clean_fields(
    values: Mapping[str, Any], nullable: frozenset[str] = _NULLABLE_FIELDS
) -> dict[str, Any]:
    """Trim and check case fields; return the cleaned values (empty notes become ``None``).

    Raises:
        ValidationFailed: ``details`` maps each bad field to a message.
    """
    cleaned: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, raw in values.items():
        value = raw.strip() if isinstance(raw, str) else raw
        check = _FIELD_CHECKS.get(name)
        if check is None:
            problems[name] = "This field cannot be set."
        elif value is None:
            if name in nullable:
                cleaned[name] = None
            else:
                problems[name] = "This field may not be null."
        elif (why := check(value)) is not None:
            problems[name] = why
        else:
            cleaned[name] = None if name == "physician_notes" and not value else value
    if problems:
        raise ValidationFailed(problems)
    return cleaned


# --- loading and status ---------------------------------------------------------------------


def _not_found() -> NotFound:
    return NotFound("Case not found.", code="case_not_found")


def require_case(
    *,
    actor: Any,
    case_id: uuid.UUID,
    for_edit: bool = False,
    signed_ok: bool = False,
    fresh: bool = False,
    lock: bool = False,
) -> Case:
    """Load a case the actor may view (or, with ``for_edit``, change); no audit, no commit.

    For other services (images, questionnaire, diagnosis) that audit and commit themselves.
    A reviewed case is signed: its answers, fields, images and analyses may not change until
    it is reopened (``signed_ok``: for reopening it). ``fresh``: read the row even when the
    session holds the case from an earlier transaction (which another request may have
    changed since). ``lock``: read it fresh with ``SELECT ... FOR UPDATE``, so that a
    read-modify-write of the row (merging answers) waits for another one under way and reads
    what it wrote; the lock is held until the caller commits or rolls back.

    Raises:
        NotFound: ``case_not_found`` when it does not exist or the actor may not see it.
        Conflict: ``case_archived`` when ``for_edit`` and the case is archived;
            ``case_reviewed`` when ``for_edit`` and the case is reviewed (reopen it first).
    """
    case = db.session.get(
        Case, case_id, populate_existing=fresh or lock, with_for_update=True if lock else None
    )
    if case is None or not policies.can_view_case(actor, case):
        raise _not_found()
    if for_edit:
        if not policies.can_edit_case(actor, case):
            raise _not_found()
        if case.status == "archived":
            raise Conflict(
                "This case is archived and can no longer be changed.", code="case_archived"
            )
        if case.status == "reviewed" and not signed_ok:
            raise Conflict(
                "This case is reviewed and signed; reopen it (with a reason) to change it.",
                code="case_reviewed",
            )
    return case


def transition(case: Case, status: str) -> bool:
    """Move ``case`` to ``status`` in memory (no commit); return whether it changed.

    For the diagnosis and review services, which commit the move with their own rows. Staying in
    the same status is always allowed.

    Raises:
        Conflict: ``invalid_status_transition`` for a move the workflow does not allow (e.g. out
            of ``archived``).
    """
    if status not in CASE_STATUSES:
        raise ValueError(f"unknown case status {status!r}")
    if status == case.status:
        return False
    allowed = _TRANSITIONS[case.status] | ({"archived"} if case.status != "archived" else set())
    if status not in allowed:
        raise Conflict(
            f"A case in status {case.status!r} cannot move to {status!r}.",
            code="invalid_status_transition",
            details={"from": case.status, "to": status},
        )
    case.status = status
    return True


def set_urgency(case: Case, urgency: str | None) -> None:
    """Set the urgency derived from the latest analysis (in memory, no commit).

    Raises ``ValueError`` for a value outside ``clinical_terms.URGENCIES``.
    """
    if urgency is not None and urgency not in URGENCIES:
        raise ValueError(f"unknown urgency {urgency!r}")
    case.urgency = urgency


# --- use cases ------------------------------------------------------------------------------


def create_case(
    *,
    actor: Any,
    patient_reference: str,
    patient_age: int | None,
    patient_sex: str,
    body_site: str,
    chief_complaint: str,
    fitzpatrick_type: str | None = None,
    anamnesis: Mapping[str, Any] | None = None,
    lesion: Any = None,
    case_id: uuid.UUID | None = None,
    commit: bool = True,
) -> Case:
    """Open a case owned by ``actor``: status ``draft`` with an empty anamnesis, or
    ``questionnaire`` when first ``anamnesis`` answers are given (one commit for both).

    ``case_id``: the new case's id (default: a new one). Without ``commit`` the rows (case,
    new patient and lesion, audit event) are written but not committed: the caller commits
    them with its own (``POST /api/diagnosis``: with the image's row).

    The case is a visit of ``lesion`` (a ``Lesion`` the caller checked), or, without one, the
    first visit of a new lesion of the actor's patient of ``patient_reference`` (created when
    new): see :mod:`app.services.lesions.records`. A visit of a lesion belongs to the lesion's
    patient's owner.

    Strings are trimmed; ``patient_age`` is in whole years (0–120), ``None`` when unknown (a
    case opened by ``POST /api/diagnosis`` from an anamnesis without an age).

    Raises:
        ValidationFailed: any field breaks its rule (``details``: field → message), or the
            answers break the anamnesis shape rules.
        PermissionDenied: the actor is inactive.
    """
    if not policies.can_create_case(actor):
        raise PermissionDenied()
    fields = _clean_fields(
        {
            "patient_reference": patient_reference,
            "patient_age": patient_age,
            "patient_sex": patient_sex,
            "body_site": body_site,
            "fitzpatrick_type": fitzpatrick_type,
            "chief_complaint": chief_complaint,
        },
        nullable=_NULLABLE_FIELDS | {"patient_age"},
    )
    answers = anamnesis_rules.validate_anamnesis(dict(anamnesis or {}))
    status = "questionnaire" if answers else "draft"
    case = Case(
        id=case_id or uuid.uuid4(),
        owner_id=lesion.patient.owner_id if lesion is not None else actor.id,
        status=status,
        anamnesis=answers,
        answer_order=list(answers),
        **fields,
    )
    lesion_records.attach(case, lesion)  # writes a new patient and lesion first
    db.session.add(case)
    details = {"answers": sorted(answers)} if answers else {}
    details.update(patient_id=str(case.patient_id), lesion_id=str(case.lesion_id))
    audit.record(actor, audit.CASE_CREATE, case_id=case.id, details=details)
    if commit:
        db.session.commit()
    return case


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_cases(
    *,
    actor: Any,
    status: str | None = None,
    urgency: str | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> CasePage:
    """Return one page of the actor's cases (every case for admins), newest first.

    Args:
        status: only this status; without it archived cases are left out.
        urgency: only this urgency.
        q: case-insensitive substring of the patient reference (``%`` and ``_`` match literally).
        page: 1-based page number.
        per_page: page size, 1–100.

    Raises:
        ValidationFailed: unknown ``status``/``urgency`` or a page out of range.
    """
    problems: dict[str, str] = {}
    if status is not None and status not in CASE_STATUSES:
        problems["status"] = f"Must be one of: {', '.join(CASE_STATUSES)}."
    if urgency is not None and urgency not in URGENCIES:
        problems["urgency"] = f"Must be one of: {', '.join(URGENCIES)}."
    if not 1 <= page <= MAX_PAGE:
        problems["page"] = f"page must be between 1 and {MAX_PAGE}."
    if not 1 <= per_page <= MAX_PER_PAGE:
        problems["per_page"] = f"per_page must be between 1 and {MAX_PER_PAGE}."
    if problems:
        raise ValidationFailed(problems)

    conditions = []
    if not policies.can_list_all_cases(actor):
        conditions.append(Case.owner_id == actor.id)
    if status is not None:
        conditions.append(Case.status == status)
    else:
        conditions.append(Case.status != "archived")
    if urgency is not None:
        conditions.append(Case.urgency == urgency)
    if q is not None and q.strip():
        pattern = f"%{_escape_like(q.strip())}%"
        conditions.append(Case.patient_reference.ilike(pattern, escape="\\"))

    total = db.session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    items = list(
        db.session.scalars(
            select(Case)
            .where(*conditions)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    audit.record(
        actor,
        audit.CASE_LIST,
        details={
            "status": status,
            "urgency": urgency,
            "q": q,
            "page": page,
            "per_page": per_page,
            "total": total,
        },
    )
    db.session.commit()
    return CasePage(items=items, total=total, page=page, per_page=per_page)


def get_case(*, actor: Any, case_id: uuid.UUID) -> Case:
    """Return the case with its images (ordered by upload time) and record the read.

    Raises:
        NotFound: ``case_not_found`` (also for a case the actor may not see).
    """
    case = require_case(actor=actor, case_id=case_id)
    audit.record(actor, audit.CASE_READ, case_id=case.id)
    db.session.commit()
    return case


def update_case(*, actor: Any, case_id: uuid.UUID, changes: Mapping[str, Any]) -> Case:
    """Change editable fields (``EDITABLE_FIELDS``); ``fitzpatrick_type`` and
    ``physician_notes`` may be set to ``None``. The audit records each changed field's value
    before and after (``details["changes"]``: field → ``{"before", "after"}``).

    Raises:
        ValidationFailed: no field given, an unknown field, or a field breaking its rule.
        NotFound: ``case_not_found``.
        Conflict: ``case_archived``.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(dict.fromkeys(unknown, "This field cannot be changed."))
    if not changes:
        raise ValidationFailed({"body": "Send at least one field to change."})
    cleaned = _clean_fields(changes)
    case = require_case(actor=actor, case_id=case_id, for_edit=True)
    changed = sorted(name for name, value in cleaned.items() if getattr(case, name) != value)
    changes = {name: {"before": getattr(case, name), "after": cleaned[name]} for name in changed}
    for name in changed:
        setattr(case, name, cleaned[name])
    changes.update(_answers_follow_fields(case, changed))
    if "patient_reference" in changed:
        changes.update(lesion_records.follow_reference(case))
    audit.record(
        actor, audit.CASE_UPDATE, case_id=case.id, details={"fields": changed, "changes": changes}
    )
    db.session.commit()
    return case


#: Case field → the anamnesis answer holding the same fact (the key the AI is sent).
_SHARED_FACTS = {"patient_age": "age", "patient_sex": "sex"}


def _answers_follow_fields(case: Case, changed: list[str]) -> dict[str, dict[str, Any]]:
    """After a case field changed, give an existing anamnesis answer for the same fact
    (``age``, ``sex``) the new value, so that the AI is sent what the case says; return the
    audit changes (``"anamnesis.<key>"`` → ``{"before", "after"}``). An answer not given yet
    is left to the questionnaire; an unknown age or sex does not overwrite an answer."""
    anamnesis = dict(case.anamnesis or {})
    changes: dict[str, dict[str, Any]] = {}
    for name in changed:
        key, value = _SHARED_FACTS.get(name), getattr(case, name)
        if key is None or key not in anamnesis or value is None or value == "unknown":
            continue
        if anamnesis[key] != value:
            changes[f"anamnesis.{key}"] = {"before": anamnesis[key], "after": value}
            anamnesis[key] = value
    if changes:
        case.anamnesis = anamnesis
    return changes


def _fields_follow_answers(case: Case, answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """After answers were merged, give the case the answered age (whole years, 0–120) and
    sex (``female``/``male``/``other``): one case, one age and one sex. Return the audit
    changes (field → ``{"before", "after"}``)."""
    values: dict[str, Any] = {}
    age = answers.get("age")
    whole_years = isinstance(age, int) and not isinstance(age, bool)
    if whole_years and MIN_PATIENT_AGE <= age <= MAX_PATIENT_AGE:
        values["patient_age"] = age
    sex = answers.get("sex")
    if sex in PATIENT_SEXES and sex != "unknown":
        values["patient_sex"] = sex
    changes: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if getattr(case, name) != value:
            changes[name] = {"before": getattr(case, name), "after": value}
            setattr(case, name, value)
    return changes


def etag(case: Case) -> str:
    """The case's entity tag (RFC 9110 §8.8.3, unquoted): changes whenever the case row or its
    anamnesis changes, so a client's ``If-Match`` can tell that it is still current."""
    stamp = case.updated_at.isoformat() if case.updated_at else ""
    seed = f"{case.id}|{stamp}|{anamnesis_rules.version(case.anamnesis)}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def archive_case(*, actor: Any, case_id: uuid.UUID) -> Case:
    """Archive the case (status ``archived``; nothing is deleted). Archiving twice is a no-op.
    A reviewed case is signed: like every other change, archiving it needs a reopen (with a
    reason) first. A case archived by mistake is unarchived with
    :func:`app.services.clinical_record.archive.unarchive_case`.

    Raises:
        NotFound: ``case_not_found``.
        Conflict: ``case_reviewed`` (signed: reopen it first).
    """
    case = require_case(actor=actor, case_id=case_id)
    if not policies.can_edit_case(actor, case):
        raise _not_found()
    if case.status == "archived":
        return case
    if case.status == "reviewed":
        raise Conflict(
            "This case is reviewed and signed; reopen it (with a reason) before archiving it.",
            code="case_reviewed",
        )
    previous = case.status
    transition(case, "archived")
    audit.record(actor, audit.CASE_ARCHIVE, case_id=case.id, details={"from": previous})
    db.session.commit()
    return case


def _checked_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    checked = anamnesis_rules.validate_anamnesis(dict(answers), field="answers")
    if not checked:
        raise ValidationFailed({"answers": "Send at least one answer."})
    return checked


def merged_anamnesis(case: Case, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The anamnesis ``case`` would have with ``answers`` merged (later answers win), checked
    as :func:`merge_answers` checks it; nothing is changed or written (the compute step of a
    merge, for a caller that writes it later with :func:`merge_answers`).

    Raises:
        ValidationFailed: as :func:`merge_answers`.
    """
    return anamnesis_rules.merge(case.anamnesis, _checked_answers(answers))


def merge_answers(
    *,
    actor: Any,
    case_id: uuid.UUID,
    answers: Mapping[str, Any],
    question_texts: Mapping[str, str] | None = None,
    commit: bool = True,
    precondition: Callable[[Case], None] | None = None,
) -> Case:
    """Merge ``{fieldName: answer}`` into the case's anamnesis (later answers win).

    ``question_texts`` (``{fieldName: text}``) records the question as it was shown for those
    answers (``Case.question_texts``); a field answered without one keeps its earlier text.

    The answers and the merged anamnesis are shape-checked as in the AI contract (see
    :mod:`app.services.anamnesis`). New answers join ``answer_order`` in the order given (a
    changed answer keeps its place). A ``draft`` case moves to ``questionnaire``. The audit
    records each answer's value before and after (``details["changes"]``:
    ``"anamnesis.<fieldName>"`` → ``{"before", "after"}``; ``before`` is null for a new answer).

    The case is read with ``SELECT ... FOR UPDATE`` (two merges at once both keep their
    answers; a case archived by another request is refused, never written). Without
    ``commit`` the change and its audit event are left in the session's transaction, with
    the row locked: the caller commits them with its own rows (``POST /api/diagnosis`` into an
    existing case: with the image's row, see :func:`merged_anamnesis`).

    ``precondition(case)``, when given, runs on the locked case before anything is changed and
    refuses the merge by raising (e.g. :class:`app.errors.AnsweredMeanwhile` for an answer from
    a stale page, :class:`app.errors.PreconditionFailed` for a stale ``If-Match``); the
    transaction is then rolled back, so the lock is released and nothing is written.

    Raises:
        ValidationFailed: no answers, or the shape rules are broken (``details``:
            ``"answers.<fieldName>"`` or ``"anamnesis"`` → message).
        NotFound: ``case_not_found``.
        Conflict: ``case_archived``.
    """
    checked = _checked_answers(answers)
    # Locked: two merges at once would both read the same anamnesis, and the later write would
    # drop the earlier one's answers (both answered 200).
    case = require_case(actor=actor, case_id=case_id, for_edit=True, lock=True)
    if precondition is not None:
        try:
            precondition(case)
        except Exception:
            db.session.rollback()
            raise
    before = dict(case.anamnesis or {})
    case.anamnesis = anamnesis_rules.merge(case.anamnesis, checked)
    case.answer_order = extend_order(case.answer_order, checked)
    shown = {key: text for key, text in (question_texts or {}).items() if key in checked and text}
    if shown:
        case.question_texts = {**(case.question_texts or {}), **shown}
    followed = _fields_follow_answers(case, checked)
    if case.status == "draft":
        transition(case, "questionnaire")
    changes = {
        f"anamnesis.{key}": {"before": before.get(key), "after": value}
        for key, value in checked.items()
        if before.get(key, _ABSENT) != value
    }
    changes.update(followed)
    audit.record(
        actor,
        audit.CASE_UPDATE,
        case_id=case.id,
        details={"fields": ["anamnesis"], "answers": sorted(checked), "changes": changes},
    )
    if commit:
        db.session.commit()
    return case


def mark_awaiting_image(*, actor: Any, case_id: uuid.UUID) -> Case:
    """Record that the questionnaire is finished: ``draft``/``questionnaire`` → ``awaiting_image``.

    A case already further along keeps its status.

    Raises:
        NotFound: ``case_not_found``.
        Conflict: ``case_archived``.
    """
    case = require_case(actor=actor, case_id=case_id, for_edit=True)
    if case.status in ("draft", "questionnaire"):
        previous = case.status
        transition(case, "awaiting_image")
        audit.record(
            actor,
            audit.CASE_UPDATE,
            case_id=case.id,
            details={"fields": ["status"], "from": previous, "to": "awaiting_image"},
        )
        db.session.commit()
    return case


def remove_answers(*, actor: Any, case_id: uuid.UUID, field_names: list[str]) -> Case:
    """Remove answers from the case's anamnesis (and their place in ``answer_order``).

    Answers that are not there change nothing (a repeated click is harmless). The audit records
    each removed answer's value (``details["changes"]``: ``{"before": value, "after": null}``).

    Raises:
        NotFound: ``case_not_found``.
        Conflict: ``case_archived``.
    """
    case = require_case(actor=actor, case_id=case_id, for_edit=True)
    current = dict(case.anamnesis or {})
    removed = [name for name in field_names if name in current]
    if removed:
        case.anamnesis = {key: value for key, value in current.items() if key not in removed}
        case.answer_order = [key for key in case.answer_order or [] if key not in removed]
        texts = case.question_texts or {}
        case.question_texts = {key: text for key, text in texts.items() if key not in removed}
        changes = {f"anamnesis.{key}": {"before": current[key], "after": None} for key in removed}
        audit.record(
            actor,
            audit.CASE_UPDATE,
            case_id=case.id,
            details={"fields": ["anamnesis"], "removed": removed, "changes": changes},
        )
        db.session.commit()
    return case


def remove_answer(*, actor: Any, case_id: uuid.UUID, field_name: str) -> Case:
    """Remove one answer (see :func:`remove_answers`)."""
    return remove_answers(actor=actor, case_id=case_id, field_names=[field_name])


_ABSENT = object()
