"""What the lesion services return: frozen dataclasses (``dataclasses.asdict`` gives the JSON
the API serialises; templates read the attributes). Probabilities are fractions 0–1; times
are timezone-aware UTC."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PatientSummary:
    """A patient with counts of its lesions and visits and the time of its latest visit."""

    id: uuid.UUID
    reference: str
    birth_year: int | None
    lesion_count: int
    visit_count: int
    last_visit_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class PatientPage:
    """One page of the patient list (``items`` newest first)."""

    items: list[PatientSummary]
    total: int
    page: int
    per_page: int


@dataclass(frozen=True)
class LesionSummary:
    """A lesion with its body site in words and the span and count of its visits;
    ``latest_urgency`` is the headline urgency of its newest analysed visit (``None`` before
    any analysis; a new visit not analysed yet does not hide the last result)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    label: str
    body_site: str
    body_site_label: str
    map_x: float | None
    map_y: float | None
    map_view: str | None
    status: str
    visit_count: int
    first_visit_at: datetime | None
    last_visit_at: datetime | None
    latest_urgency: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Diagnosis:
    """A diagnosis: the AI's (with its probability) or the physician's (probability None)."""

    disease: str
    probability: float | None
    icd10: str | None


@dataclass(frozen=True)
class TimelineEntry:
    """One visit of a lesion: its photo, the headline action
    (:mod:`app.services.clinical_record.headline`), the AI's top diagnosis and the physician's
    final diagnosis. ``image_id`` is the photo the analysis was computed from, else the
    newest photo (``GET
    /api/cases/<case_id>/images/<image_id>``); the analysis fields are the newest completed
    analysis's (all ``None`` before one)."""

    visit_number: int
    case_id: uuid.UUID
    date: datetime
    status: str
    patient_age: int | None
    image_id: uuid.UUID | None
    image_width: int | None
    image_height: int | None
    analysis_id: uuid.UUID | None
    analysed_at: datetime | None
    model_version: str | None
    tier: str | None
    urgency: str | None
    action: str | None
    action_text: str | None
    top_diagnosis: Diagnosis | None
    final_diagnosis: Diagnosis | None
    reviewed_at: datetime | None


@dataclass(frozen=True)
class LesionRecord:
    """A lesion, its patient and every visit, oldest first."""

    lesion: LesionSummary
    patient: PatientSummary
    visits: list[TimelineEntry]


@dataclass(frozen=True)
class Change:
    """A value before and after (``changed``: whether they differ)."""

    before: Any
    after: Any
    changed: bool


@dataclass(frozen=True)
class ProbabilityChange:
    """One diagnosis's probability at both analyses; ``delta`` = after − before (fractions)."""

    disease: str
    icd10: str | None
    before: float | None
    after: float | None
    delta: float | None


@dataclass(frozen=True)
class AnswerChange:
    """One anamnesis answer that differs between two visits, in words: ``label`` from
    :func:`app.services.clinical_record.words.field_label`, ``question`` the question text as
    shown (the later visit's, else the earlier's; ``None`` when none was kept), ``sentence``
    such as "Diameter 6 → 9 mm" or "Bleeding: No → Yes"; ``before``/``after`` are ``None`` for
    an answer given at one visit only."""

    field: str
    label: str
    question: str | None
    before: Any
    after: Any
    before_text: str
    after_text: str
    sentence: str


@dataclass(frozen=True)
class FlagChange:
    """A red flag that appeared or went away between two analyses."""

    type: str
    severity: str | None
    description: str
    rule: str | None


@dataclass(frozen=True)
class Delta:
    """The change between two analyses (``from`` → ``to``) in structure and in words."""

    from_analysis_id: uuid.UUID
    to_analysis_id: uuid.UUID
    from_model_version: str | None
    to_model_version: str | None
    tier: Change
    urgency: Change
    action: Change
    top_diagnosis: Change
    probabilities: list[ProbabilityChange]
    red_flags_appeared: list[FlagChange]
    red_flags_gone: list[FlagChange]
    sentences: list[str]


@dataclass(frozen=True)
class Comparison:
    """Two visits of one lesion compared.

    ``delta`` compares the two visits' own analyses (``None`` when either has none);
    ``same_model_delta`` compares the earlier visit re-analysed by the later visit's model with
    the later visit (``None`` unless such a re-analysis exists); ``reanalysis_possible`` says
    that the two models differ, the earlier visit has a photo and no such re-analysis exists
    yet. ``sentences`` is everything in words: the answers, the AI's change, then the
    same-model change.
    """

    lesion_id: uuid.UUID
    from_visit: TimelineEntry
    to_visit: TimelineEntry
    days_between: int
    answers_changed: list[AnswerChange]
    delta: Delta | None
    same_model: bool
    same_model_delta: Delta | None
    reanalysis_possible: bool
    reanalysis_id: uuid.UUID | None = None
    sentences: list[str] = field(default_factory=list)
