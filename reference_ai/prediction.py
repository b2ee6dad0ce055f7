"""Transparent differential diagnosis: a hand-written linear score per condition, then softmax.

For each condition ``c`` of :data:`CONDITIONS` the score (a logit) is

    s_c = prior_c + Σ_f weight_{c,f} · x_f

where the features ``x_f`` are in 0–1: facts from the anamnesis (``pigmented``, ``older``,
``abcde`` …, see :func:`answer_features`) and colour cues of the photo (``img_*``, see
:mod:`reference_ai.colour`). Probabilities are a softmax over the conditions *plus* an "other"
outcome with a fixed logit (:data:`OTHER_LOGIT`), so they sum to less than 1: the remainder is
the mass the reference model gives to conditions outside its list. Every weight is in
:data:`WEIGHTS`; nothing is learnt or random, so the same request always gives the same answer.

This is NOT a diagnostic model. It exists so that the gateway and portal show plausible,
explainable output end to end without the production model.

Tier (copied from the production service, see the contract): ``confident`` if the top
probability ≥ 0.815, ``possible`` if ≥ 0.444, else ``refer``. ``highlight_count``: 1 when
confident; in ``possible`` the number of diagnoses above 0.25, at most 3; 0 when ``refer``
(nothing is trustworthy enough to highlight).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reference_ai import anamnesis as A
from reference_ai.anamnesis import Findings
from reference_ai.colour import ColourStats
from reference_ai.errors import InputError
from reference_ai.red_flags import abcde_features, glasgow_score

MODEL_VERSION = "reference-1.0"
#: The reference models, oldest first. ``reference-0.9`` scored the answers only (the photo's
#: colour cues were added in 1.0); it is kept so that a model change can be shown end to end
#: (``REFERENCE_AI_MODEL=reference-0.9``): the same visit then gives another, deterministic
#: differential, and the gateway can tell a change of model from a change of the lesion.
MODEL_VERSIONS: tuple[str, ...] = ("reference-0.9", MODEL_VERSION)

#: Tier thresholds of the production service (contract).
CONFIDENT_THRESHOLD = 0.815
POSSIBLE_THRESHOLD = 0.444
#: In the "possible" tier, highlight diagnoses above this probability, at most 3.
HIGHLIGHT_THRESHOLD = 0.25
MAX_HIGHLIGHTS = 3
#: Logit of "some condition not in the list": keeps the listed probabilities' sum below 1.
OTHER_LOGIT = 0.5


@dataclass(frozen=True)
class Condition:
    """A condition of the differential: display name, ICD-10-CM code, malignant or not."""

    key: str
    name: str
    icd10: str
    malignant: bool = False


CONDITIONS: tuple[Condition, ...] = (
    Condition("melanoma", "Melanoma", "C43.9", malignant=True),
    Condition("nevus", "Melanocytic nevus", "D22.9"),
    Condition("bcc", "Basal cell carcinoma", "C44.91", malignant=True),
    Condition("scc", "Squamous cell carcinoma", "C44.92", malignant=True),
    Condition("ak", "Actinic keratosis", "L57.0"),
    Condition("sk", "Seborrheic keratosis", "L82.1"),
    Condition("df", "Dermatofibroma", "D23.9"),
    Condition("vascular", "Vascular lesion", "D18.00"),
    Condition("eczema", "Eczema", "L30.9"),
    Condition("psoriasis", "Psoriasis", "L40.9"),
    Condition("acne", "Acne", "L70.0"),
    Condition("rosacea", "Rosacea", "L71.9"),
    Condition("contact_dermatitis", "Contact dermatitis", "L25.9"),
    Condition("tinea", "Tinea", "B35.9"),
    Condition("urticaria", "Urticaria", "L50.9"),
)

#: Prior logits: rough relative frequency among lesions photographed in primary care.
PRIORS: dict[str, float] = {
    "melanoma": -0.3,
    "nevus": 0.6,
    "bcc": 0.1,
    "scc": -0.4,
    "ak": 0.1,
    "sk": 0.4,
    "df": -0.2,
    "vascular": -0.2,
    "eczema": 0.5,
    "psoriasis": 0.1,
    "acne": 0.3,
    "rosacea": -0.1,
    "contact_dermatitis": 0.0,
    "tinea": -0.1,
    "urticaria": -0.1,
}

_ERUPTIONS = ("red_rash", "pustules", "wheals", "purpuric")
_GROWTHS = ("pigmented", "bump", "scaly_patch")


def _each(names: Sequence[str], weight: float) -> dict[str, float]:
    return dict.fromkeys(names, weight)


#: Feature weights per condition (logit units). Features are listed in :func:`answer_features`
#: and :meth:`ColourStats.as_features`.
WEIGHTS: dict[str, dict[str, float]] = {
    "melanoma": {
        **_each(_ERUPTIONS, -2.0),
        "pigmented": 1.0,
        "scaly_patch": -1.0,
        "abcde": 3.0,
        "glasgow": 1.5,
        "evolving": 0.8,
        "col_black": 0.6,
        "col_blue_grey": 0.8,
        "older": 0.5,
        "young": -0.5,
        "family_history": 0.8,
        "bleeding": 0.5,
        "ulcerated": 0.4,
        "img_dark": 1.2,
        "img_blue_grey": 1.2,
        "img_variegation": 1.0,
        "img_darkness": 0.5,
        "img_lesion_share": 0.5,
        "img_red": -0.6,
    },
    "nevus": {
        **_each(_ERUPTIONS, -2.0),
        "pigmented": 1.5,
        "young": 0.8,
        "small": 0.8,
        "col_brown": 0.6,
        "chronic": 0.6,
        "evolving": -0.6,
        "abcde": -1.0,
        "glasgow": -0.5,
        "older": -0.5,
        "img_darkness": 1.0,
        "img_dark": 0.4,
        "img_variegation": -0.2,
    },
    "bcc": {
        **_each(_ERUPTIONS, -2.0),
        "bump": 1.2,
        "pigmented": -0.5,
        "sun_site": 1.0,
        "face": 0.5,
        "older": 1.0,
        "young": -1.0,
        "col_skin": 0.3,
        "col_red": 0.3,
        "ulcerated": 1.0,
        "bleeding": 0.7,
        "chronic": 0.5,
        "img_red": 0.8,
        "img_darkness": 0.2,
    },
    "scc": {
        **_each(_ERUPTIONS, -2.0),
        "bump": 0.6,
        "scaly_patch": 0.8,
        "pigmented": -0.8,
        "sun_site": 0.8,
        "older": 1.0,
        "young": -1.0,
        "rapid": 1.2,
        "crusting": 0.6,
        "ulcerated": 0.6,
        "bleeding": 0.5,
        "pain": 0.4,
        "immunosuppressed": 1.2,
        "img_red": 0.3,
    },
    "ak": {
        **_each(_ERUPTIONS, -1.5),
        "scaly_patch": 1.5,
        "pigmented": -1.0,
        "sun_site": 1.2,
        "older": 1.0,
        "young": -1.0,
        "col_red": 0.3,
        "crusting": 0.3,
        "flat": 0.3,
        "img_red": 0.2,
        "img_darkness": -0.5,
    },
    "sk": {
        **_each(_ERUPTIONS, -2.0),
        "pigmented": 0.6,
        "bump": 0.4,
        "older": 1.2,
        "young": -1.0,
        "trunk": 0.4,
        "col_brown": 0.4,
        "elevated": 0.5,
        "chronic": 0.4,
        "crusting": 0.2,
        "img_variegation": 0.6,
        "img_darkness": 0.4,
        "img_blue_grey": 0.4,
    },
    "df": {
        **_each(_ERUPTIONS, -2.0),
        "bump": 1.0,
        "firm": 1.2,
        "legs": 0.8,
        "small": 0.5,
        "col_brown": 0.3,
        "chronic": 0.4,
        "female": 0.3,
        "older": -0.3,
        "img_red": 0.5,
        "img_darkness": 0.3,
    },
    "vascular": {
        **_each(("red_rash", "pustules", "wheals"), -1.5),
        "purpuric": 0.6,
        "bump": 0.5,
        "col_red": 0.6,
        "bleeding": 0.5,
        "img_purple": 2.5,
        "img_red": 0.4,
    },
    "eczema": {
        "pigmented": -2.5,
        "bump": -2.0,
        "scaly_patch": -0.5,
        "red_rash": 1.2,
        "itch": 1.5,
        "flexural": 1.2,
        "scaly": 0.8,
        "blisters": 0.5,
        "young": 0.5,
        "chronic": 0.3,
        "multiple": 0.4,
        "img_red": 0.3,
        "img_darkness": -1.0,
    },
    "psoriasis": {
        "pigmented": -2.5,
        "bump": -2.0,
        "red_rash": 0.6,
        "scaly_patch": 0.4,
        "silvery": 2.0,
        "extensor": 1.2,
        "scaly": 0.5,
        "chronic": 0.5,
        "multiple": 0.4,
        "itch": 0.2,
        "img_red": 0.3,
        "img_darkness": -1.0,
    },
    "acne": {
        "pigmented": -2.0,
        "bump": -0.5,
        "scaly_patch": -1.0,
        "red_rash": -0.5,
        "wheals": -1.5,
        "pustules": 2.0,
        "comedones": 2.0,
        "face": 0.6,
        "trunk": 0.3,
        "young": 1.2,
        "older": -1.0,
        "img_darkness": -1.0,
    },
    "rosacea": {
        "pigmented": -2.0,
        "bump": -1.0,
        "wheals": -1.5,
        "pustules": 0.8,
        "flushing": 2.0,
        "central_face": 1.5,
        "face": 0.6,
        "older": 0.4,
        "young": -0.5,
        "comedones": -1.0,
        "img_red": 0.3,
        "img_darkness": -1.0,
    },
    "contact_dermatitis": {
        **_each(_GROWTHS, -2.0),
        "red_rash": 1.0,
        "contact": 2.5,
        "itch": 0.8,
        "blisters": 0.8,
        "localised": 0.3,
        "short": 0.5,
        "img_red": 0.3,
        "img_darkness": -1.0,
    },
    "tinea": {
        "pigmented": -2.0,
        "bump": -2.0,
        "red_rash": 0.6,
        "ring": 2.5,
        "scaly": 0.6,
        "itch": 0.5,
        "img_darkness": -1.0,
    },
    "urticaria": {
        **_each(_GROWTHS, -2.0),
        "wheals": 2.5,
        "transient": 2.0,
        "itch": 1.0,
        "short": 0.6,
        "widespread": 0.4,
        "img_darkness": -1.0,
    },
}

#: Human-readable names of the features, for the ``evidence`` of each diagnosis.
FEATURE_LABELS: dict[str, str] = {
    "pigmented": "pigmented lesion",
    "scaly_patch": "scaly patch",
    "red_rash": "red rash",
    "purpuric": "red or purple spots",
    "older": "older age",
    "young": "young age",
    "sun_site": "sun-exposed site",
    "legs": "on the legs",
    "abcde": "ABCDE features",
    "glasgow": "7-point checklist score",
    "evolving": "recent change",
    "rapid": "rapid growth",
    "small": "diameter <= 6 mm",
    "short": "present < 4 weeks",
    "chronic": "present > 3 months",
    "multiple": "several lesions",
    "family_history": "family history of melanoma",
    "col_brown": "brown",
    "col_black": "black",
    "col_blue_grey": "blue-grey",
    "col_red": "pink or red",
    "col_skin": "skin-coloured",
    "img_lesion_share": "photo: large lesion",
    "img_darkness": "photo: darker than the skin",
    "img_dark": "photo: dark pigment",
    "img_blue_grey": "photo: blue-grey areas",
    "img_red": "photo: red",
    "img_purple": "photo: purple",
    "img_variegation": "photo: uneven colour",
}


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def answer_features(f: Findings) -> dict[str, float]:
    """Features (0–1) read from the anamnesis; unknown answers give 0."""
    age = f.age
    colours = f.colour_families
    rash = f.rash_features
    weeks = f.duration_weeks
    glasgow, _ = glasgow_score(f)
    features = {
        "pigmented": f.morphology == A.PIGMENTED,
        "bump": f.morphology == A.BUMP,
        "scaly_patch": f.morphology == A.SCALY_PATCH,
        "red_rash": f.morphology == A.RED_RASH,
        "pustules": f.morphology == A.PUSTULES,
        "wheals": f.morphology == A.WHEALS,
        "purpuric": f.morphology == A.PURPURIC_SPOTS,
        "older": _clamp((age - 40) / 30) if age is not None else 0.0,  # 0 at 40 y, 1 at 70 y
        "young": _clamp((35 - age) / 20) if age is not None else 0.0,  # 1 at 15 y, 0 at 35 y
        "female": f.sex == "female",
        "sun_site": f.sun_exposed_site,
        "face": f.site in ("face", "ear"),
        "trunk": f.site in A.TRUNK_SITES,
        "legs": f.site == "lower extremity",
        "flat": f.elevation == A.ELEV_FLAT,
        "elevated": f.elevated,
        "firm": f.firm,
        "col_brown": "brown" in colours,
        "col_black": "black" in colours,
        "col_blue_grey": "blue-grey" in colours,
        "col_red": "red" in colours,
        "col_skin": "skin" in colours,
        "abcde": sum(abcde_features(f).values()) / 5 if f.is_pigmented else 0.0,
        "glasgow": _clamp(glasgow / 6) if f.is_pigmented else 0.0,
        "evolving": f.evolving,
        "rapid": f.rapid_growth,
        "small": f.diameter_mm is not None and f.diameter_mm <= 6,
        "itch": _clamp(f.itch / 5) if f.itch is not None else 0.0,
        "pain": bool(f.pain),
        "bleeding": bool(f.bleeding),
        "ulcerated": f.ulcerated,
        "crusting": f.crusting,
        "short": weeks is not None and weeks[1] <= 4,
        "chronic": weeks is not None and weeks[0] >= 13,
        "multiple": f.multiple,
        "localised": f.distribution == A.DIST_LOCALISED,
        "widespread": f.distribution == A.DIST_WIDESPREAD,
        "flexural": f.distribution == A.DIST_FLEXURAL,
        "extensor": f.distribution == A.DIST_EXTENSOR,
        "central_face": f.distribution == A.DIST_CENTRAL_FACE,
        "scaly": A.RASH_SCALY in rash,
        "silvery": A.RASH_SILVERY in rash,
        "ring": A.RASH_RING in rash,
        "blisters": A.RASH_BLISTERS in rash,
        "transient": A.RASH_TRANSIENT in rash,
        "comedones": A.RASH_COMEDONES in rash,
        "flushing": A.RASH_FLUSHING in rash,
        "contact": A.RASH_CONTACT in rash,
        "family_history": bool(f.family_history_melanoma),
        "immunosuppressed": bool(f.immunosuppressed),
    }
    return {name: float(value) for name, value in features.items()}


def tier_for(top_probability: float) -> str:
    """The contract's tier: ``confident`` (≥ 0.815), ``possible`` (≥ 0.444) or ``refer``."""
    if top_probability >= CONFIDENT_THRESHOLD:
        return "confident"
    if top_probability >= POSSIBLE_THRESHOLD:
        return "possible"
    return "refer"


