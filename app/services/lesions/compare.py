"""Two visits of one lesion compared: the answers, the AI's result, and (when the models
differ) the earlier photo re-analysed by the later visit's model."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app.errors import ValidationFailed
from app.extensions import db
from app.models import Case, Lesion, Reanalysis
from app.services import audit
from app.services.lesions import access, changes, timeline
from app.services.lesions.shapes import Comparison, TimelineEntry

NOT_A_VISIT = "This case is not a visit of this lesion."
BACKWARDS = (
    "The first visit chosen is later than the second: choose the earlier visit first (swap them)."
)


def visit_pair(lesion: Lesion, from_case_id: Any, to_case_id: Any) -> tuple[Case, Case]:
    """The two cases, checked to be different visits of ``lesion`` (archived ones excluded),
    ``from`` the earlier (in the timeline's order: created_at, then id).

    Raises:
        ValidationFailed: ``from`` and ``to`` are the same case, or one is not a visit of
            this lesion (also a case the actor may not see: existence never leaks), or
            ``from`` is the later visit (``details["from"]``: swap them; a backward comparison
            told a red flag that appeared as gone, and a backward re-analysis sent the later
            photo to the AI).
    """
    if from_case_id == to_case_id:
        raise ValidationFailed({"to": "Choose two different visits to compare."})
    problems, found = {}, []
    for name, case_id in (("from", from_case_id), ("to", to_case_id)):
        case = db.session.get(Case, case_id) if isinstance(case_id, uuid.UUID) else None
        if case is None or case.lesion_id != lesion.id or case.status == "archived":
            problems[name] = NOT_A_VISIT
        found.append(case)
    if problems:
        raise ValidationFailed(problems)
    if (found[0].created_at, found[0].id) > (found[1].created_at, found[1].id):
        raise ValidationFailed({"from": BACKWARDS})
    return found[0], found[1]


#: A visit in these is still at its questionnaire: its missing answers are not asked yet.
UNFINISHED_STATUSES = ("draft", "questionnaire")


def same_model_reanalysis(case_id: uuid.UUID, model_version: str | None) -> Reanalysis | None:
    """The newest re-analysis of the visit by ``model_version``, or ``None``."""
    if model_version is None:
        return None
    return db.session.scalars(
        select(Reanalysis)
        .where(Reanalysis.case_id == case_id, Reanalysis.model_version == model_version)
        .order_by(Reanalysis.created_at.desc(), Reanalysis.id.desc())
        .limit(1)
    ).first()


def _entries(lesion: Lesion, wanted: tuple[Case, Case]) -> tuple[TimelineEntry, TimelineEntry]:
    entries = {item.case_id: item for item in timeline.timeline(access.visits_of(lesion.id))}
    first, second = entries[wanted[0].id], entries[wanted[1].id]
    return first, second


def comparison(lesion: Lesion, earlier: Case, later: Case) -> Comparison:
    """The comparison of two visits (no audit, no commit); see :class:`Comparison`."""
    from_entry, to_entry = _entries(lesion, (earlier, later))
    analyses = timeline.latest_completed([earlier.id, later.id])
    a_from, a_to = analyses.get(earlier.id), analyses.get(later.id)
    answers = changes.answer_changes(
        earlier.anamnesis,
        later.anamnesis,
        order=list(later.answer_order or []) + list(earlier.answer_order or []),
        questions={**(earlier.question_texts or {}), **(later.question_texts or {})},
    )
    unfinished = later.status in UNFINISHED_STATUSES
    if unfinished:  # what it has not been asked yet did not change
        answers = [item for item in answers if item.field in (later.anamnesis or {})]
    delta = changes.analysis_delta(a_from, a_to) if a_from and a_to else None
    same_model = bool(a_from and a_to and a_from.model_version == a_to.model_version)
    rerun = (
        None
        if same_model or a_to is None
        else same_model_reanalysis(earlier.id, a_to.model_version)
    )
    same_delta = changes.analysis_delta(rerun, a_to) if rerun is not None and a_to else None
    sentences = [item.sentence + "." for item in answers]
    if unfinished:
        sentences.append(
            f"Visit {to_entry.visit_number}: the questionnaire is not finished; the answers it "
            "has not had yet are left out."
        )
    sentences += delta.sentences if delta else [_missing(from_entry, to_entry)]
    if delta and not same_model:
        sentences.append(
            f"The two visits were analysed by different models ({delta.from_model_version} → "
            f"{delta.to_model_version}): part of the change may be the model's."
        )
    if same_delta is not None:
        sentences += changes.same_model_sentences(a_from, rerun, a_to)
    return Comparison(
        lesion_id=lesion.id,
        from_visit=from_entry,
        to_visit=to_entry,
        days_between=(later.created_at - earlier.created_at).days,
        answers_changed=answers,
        delta=delta,
        same_model=same_model,
        same_model_delta=same_delta,
        reanalysis_possible=bool(
            a_from and a_to and not same_model and rerun is None and a_from.image_id is not None
        ),
        reanalysis_id=rerun.id if rerun is not None else None,
        sentences=sentences,
    )


def _missing(from_entry: TimelineEntry, to_entry: TimelineEntry) -> str:
    missing = [
        f"visit {entry.visit_number}"
        for entry in (from_entry, to_entry)
        if entry.analysis_id is None
    ]
    return f"No AI comparison: {' and '.join(missing)} not analysed yet."


def compare_visits(
    *, actor: Any, lesion_id: uuid.UUID, from_case_id: Any, to_case_id: Any
) -> Comparison:
    """Compare two visits of a lesion (``from`` → ``to``, earlier → later): the
    answers that changed, the AI's change (tier, headline, top diagnosis, probabilities, red
    flags), and the same-model change when the earlier photo was re-analysed by the later
    visit's model. The read is audited (``lesion.compare``, with both case ids).

    Raises:
        NotFound: ``lesion_not_found``.
        ValidationFailed: see :func:`visit_pair`.
    """
    lesion = access.require_lesion(actor=actor, lesion_id=lesion_id)
    earlier, later = visit_pair(lesion, from_case_id, to_case_id)
    result = comparison(lesion, earlier, later)
    audit.record(
        actor,
        access.LESION_COMPARE,
        details={"lesion_id": str(lesion.id), "from": str(earlier.id), "to": str(later.id)},
    )
    db.session.commit()
    return result
