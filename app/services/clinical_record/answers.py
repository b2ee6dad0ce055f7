"""The answers of a case in the order they were asked, and the replay of the questionnaire.

PostgreSQL's JSONB keeps no key order, so the order of asking is stored beside the anamnesis
(``Case.answer_order``, a list of field names). Every list of answers (case page, report, API)
comes from :func:`ordered_answers`, so one count and one order hold everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

#: For answers recorded before the order was stored: these first, then by name, the photo last.
_LEGACY_FIRST = ("age", "sex", "location1.primary", "duration")
_LEGACY_LAST = ("photo_taken",)


def legacy_order(keys: Iterable[str]) -> list[str]:
    """An order for answers whose order of asking is unknown (rows older than the order)."""
    keys = list(keys)
    first = [key for key in _LEGACY_FIRST if key in keys]
    last = [key for key in _LEGACY_LAST if key in keys]
    rest = sorted((key for key in keys if key not in first and key not in last), key=str.lower)
    return first + rest + last


def extend_order(order: Sequence[str] | None, keys: Iterable[str]) -> list[str]:
    """``order`` with the new ``keys`` appended in their given order (known keys keep their
    place: a changed answer stays where it was asked)."""
    result = list(order or [])
    for key in keys:
        if key not in result:
            result.append(key)
    return result


def ordered_keys(anamnesis: Mapping[str, Any] | None, order: Sequence[str] | None) -> list[str]:
    """The keys of ``anamnesis`` in the order asked; keys missing from ``order`` follow in
    :func:`legacy_order`."""
    answers = dict(anamnesis or {})
    known = [key for key in (order or []) if key in answers]
    return known + legacy_order(key for key in answers if key not in known)


def ordered_answers(
    anamnesis: Mapping[str, Any] | None, order: Sequence[str] | None
) -> list[tuple[str, Any]]:
    """The answers as ``(fieldName, answer)`` pairs in the order asked (:func:`ordered_keys`)."""
    answers = dict(anamnesis or {})
    return [(key, answers[key]) for key in ordered_keys(answers, order)]


def replay(
    anamnesis: Mapping[str, Any],
    ask: Callable[[dict[str, Any]], tuple[str | None, bool]],
    *,
    limit: int = 250,
) -> dict[str, Any]:
    """Replay the questionnaire with the answers given; return the answers it still asks for.

    ``ask(answers_so_far)`` returns ``(fieldName of the next question, is_photo_step)``; a
    ``None`` field name means the questionnaire is complete. Starting from no answers, each
    question whose field has an answer takes that answer; the replay stops at the end, or at
    the first question without an answer (the new path's next question). Answers the replay
    did not reach are the ones the new path no longer asks (or asks only later: the
    questionnaire asks them again). The camera answer is kept when the replay reaches it.

    Raises:
        AIServiceError: from ``ask`` (nothing is dropped then).
    """
    kept: dict[str, Any] = {}
    for _ in range(limit):
        field, photo_step = ask(dict(kept))
        if field is None or field in kept or field not in anamnesis:
            break
        kept[field] = anamnesis[field]
        if photo_step:
            break
    return kept
