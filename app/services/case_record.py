"""What the portal shows: one case with everything known about it, and the list of cases.

A case page grows with the case; :attr:`CaseRecord.stage` says which step it is at:

==============  ===========================================================================
``question``    the AI Service asked a question (``record.question``)
``unavailable`` the AI Service could not be asked for the next question (``question_error``)
``photo``       the questionnaire is done: the lesion photo is next (also after a rejection)
``failed``      the last analysis failed (AI Service or storage); the photo and answers are kept
``results``     a completed analysis; the review follows (``case.reviewed_at`` once recorded)
``archived``    an archived case without results (read-only)
``consent``     before the analysis, ``CONSENT_POLICY=enforced`` and the patient's consent is
                missing for the next step (AI analysis, or image storage at the photo step):
                the consent form comes first (``record.consent.photo_block`` says why)
==============  ===========================================================================
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.errors import AIServiceError
from app.extensions import db
from app.models import Analysis, AnalysisStatus, Case, CaseImage, User
from app.services import cases, consent, questionnaire
from app.services.ai_client import NextQuestion
from app.services.clinical_record import history

#: Statuses in which the questionnaire or the photo is still to come.
_BEFORE_ANALYSIS = frozenset({"draft", "questionnaire", "awaiting_image"})


@dataclass(frozen=True)
class CaseRecord:
    """A case with its newest analysis, its next question and the names of the people in it."""

    case: Case
    analysis: Analysis | None = None
    question: NextQuestion | None = None
    question_error: AIServiceError | None = None
    people: dict[int, str] = field(default_factory=dict)
    #: What changed since the newest analysis (``[]``: it is up to date); see
    #: :func:`app.services.clinical_record.inputs.outdated_fields`.
    outdated_fields: list[str] = field(default_factory=list)
    #: Every analysis of the case, newest first.
    analyses: list[Analysis] = field(default_factory=list)
    #: The patient's consent per scope, and what the consent policy makes of it.
    consent: consent.ConsentState | None = None

    @property
    def stage(self) -> str:
        """The step the case is at (see the module docstring)."""
        status = self.case.status
        completed = self.analysis is not None and self.analysis.status == AnalysisStatus.COMPLETED
        asking = self.question is not None and not questionnaire.is_photo_step(self.question)
        if completed and status == "analyzed" and asking:
            return "question"  # a changed answer opened new questions: answer them, then re-run
        if completed and status in ("analyzed", "reviewed", "archived"):
            return "results"
        if status == "analysis_failed":
            return "failed"
        if status == "archived":
            return "archived"
        if self.question_error is not None:
            return "unavailable"
        at_photo = self.question is None or questionnaire.is_photo_step(self.question)
        if at_photo and self.consent is not None and self.consent.photo_block is not None:
            return "consent"
        if at_photo:
            return "photo"
        return "question"

    @property
    def newest_image(self) -> CaseImage | None:
        """The most recently uploaded photo, or ``None``."""
        return self.case.images[-1] if self.case.images else None

    @property
    def unanalysed_image(self) -> CaseImage | None:
        """The newest photo when no analysis of it exists (it was rejected, or never analysed)."""
        image = self.newest_image
        if image is None or (self.analysis is not None and self.analysis.image_id == image.id):
            return None
        return image

    def name(self, user_id: int | None) -> str:
        """The full name of a user of this case, or an empty string."""
        return self.people.get(user_id, "") if user_id is not None else ""


def user_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Return ``{user id: full name}`` for the given ids (unknown ids are left out)."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}  # noqa: C416 - rows are Row objects


def load_case_record(*, actor: Any, case_id: uuid.UUID, ask_ai: bool = True) -> CaseRecord:
    """Read a case (audited) with its analyses (newest first), what changed since the newest,
    and, before any analysis or after a changed answer, the AI Service's next question
    (``ask_ai=False`` skips that call, e.g. for the report).

    An AI Service failure does not fail the read: it is returned as ``question_error``.

    Raises:
        NotFound: ``case_not_found`` (also for a case the actor may not see).
    """
    case = cases.get_case(actor=actor, case_id=case_id)
    analyses = history.analyses_of(case.id)
    analysis = analyses[0] if analyses else None
    changed = history.changes_since(analysis, case)
    state = consent.state_of(case.id)
    question = error = None
    if (
        ask_ai
        and state.ai_block is None
        and (
            case.status in _BEFORE_ANALYSIS
            or (
                case.status == "analyzed" and any(name.startswith("anamnesis.") for name in changed)
            )
        )
    ):
        try:
            question = questionnaire.next_question(actor=actor, case_id=case_id)
        except AIServiceError as failure:
            error = failure
    people = user_names(
        [case.owner_id, case.reviewed_by_id, analysis.requested_by_id if analysis else None]
    )
    return CaseRecord(case, analysis, question, error, people, changed, analyses, state)


@dataclass(frozen=True)
class CaseListing:
    """One page of cases, with the owners' names (filled for admins, who see everyone's)."""

    page: cases.CasePage
    owners: dict[int, str]
    #: Ids of the listed cases whose newest analysis is outdated (the case changed since).
    outdated: frozenset[uuid.UUID] = frozenset()

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, -(-self.page.total // self.page.per_page))


def find_cases(
    *,
    actor: Any,
    status: str | None = None,
    urgency: str | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = cases.DEFAULT_PER_PAGE,
) -> CaseListing:
    """List cases as :func:`app.services.cases.list_cases` does, with owner names for admins.

    Raises:
        ValidationFailed: unknown ``status``/``urgency`` or a page out of range.
    """
    found = cases.list_cases(
        actor=actor, status=status, urgency=urgency, q=q, page=page, per_page=per_page
    )
    owners = {}
    if getattr(actor, "is_admin", False):
        owners = user_names(case.owner_id for case in found.items)
    return CaseListing(found, owners, outdated_cases(found.items))


def outdated_cases(items: Iterable[Case]) -> frozenset[uuid.UUID]:
    """The ids of ``items`` whose newest analysis is outdated (one query for the analyses)."""
    items = list(items)
    latest = history.latest_by_case(case.id for case in items)
    return frozenset(case.id for case in items if history.changes_since(latest.get(case.id), case))
