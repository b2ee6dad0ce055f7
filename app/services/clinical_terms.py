"""Clinical vocabularies of a case, in one place: body sites, sex, Fitzpatrick types, status.

The API, the portal forms and the database checks all read these tuples, so a value accepted in
one place is accepted everywhere.

**Body sites** (``BODY_SITES``) are coarse anatomical regions as a dermatologist records the site
of a lesion. The list follows the anatomic-site groups of the ISIC Archive / HAM10000 metadata
(``localization``: scalp, face, ear, neck, chest, abdomen, back, upper extremity, lower extremity,
hand, foot, genital, acral, trunk …), refined into the regions clinicians document separately
because they change the differential (nail and mucosa: subungual and mucosal melanoma; acral sites:
acral lentiginous melanoma):

=============  ==========================================================
``scalp``      hair-bearing scalp
``face``       face including forehead, eyelids, nose, lips (skin side)
``ear``        external ear
``neck``       neck
``chest``      chest and breast
``abdomen``    abdomen and flanks
``back``       back, upper and lower
``upper_arm``  shoulder to elbow, axilla
``forearm``    elbow to wrist
``hand``       hand and fingers (palm and dorsum); nails → ``nail``
``genital``    genital and perianal skin
``buttock``    buttocks
``thigh``      hip to knee
``lower_leg``  knee to ankle
``foot``       foot and toes (sole and dorsum); nails → ``nail``
``nail``       nail unit (finger or toe)
``mucosa``     oral, nasal, conjunctival or genital mucosa
``other``      anything else (say where in the chief complaint)
=============  ==========================================================

**Fitzpatrick skin types** I–VI (Fitzpatrick T.B., Arch Dermatol 1988;124:869–871): the skin's
response to UV, from always burns / never tans (I) to never burns, deeply pigmented (VI).
"""

from __future__ import annotations

BODY_SITES: tuple[str, ...] = (
    "scalp",
    "face",
    "ear",
    "neck",
    "chest",
    "abdomen",
    "back",
    "upper_arm",
    "forearm",
    "hand",
    "genital",
    "buttock",
    "thigh",
    "lower_leg",
    "foot",
    "nail",
    "mucosa",
    "other",
)

#: Sex as recorded for the patient; ``unknown`` when not stated.
PATIENT_SEXES: tuple[str, ...] = ("female", "male", "other", "unknown")

#: Fitzpatrick skin phototypes, Roman numerals as used clinically.
FITZPATRICK_TYPES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI")

#: Youngest and oldest accepted patient age, years.
MIN_PATIENT_AGE = 0
MAX_PATIENT_AGE = 120

#: Longest chief complaint, characters.
MAX_CHIEF_COMPLAINT = 2000
#: Longest physician notes / review notes, characters.
MAX_NOTES = 10_000
#: Longest patient reference, characters (a pseudonym such as ``PT-2026-0042``).
MAX_PATIENT_REFERENCE = 64

#: Case workflow: draft → questionnaire → awaiting_image → analyzed | analysis_failed → reviewed;
#: any case may be archived (the API never hard-deletes).
CASE_STATUSES: tuple[str, ...] = (
    "draft",
    "questionnaire",
    "awaiting_image",
    "analyzed",
    "analysis_failed",
    "reviewed",
    "archived",
)

#: How the physician's final diagnosis agrees with the AI: its first suggestion, another of its
#: suggestions, or none (see ``app.services.clinical_record.agreement``).
AI_AGREEMENTS: tuple[str, ...] = ("top1", "in_differential", "differs")

#: Urgency derived from the latest analysis's red flags (filled by the diagnosis service).
URGENCIES: tuple[str, ...] = ("low", "medium", "high", "emergency")

#: A followed lesion's status: still watched, removed (excised), or gone by itself (resolved).
LESION_STATUSES: tuple[str, ...] = ("monitoring", "excised", "resolved")

#: The statuses that end a lesion's follow-up: a removed or resolved lesion gets no new visit.
#: What grows back at an excision scar (a recurrence) or appears nearby is examined as a lesion
#: of its own, so that its history does not mix with the removed one's; a lesion recorded as
#: closed by mistake, or followed again, is set back to ``monitoring`` first (audited).
CLOSED_LESION_STATUSES: tuple[str, ...] = ("excised", "resolved")

#: The sides of the simple body map on which a lesion's dot is placed.
BODY_MAP_VIEWS: tuple[str, ...] = ("front", "back")

#: Longest lesion label, characters ("left scapula, 8 mm naevus").
MAX_LESION_LABEL = 120

#: Earliest accepted year of birth (the latest is the current year).
MIN_BIRTH_YEAR = 1880

#: The diagnoses the gateway knows by name, with their ICD-10-CM code: the fixed list of common
#: conditions of the AI Service contract (``ai-service-contract.md``: melanoma … urticaria; the
#: reference AI's ``prediction.CONDITIONS`` and README table name them with these codes). A
#: review naming one of them with a code of another diagnosis is a contradiction
#: (``app.services.clinical_record.coding``); a name not listed here (nor in the case's
#: differential) is free text and keeps any valid code.
KNOWN_DIAGNOSES: dict[str, str] = {
    "Melanoma": "C43.9",
    "Melanocytic nevus": "D22.9",
    "Basal cell carcinoma": "C44.91",
    "Squamous cell carcinoma": "C44.92",
    "Actinic keratosis": "L57.0",
    "Seborrheic keratosis": "L82.1",
    "Dermatofibroma": "D23.9",
    "Vascular lesion": "D18.00",
    "Eczema": "L30.9",
    "Psoriasis": "L40.9",
    "Acne": "L70.0",
    "Rosacea": "L71.9",
    "Contact dermatitis": "L25.9",
    "Tinea": "B35.9",
    "Urticaria": "L50.9",
}
