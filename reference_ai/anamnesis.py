"""The anamnesis: the questionnaire's key set, its shape check, and the facts read from it.

The anamnesis is one flat JSON object keyed by each question's ``fieldName`` (see the AI service
contract). This module owns the vocabulary shared by the questionnaire, the red-flag rules and the
prediction: field names, option strings and :class:`Findings`, the typed clinical facts derived
from the raw answers.

Reading is lenient on purpose: the gateway stores whatever the client sent, so ``"yes"``, ``1`` and
``true`` all mean yes, numbers may arrive as strings, and a checkbox answer may arrive as a single
string. An answer that cannot be read counts as unknown (``None``), never as an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from reference_ai.errors import InputError

# --- limits of the shape check (the same as the gateway's, see the contract) --------------------
MAX_KEYS = 200
MAX_KEY_LENGTH = 100
MAX_STRING_LENGTH = 2000

# --- field names -------------------------------------------------------------------------------
AGE = "age"
SEX = "sex"
SITE = "location1.primary"
DURATION = "duration"
MORPHOLOGY = "morphology"
LESION_COUNT = "lesion_count"
DISTRIBUTION = "distribution"
ELEVATION = "elevation"
COLOR = "color"
PIGMENTED_FEATURES = "pigmented.features"
DIAMETER = "diameter_mm"
CHANGED = "changed_recently"
CHANGE_FEATURES = "change.features"
RASH_FEATURES = "rash.features"
ITCH = "itch.scale_0_to_5"
PAIN = "pain"
BLEEDING = "bleeding"
SURFACE = "surface"
FEVER = "fever"
SPREADING_REDNESS = "spreading_redness"
NON_BLANCHING = "non_blanching_rash"
IMMUNOSUPPRESSED = "immunosuppressed"
FAMILY_HISTORY_MELANOMA = "family_history_melanoma"
PHOTO = "photo_taken"

# --- options -----------------------------------------------------------------------------------
SEX_OPTIONS = ("female", "male", "other")
SITE_OPTIONS = (
    "face",
    "scalp",
    "ear",
    "neck",
    "chest",
    "abdomen",
    "back",
    "upper extremity",
    "lower extremity",
    "hand",
    "foot",
    "genital",
)
#: Sites chronically exposed to the sun (actinic keratosis, BCC, SCC).
SUN_EXPOSED_SITES = frozenset({"face", "scalp", "ear", "neck", "hand", "upper extremity"})
TRUNK_SITES = frozenset({"chest", "abdomen", "back"})

#: Duration options and the interval of weeks each one stands for: (lower bound, upper bound).
DURATION_WEEKS: dict[str, tuple[float, float]] = {
    "<1 week": (0.0, 1.0),
    "1-4 weeks": (1.0, 4.0),
    "1-3 months": (4.3, 13.0),
    "3-12 months": (13.0, 52.0),
    ">1 year": (52.0, math.inf),
}
#: Other spellings clients are known to send (the contract's own example uses ">1 month").
DURATION_ALIASES: dict[str, tuple[float, float]] = {
    ">1 month": (4.3, math.inf),
    "since childhood": (52.0, math.inf),
    "since birth": (52.0, math.inf),
}

PIGMENTED = "pigmented spot or mole"
BUMP = "bump or nodule"
SCALY_PATCH = "scaly or crusted patch"
RED_RASH = "red rash"
PUSTULES = "pimples or pustules"
WHEALS = "hives or welts"
PURPURIC_SPOTS = "red or purple spots"
MORPHOLOGY_OPTIONS = (PIGMENTED, BUMP, SCALY_PATCH, RED_RASH, PUSTULES, WHEALS, PURPURIC_SPOTS)
#: Morphologies of a single growth ("a lesion"): the skin-cancer questions apply to these.
GROWTH_MORPHOLOGIES = frozenset({PIGMENTED, BUMP, SCALY_PATCH})
#: Morphologies of an eruption ("a rash"): count, distribution and rash features apply.
ERUPTION_MORPHOLOGIES = frozenset({RED_RASH, PUSTULES, WHEALS, PURPURIC_SPOTS})

COUNT_SINGLE = "single"
LESION_COUNT_OPTIONS = (COUNT_SINGLE, "2-10", "more than 10")
DIST_LOCALISED = "localised"
DIST_FLEXURAL = "skin creases (flexures)"
DIST_EXTENSOR = "elbows, knees (extensor surfaces)"
DIST_CENTRAL_FACE = "central face"
DIST_TRUNK = "trunk"
DIST_WIDESPREAD = "widespread"
DISTRIBUTION_OPTIONS = (
    DIST_LOCALISED,
    DIST_FLEXURAL,
    DIST_EXTENSOR,
    DIST_CENTRAL_FACE,
    DIST_TRUNK,
    DIST_WIDESPREAD,
)

ELEV_FLAT = "flat"
ELEV_RAISED_SOFT = "raised, soft"
ELEV_RAISED_FIRM = "raised, firm"
ELEVATION_OPTIONS = (ELEV_FLAT, ELEV_RAISED_SOFT, ELEV_RAISED_FIRM)

COLOR_OPTIONS = (
    "skin-coloured",
    "pink or red",
    "light brown",
    "dark brown",
    "black",
    "blue-grey",
    "white",
    "yellow",
)

ASYMMETRIC = "asymmetric shape"
IRREGULAR_BORDER = "irregular or blurred border"
PIGMENTED_FEATURE_OPTIONS = (ASYMMETRIC, IRREGULAR_BORDER)

CHANGE_SIZE = "size"
CHANGE_SHAPE = "shape"
CHANGE_COLOUR = "colour"
CHANGE_RAPID = "grew rapidly (within weeks)"
CHANGE_FEATURE_OPTIONS = (CHANGE_SIZE, CHANGE_SHAPE, CHANGE_COLOUR, CHANGE_RAPID)

RASH_SCALY = "dry or scaly"
RASH_SILVERY = "thick silvery scale"
RASH_RING = "ring-shaped with a clearer centre"
RASH_BLISTERS = "blisters or weeping"
RASH_TRANSIENT = "each spot fades within 24 hours"
RASH_COMEDONES = "blackheads or whiteheads"
RASH_FLUSHING = "flushing"
RASH_CONTACT = "began after contact with a new product, plant, metal or chemical"
RASH_FEATURE_OPTIONS = (
    RASH_SCALY,
    RASH_SILVERY,
    RASH_RING,
    RASH_BLISTERS,
    RASH_TRANSIENT,
    RASH_COMEDONES,
    RASH_FLUSHING,
    RASH_CONTACT,
)

SURFACE_ULCERATED = "ulcerated (open sore)"
SURFACE_CRUSTING = "oozing or crusting"
SURFACE_INFLAMED = "inflamed (red, swollen)"
SURFACE_OPTIONS = (SURFACE_ULCERATED, SURFACE_CRUSTING, SURFACE_INFLAMED)

_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "none"})


def check_anamnesis(value: Any) -> dict[str, Any]:
    """Check the contract's shape of an anamnesis and return it.

    Shape: an object of at most 200 keys (each at most 100 characters) whose values are a
    string (at most 2,000 characters), a number, a boolean, null, or a list of such strings.

    Raises:
        InputError: 422 with a ``detail`` naming the first offending key.
    """
    if value is None:
        raise InputError(422, "anamnesis is required (an object; {} starts the questionnaire)")
    if not isinstance(value, dict):
        raise InputError(422, "anamnesis must be a JSON object of answers keyed by fieldName")
    if len(value) > MAX_KEYS:
        raise InputError(422, f"anamnesis has {len(value)} keys; at most {MAX_KEYS} allowed")
    for key, answer in value.items():
        if len(key) > MAX_KEY_LENGTH:
            raise InputError(422, f"anamnesis key longer than {MAX_KEY_LENGTH} characters")
        if not _is_answer(answer):
            raise InputError(
                422,
                f"anamnesis[{key!r}] must be a string, number, boolean or list of strings",
            )
    return value


def _is_answer(answer: Any) -> bool:
    if answer is None or isinstance(answer, bool | int):
        return True
    if isinstance(answer, float):
        return math.isfinite(answer)
    if isinstance(answer, str):
        return len(answer) <= MAX_STRING_LENGTH
    if isinstance(answer, list):
        return all(isinstance(item, str) and len(item) <= MAX_STRING_LENGTH for item in answer)
    return False


def is_answered(anamnesis: dict[str, Any], field: str) -> bool:
    """Whether ``field`` was answered: the key is present, whatever its value.

    A skipped optional question is recorded as ``""`` or ``null``; an empty checkbox list means
    "none of these". Either way the question is not asked again.
    """
    return field in anamnesis


def read_bool(anamnesis: dict[str, Any], field: str) -> bool | None:
    """Read a yes/no answer: booleans, 0/1, and yes/no/true/false words; else ``None``."""
    value = anamnesis.get(field)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def read_number(anamnesis: dict[str, Any], field: str) -> float | None:
    """Read a finite number (a numeric string is accepted); else ``None``."""
    value = anamnesis.get(field)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def read_choice(anamnesis: dict[str, Any], field: str) -> str | None:
    """Read a radio answer as a stripped, lower-case string; else ``None``."""
    value = anamnesis.get(field)
    if isinstance(value, str) and value.strip():
        return value.strip().lower()
    return None


def read_choices(anamnesis: dict[str, Any], field: str) -> frozenset[str]:
    """Read a checkbox answer as a set of lower-case strings (a lone string is one choice)."""
    value = anamnesis.get(field)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return frozenset()
    return frozenset(item.strip().lower() for item in value if isinstance(item, str))


#: Words that name a colour family; shades of one family count once ("light brown" → brown).
_COLOUR_FAMILIES = (
    ("brown", "brown"),
    ("black", "black"),
    ("blue", "blue-grey"),
    ("grey", "blue-grey"),
    ("gray", "blue-grey"),
    ("red", "red"),
    ("pink", "red"),
    ("purple", "red"),
    ("white", "white"),
    ("yellow", "yellow"),
    ("skin", "skin"),
)


def _colour_family(colour: str) -> str:
    return next((family for word, family in _COLOUR_FAMILIES if word in colour), colour)


@dataclass(frozen=True)
class Findings:
    """Clinical facts read from an anamnesis; ``None`` means not answered or unreadable.

    Units: ``age`` in years, ``diameter_mm`` in millimetres, ``itch`` on the 0–5 scale,
    ``duration_weeks`` as the (lower, upper) bound in weeks of the chosen duration option.
    """

    age: float | None
    sex: str | None
    site: str | None
    duration_weeks: tuple[float, float] | None
    morphology: str | None
    lesion_count: str | None
    distribution: str | None
    elevation: str | None
    colours: frozenset[str]
    asymmetric: bool
    irregular_border: bool
    diameter_mm: float | None
    changed: bool | None
    change_features: frozenset[str]
    rash_features: frozenset[str]
    itch: float | None
    pain: bool | None
    bleeding: bool | None
    ulcerated: bool
    crusting: bool
    inflamed: bool
    fever: bool | None
    spreading_redness: bool | None
    non_blanching: bool | None
    immunosuppressed: bool | None
    family_history_melanoma: bool | None

    # -- derived facts, each named after the clinical concept the rules use --------------------

    @property
    def is_growth(self) -> bool:
        """A single growth (pigmented spot, bump or scaly patch) rather than an eruption."""
        return self.morphology in GROWTH_MORPHOLOGIES

    @property
    def is_eruption(self) -> bool:
        """An eruption (rash, pustules, hives, spots) rather than a single growth."""
        return self.morphology in ERUPTION_MORPHOLOGIES

    @property
    def is_pigmented(self) -> bool:
        """A pigmented lesion: so described, or brown/black/blue-grey among its colours."""
        if self.morphology == PIGMENTED:
            return True
        return self.morphology in (None, BUMP) and bool(
            self.colour_families & {"brown", "black", "blue-grey"}
        )

    @property
    def colour_families(self) -> frozenset[str]:
        """The colours answered, shades folded (two browns count as one family)."""
        return frozenset(_colour_family(colour) for colour in self.colours)

    @property
    def colour_variegation(self) -> bool:
        """ABCDE "C": two or more colours or shades (skin colour not counted), or blue-grey."""
        pigment_colours = {c for c in self.colours if _colour_family(c) != "skin"}
        return len(pigment_colours) >= 2 or "blue-grey" in self.colour_families

    @property
    def elevated(self) -> bool:
        """Raised above the skin (EFG "E")."""
        return self.elevation in (ELEV_RAISED_SOFT, ELEV_RAISED_FIRM)

    @property
    def firm(self) -> bool:
        """Firm to touch (EFG "F")."""
        return self.elevation == ELEV_RAISED_FIRM

    @property
    def changed_size(self) -> bool:
        """Grown: a change in size or rapid growth was reported."""
        return bool(self.change_features & {CHANGE_SIZE, CHANGE_RAPID})

    @property
    def changed_shape(self) -> bool:
        """A change in shape was reported."""
        return CHANGE_SHAPE in self.change_features

    @property
    def changed_colour(self) -> bool:
        """A change in colour was reported (``color`` spelling accepted)."""
        return bool(self.change_features & {CHANGE_COLOUR, "color"})

    @property
    def evolving(self) -> bool:
        """ABCDE "E": any recent change (also when the kind of change was not given)."""
        return bool(self.changed) or bool(self.change_features)

    @property
    def rapid_growth(self) -> bool:
        """Grew rapidly, within weeks."""
        return CHANGE_RAPID in self.change_features

    @property
    def present_over_a_month(self) -> bool:
        """Present for more than one month (lower bound of the duration above 4 weeks)."""
        return self.duration_weeks is not None and self.duration_weeks[0] > 4.0

    @property
    def new_lesion(self) -> bool:
        """New: appeared within the last year (upper bound of the duration at most 52 weeks)."""
        return self.duration_weeks is not None and self.duration_weeks[1] <= 52.0

    @property
    def sensation_changed(self) -> bool:
        """Glasgow "change in sensation": itch of at least 2 of 5, or pain."""
        return (self.itch is not None and self.itch >= 2) or bool(self.pain)

    @property
    def sun_exposed_site(self) -> bool:
        """On a chronically sun-exposed site (face, scalp, ears, neck, hands, arms)."""
        return self.site in SUN_EXPOSED_SITES

    @property
    def multiple(self) -> bool:
        """More than one lesion."""
        return self.lesion_count is not None and self.lesion_count != COUNT_SINGLE


def read_findings(anamnesis: dict[str, Any]) -> Findings:
    """Derive :class:`Findings` from an anamnesis whose shape was checked."""
    duration = read_choice(anamnesis, DURATION)
    surface = read_choices(anamnesis, SURFACE)
    pigmented_features = read_choices(anamnesis, PIGMENTED_FEATURES)
    age = read_number(anamnesis, AGE)
    return Findings(
        age=age if age is not None and 0 <= age <= 130 else None,
        sex=read_choice(anamnesis, SEX),
        site=read_choice(anamnesis, SITE),
        duration_weeks=(
            DURATION_WEEKS.get(duration) or DURATION_ALIASES.get(duration) if duration else None
        ),
        morphology=read_choice(anamnesis, MORPHOLOGY),
        lesion_count=read_choice(anamnesis, LESION_COUNT),
        distribution=read_choice(anamnesis, DISTRIBUTION),
        elevation=read_choice(anamnesis, ELEVATION),
        colours=read_choices(anamnesis, COLOR),
        asymmetric=ASYMMETRIC in pigmented_features,
        irregular_border=IRREGULAR_BORDER in pigmented_features,
        diameter_mm=read_number(anamnesis, DIAMETER),
        changed=read_bool(anamnesis, CHANGED),
        change_features=read_choices(anamnesis, CHANGE_FEATURES),
        rash_features=read_choices(anamnesis, RASH_FEATURES),
        itch=read_number(anamnesis, ITCH),
        pain=read_bool(anamnesis, PAIN),
        bleeding=read_bool(anamnesis, BLEEDING),
        ulcerated=SURFACE_ULCERATED in surface,
        crusting=SURFACE_CRUSTING in surface,
        inflamed=SURFACE_INFLAMED in surface,
        fever=read_bool(anamnesis, FEVER),
        spreading_redness=read_bool(anamnesis, SPREADING_REDNESS),
        non_blanching=read_bool(anamnesis, NON_BLANCHING),
        immunosuppressed=read_bool(anamnesis, IMMUNOSUPPRESSED),
        family_history_melanoma=read_bool(anamnesis, FAMILY_HISTORY_MELANOMA),
    )
