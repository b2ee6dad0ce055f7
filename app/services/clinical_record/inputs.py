"""What an analysis was computed from (its ``inputs``), and whether the case has moved on since.

An analysis is an immutable record: ``Analysis.inputs`` keeps the anamnesis exactly as sent to
the AI, in the order asked, the case fields at that moment and the analysed image's id and
SHA-256. :func:`outdated_fields` compares them with the case as it is now, so that a result is
never shown under answers it was not computed from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from app.services.clinical_record.answers import ordered_keys

#: Case fields kept with every analysis (the patient facts the physician reads beside it).
CASE_FIELDS: tuple[str, ...] = (
    "patient_age",
    "patient_sex",
    "body_site",
    "fitzpatrick_type",
    "chief_complaint",
)


def snapshot(
    *, anamnesis: Mapping[str, Any], case: Any, image: Any, reconstructed: bool = False
) -> dict[str, Any]:
    """The ``inputs`` of an analysis (JSON-ready).

    Shape: ``{"anamnesis": {fieldName: answer}, "answer_order": [fieldName, ...], "case":
    {field: value for CASE_FIELDS}, "image": {"id": str, "sha256": hex} | null,
    "reconstructed": bool}``.
    """
    answers = dict(anamnesis)
    return {
        "anamnesis": answers,
        "answer_order": ordered_keys(answers, getattr(case, "answer_order", None)),
        "case": {name: getattr(case, name) for name in CASE_FIELDS},
        "image": ({"id": str(image.id), "sha256": image.sha256} if image is not None else None),
        "reconstructed": reconstructed,
    }


def newest_image_after(images: Iterable[tuple[Any, datetime]], when: datetime) -> Any:
    """The id of the newest of ``images`` (``(id, uploaded at)``) uploaded after ``when`` (an
    analysis's time), or ``None``: a photo the analysis could not have used."""
    later = [(uploaded, image_id) for image_id, uploaded in images if uploaded > when]
    return max(later, key=lambda item: item[0])[1] if later else None


def outdated_fields(
    inputs: Mapping[str, Any] | None, case: Any, newer_image_id: Any = None
) -> list[str]:
    """What changed on ``case`` since the analysis with these ``inputs``; ``[]`` when nothing.

    Names: ``anamnesis.<fieldName>`` for an answer added, changed or removed; a case field name
    (``CASE_FIELDS``) for a changed fact; ``image`` when a photo was uploaded after the analysis
    (``newer_image_id``: see :func:`newest_image_after`). An analysis is compared with what it
    was computed from: one of an earlier photo, chosen explicitly, is not outdated because a
    newer photo already existed when it ran (nor an analysis that finished after a concurrent
    upload). Analyses without inputs (none kept) are never called outdated.
    """
    if not inputs:
        return []
    changed: list[str] = []
    then = dict(inputs.get("anamnesis") or {})
    now = dict(case.anamnesis or {})
    for key in ordered_keys({**then, **now}, getattr(case, "answer_order", None)):
        if then.get(key, _MISSING) != now.get(key, _MISSING):
            changed.append(f"anamnesis.{key}")
    facts = inputs.get("case") or {}
    changed += [
        name for name in CASE_FIELDS if name in facts and facts[name] != getattr(case, name)
    ]
    image = inputs.get("image") or {}
    if newer_image_id is not None and image.get("id") not in (None, str(newer_image_id)):
        changed.append("image")
    return changed


_MISSING = object()