def highlight_count(tier: str, probabilities: Sequence[float]) -> int:
    """How many top diagnoses to highlight: 1 if confident; in possible those above 0.25
    (at most 3); 0 if refer."""
    if tier == "confident":
        return 1
    if tier == "possible":
        return min(MAX_HIGHLIGHTS, sum(1 for p in probabilities if p > HIGHLIGHT_THRESHOLD))
    return 0


def confidence_label(probability: float) -> str:
    """A diagnosis's confidence: ``high`` at the confident threshold, ``medium`` above the
    highlight threshold (0.25), else ``low``."""
    if probability >= CONFIDENT_THRESHOLD:
        return "high"
    if probability > HIGHLIGHT_THRESHOLD:
        return "medium"
    return "low"


def scores(features: dict[str, float]) -> dict[str, float]:
    """The logit of every condition for these features."""
    return {
        c.key: PRIORS[c.key]
        + sum(w * features.get(name, 0.0) for name, w in WEIGHTS[c.key].items())
        for c in CONDITIONS
    }


def probabilities(logits: dict[str, float]) -> dict[str, float]:
    """Softmax over the conditions and the "other" outcome; floored to 4 decimals (sum ≤ 1)."""
    top = max(*logits.values(), OTHER_LOGIT)
    exps = {key: math.exp(value - top) for key, value in logits.items()}
    total = sum(exps.values()) + math.exp(OTHER_LOGIT - top)
    return {key: math.floor(value / total * 10_000) / 10_000 for key, value in exps.items()}


