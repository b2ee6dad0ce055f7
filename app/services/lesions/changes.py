"""What changed between two visits, in structure and in words. Pure functions, no I/O.

- :func:`answer_changes`: the anamnesis answers that differ ("Diameter 6 → 9 mm");
- :func:`analysis_delta`: tier, headline action, top diagnosis, probabilities and red flags of
  two analyses (an ``Analysis`` or a ``Reanalysis``: anything with ``id``, ``model_version``,
  ``predictions``, ``tier``, ``red_flags``, ``triage``, ``refer_to_specialist``,
  ``analysed_despite_low_quality`` and ``status``).

Labels come from :mod:`app.services.clinical_record.words`, the headline from
:mod:`app.services.clinical_record.headline`, so the comparison speaks as the case page does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from app.services.clinical_record.headline import headline_of
from app.services.clinical_record.words import answer_text, field_label, percent
from app.services.lesions.shapes import (
    AnswerChange,
    Change,
    Delta,
    Diagnosis,
    FlagChange,
    ProbabilityChange,
)
from app.services.lesions.timeline import top_diagnosis

#: Answers not compared: the photo step records only that a photo was taken; the age grows
#: with the time between the visits (``Comparison.days_between`` says how long).
IGNORED_FIELDS = frozenset({"photo_taken", "age"})
#: How many top diagnoses of each analysis are compared.
TOP_N = 3
#: Smallest probability change (fraction) worth a sentence of its own.
NOTABLE_DELTA = 0.05

#: The tier in a few words (the long words are ``words.TIER_WORDS``).
TIER_NAMES = {"confident": "Confident", "possible": "Possible", "refer": "Uncertain (refer)"}

_UNIT = re.compile(r"^(?P<label>.*) \((?P<unit>[^)]+)\)$")
_ABSENT = "not answered"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _answer_sentence(label: str, before: Any, after: Any, present: tuple[bool, bool]) -> str:
    """ "Diameter 6 → 9 mm" for numbers with a unit in the label, "Colours: Brown → Brown,
    black (added: black)" for ticked lists, "Label: before → after" otherwise."""
    unit = _UNIT.match(label)
    if unit and _number(before) and _number(after):
        return f"{unit['label']} {answer_text(before)} → {answer_text(after)} {unit['unit']}"
    before_text = answer_text(before) if present[0] else _ABSENT
    after_text = answer_text(after) if present[1] else _ABSENT
    sentence = f"{label}: {before_text} → {after_text}"
    if isinstance(before, list) and isinstance(after, list):
        added = [str(item) for item in after if item not in before]
        gone = [str(item) for item in before if item not in after]
        notes = ([f"added: {', '.join(added)}"] if added else []) + (
            [f"no longer: {', '.join(gone)}"] if gone else []
        )
        sentence += f" ({'; '.join(notes)})" if notes else ""
    return sentence


def answer_changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    order: Sequence[str] = (),
    questions: Mapping[str, str] | None = None,
) -> list[AnswerChange]:
    """The answers that differ between two anamneses (``{fieldName: answer}``), in ``order``
    (the later visit's ``answer_order``, then the rest by name); an answer given at one visit
    only counts as changed. ``questions`` maps a field to the question text shown."""
    before, after = dict(before or {}), dict(after or {})
    keys = list(dict.fromkeys(key for key in order if key in before or key in after))
    keys += sorted((set(before) | set(after)) - set(keys))
    out = []
    for key in keys:
        if key in IGNORED_FIELDS or before.get(key, _ABSENT) == after.get(key, _ABSENT):
            continue
        present = (key in before, key in after)
        label = field_label(key)
        old, new = before.get(key), after.get(key)
        out.append(
            AnswerChange(
                field=key,
                label=label,
                question=(questions or {}).get(key),
                before=old,
                after=new,
                before_text=answer_text(old) if present[0] else _ABSENT,
                after_text=answer_text(new) if present[1] else _ABSENT,
                sentence=_answer_sentence(label, old, new, present),
            )
        )
    return out


def _probabilities(analysis: Any) -> dict[str, tuple[float | None, str | None]]:
    return {
        str(item.get("disease")): (item.get("probability"), item.get("icd10"))
        for item in analysis.predictions or []
    }


def probability_changes(earlier: Any, later: Any) -> list[ProbabilityChange]:
    """The probabilities of the top ``TOP_N`` diagnoses of either analysis at both, the
    biggest change first (a diagnosis absent from one differential has ``None`` there)."""
    old, new = _probabilities(earlier), _probabilities(later)
    names: list[str] = []
    for analysis in (later, earlier):
        for item in (analysis.predictions or [])[:TOP_N]:
            if str(item.get("disease")) not in names:
                names.append(str(item.get("disease")))
    out = []
    for name in names:
        before, after = old.get(name, (None, None)), new.get(name, (None, None))
        delta = after[0] - before[0] if before[0] is not None and after[0] is not None else None
        out.append(ProbabilityChange(name, after[1] or before[1], before[0], after[0], delta))
    return sorted(out, key=lambda item: -abs(item.delta or 0))