def _evidence(condition: str, features: dict[str, float], limit: int = 3) -> list[str]:
    contributions = sorted(
        (
            (w * features.get(name, 0.0), name)
            for name, w in WEIGHTS[condition].items()
            if w * features.get(name, 0.0) > 0.2
        ),
        reverse=True,
    )
    return [
        f"{FEATURE_LABELS.get(name, name.replace('_', ' '))} (+{value:.1f})"
        for value, name in contributions[:limit]
    ]


#: Entries in each one-sided differential of ``evidence`` (the contract: top 5).
EVIDENCE_SIZE = 5


def one_sided(features: dict[str, float]) -> list[dict[str, Any]]:
    """The top of the differential computed from ``features`` alone (same priors, weights and
    softmax as the combined result), for the contract's ``evidence``."""
    probs = probabilities(scores(features))
    ranked = sorted(CONDITIONS, key=lambda c: (-probs[c.key], c.name))[:EVIDENCE_SIZE]
    return [{"disease": c.name, "probability": probs[c.key], "icd10": c.icd10} for c in ranked]


def predict(
    findings: Findings, photo: ColourStats, model_version: str = MODEL_VERSION
) -> dict[str, Any]:
    """The contract's ``DiagnosisPrediction`` body, without ``metadata.inference_time_ms``.

    ``model_version`` ``reference-0.9`` leaves the photo's colour features out (it scored the
    answers only) and gives no ``evidence`` (it cannot separate photo and answers).

    Returns ``{"diagnoses": [{disease, probability, confidence, icd10, evidence}, ...],
    "tier", "confidence", "refer_to_specialist", "highlight_count", "evidence":
    {"image_only": [...], "anamnesis_only": [...]}, "metadata": {"model_version"}}``;
    ``evidence`` is the top 5 of the differential from the photo's colour features alone and
    from the answers' features alone (:func:`one_sided`). ``diagnoses`` lists every
    condition, most probable first (ties by name). ``refer_to_specialist`` is true in the
    ``refer`` tier or when the top diagnosis is a skin cancer (melanoma, BCC, SCC).
    """
    answers = answer_features(findings)
    colours = photo.as_features() if model_version != "reference-0.9" else {}
    features = {**answers, **colours}
    probs = probabilities(scores(features))
    ranked = sorted(CONDITIONS, key=lambda c: (-probs[c.key], c.name))
    top = ranked[0]
    top_probability = probs[top.key]
    tier = tier_for(top_probability)
    result = {
        "diagnoses": [
            {
                "disease": c.name,
                "probability": probs[c.key],
                "confidence": confidence_label(probs[c.key]),
                "icd10": c.icd10,
                "evidence": _evidence(c.key, features),
            }
            for c in ranked
        ],
        "tier": tier,
        "confidence": top_probability,
        "refer_to_specialist": tier == "refer" or top.malignant,
        "highlight_count": highlight_count(tier, [probs[c.key] for c in ranked]),
        "evidence": {"image_only": one_sided(colours), "anamnesis_only": one_sided(answers)},
        "metadata": {"model_version": model_version},
    }
    if model_version == "reference-0.9":
        del result["evidence"]
    return result


def check_diagnoses(value: Any) -> list[dict[str, Any]]:
    """Check an optional differential sent back to the service (``null`` means none).

    Shape: a list of objects, each with a string ``disease`` and a ``probability`` in 0–1.

    Raises:
        InputError: 422 naming the first offending item.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(422, "diagnoses must be a list of {disease, probability}")
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("disease"), str):
            raise InputError(422, f"diagnoses[{index}] must be an object with a disease string")
        probability = item.get("probability")
        if (
            isinstance(probability, bool)
            or not isinstance(probability, int | float)
            or not 0 <= probability <= 1
        ):
            raise InputError(422, f"diagnoses[{index}].probability must be a number in 0-1")
    return value