def _flags(analysis: Any) -> dict[str, dict[str, Any]]:
    flags = (analysis.red_flags or {}).get("flags") or []
    return {str(flag.get("type")): flag for flag in flags if isinstance(flag, dict)}


def _flag(flag: Mapping[str, Any]) -> FlagChange:
    return FlagChange(
        type=str(flag.get("type")),
        severity=flag.get("severity"),
        description=str(flag.get("description", "")),
        rule=flag.get("rule"),
    )


def _change(before: Any, after: Any) -> Change:
    return Change(before=before, after=after, changed=before != after)


def _top_change(before: Diagnosis | None, after: Diagnosis | None) -> Change:
    """The top diagnosis before and after; ``changed`` when it is another disease."""
    names = (before.disease if before else None, after.disease if after else None)
    return Change(before=before, after=after, changed=names[0] != names[1])


def _diagnosis_words(diagnosis: Diagnosis | None) -> str:
    if diagnosis is None:
        return "none"
    return f"{diagnosis.disease} ({percent(diagnosis.probability)})"


def delta_sentences(delta: Delta) -> list[str]:
    """The change between two analyses in words, most important first: the headline action,
    the top diagnosis, the tier, notable probability changes, then red flags."""
    out = []
    if delta.action.changed:
        out.append(f"Headline action: {delta.action.before} → {delta.action.after}.")
    else:
        out.append(f"Headline action unchanged: {delta.action.after}.")
    top = delta.top_diagnosis
    if top.before and top.after and top.before.disease == top.after.disease:
        out.append(
            f"Top diagnosis unchanged: {top.after.disease}, "
            f"{percent(top.before.probability)} → {percent(top.after.probability)}."
        )
    else:
        out.append(
            f"Top diagnosis: {_diagnosis_words(top.before)} → {_diagnosis_words(top.after)}."
        )
    if delta.tier.changed:
        out.append(
            f"AI tier: {TIER_NAMES.get(delta.tier.before, delta.tier.before)} → "
            f"{TIER_NAMES.get(delta.tier.after, delta.tier.after)}."
        )
    for item in delta.probabilities:
        if item.delta is not None and abs(item.delta) >= NOTABLE_DELTA:
            sign = "+" if item.delta > 0 else "−"
            out.append(
                f"{item.disease} {percent(item.before)} → {percent(item.after)} "
                f"({sign}{abs(item.delta) * 100:.0f} points)."
            )
    out += [f"New red flag: {flag.description}" for flag in delta.red_flags_appeared]
    out += [f"Red flag gone: {flag.description}" for flag in delta.red_flags_gone]
    return out


def analysis_delta(earlier: Any, later: Any) -> Delta:
    """The change from ``earlier`` to ``later`` (two completed analyses)."""
    head_before, head_after = headline_of(earlier), headline_of(later)
    old_flags, new_flags = _flags(earlier), _flags(later)
    delta = Delta(
        from_analysis_id=earlier.id,
        to_analysis_id=later.id,
        from_model_version=earlier.model_version,
        to_model_version=later.model_version,
        tier=_change(earlier.tier, later.tier),
        urgency=_change(
            head_before.urgency if head_before else None,
            head_after.urgency if head_after else None,
        ),
        action=_change(
            head_before.action_text if head_before else None,
            head_after.action_text if head_after else None,
        ),
        top_diagnosis=_top_change(
            top_diagnosis(earlier.predictions), top_diagnosis(later.predictions)
        ),
        probabilities=probability_changes(earlier, later),
        red_flags_appeared=[_flag(new_flags[key]) for key in new_flags if key not in old_flags],
        red_flags_gone=[_flag(old_flags[key]) for key in old_flags if key not in new_flags],
        sentences=[],
    )
    return Delta(**{**delta.__dict__, "sentences": delta_sentences(delta)})


def _probability_of(analysis: Any, disease: str) -> float | None:
    return _probabilities(analysis).get(disease, (None, None))[0]


def same_model_sentences(original: Any, rerun: Any, later: Any) -> list[str]:
    """The change told apart from the model change, in words, about the later visit's top
    diagnosis: its probability from the earlier photo re-analysed (``rerun``) to the later
    visit ("With the same model (v), Melanoma 18 % → 41 %."), the top diagnosis when it
    differs, and how much of the first change was the model's ("The model change alone: …" —
    the earlier visit as analysed then, ``original``, against its re-analysis)."""
    top = top_diagnosis(later.predictions)
    if top is None:
        return []
    model = later.model_version
    before = _probability_of(rerun, top.disease)
    out = [
        f"With the same model ({model}), {top.disease} {percent(before)} → "
        f"{percent(top.probability)}."
    ]
    rerun_top = top_diagnosis(rerun.predictions)
    if rerun_top is not None and rerun_top.disease != top.disease:
        out.append(
            f"With the same model ({model}), top diagnosis: {_diagnosis_words(rerun_top)} → "
            f"{_diagnosis_words(top)}."
        )
    then = _probability_of(original, top.disease)
    out.append(
        f"The model change alone ({original.model_version} → {model}, the earlier photo and "
        f"answers analysed again): {top.disease} {percent(then)} → {percent(before)}."
    )
    return out
