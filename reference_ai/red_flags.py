"""Red-flag rules: every rule the reference service applies, each with its published source.

Each rule reads :class:`~reference_ai.anamnesis.Findings` (and, for one rule, the differential
from ``diagnoses/predict``) and either returns a :class:`Flag` or ``None``. A flag carries the
contract's ``type``, ``severity`` and ``description`` plus the ``rule`` that fired, its ``source``
and the ``urgency`` it implies. The overall urgency is the highest urgency of the flags (``low``
when none fired).

Urgency levels and what they mean here:

* ``emergency`` — possible life-threatening infection: assessment now;
* ``high`` — suspected skin cancer: urgent referral on the suspected-cancer pathway
  (NICE NG12, appointment within 2 weeks);
* ``medium`` — needs a physician's review within 24 hours;
* ``low`` — no red flag.

The rules are deliberately simple, readable screens. They are NOT validated for clinical use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reference_ai.anamnesis import Findings

URGENCY_ORDER = ("low", "medium", "high", "emergency")

#: ABCDE "D": diameter above 6 mm (Abbasi et al. 2004).
ABCDE_DIAMETER_MM = 6.0
#: Glasgow 7-point minor criterion: largest diameter of 7 mm or more (NICE NG12 1.7.1).
GLASGOW_DIAMETER_MM = 7.0
#: Glasgow weighted 7-point checklist: refer at 3 points or more (NICE NG12 1.7.1).
GLASGOW_REFER_SCORE = 3
#: A differential whose melanoma or SCC probability reaches the contract's "possible" tier.
SUSPECTED_CANCER_PROBABILITY = 0.444

RECOMMENDATIONS = {
    "emergency": (
        "Emergency: possible life-threatening infection. Arrange immediate assessment "
        "(emergency department or acute medical team) now; do not wait for a dermatology review."
    ),
    "high": (
        "Suspected skin cancer: refer urgently on the suspected-cancer pathway "
        "(NICE NG12, appointment within 2 weeks)."
    ),
    "medium": "A physician should review this patient within 24 hours.",
    "low": (
        "No red flags found. Routine care; advise the patient to return if the lesion changes "
        "in size, shape or colour, bleeds or does not heal."
    ),
}


@dataclass(frozen=True)
class Flag:
    """One red flag: the contract's ``{type, severity, description}`` plus provenance.

    ``severity`` is ``high`` | ``medium`` | ``low``; ``urgency`` is one of :data:`URGENCY_ORDER`.
    """

    type: str
    severity: str
    description: str
    rule: str
    source: str
    urgency: str

    def to_json(self) -> dict[str, str]:
        """The flag as sent on the wire."""
        return {
            "type": self.type,
            "severity": self.severity,
            "description": self.description,
            "rule": self.rule,
            "source": self.source,
            "urgency": self.urgency,
        }


def abcde_features(f: Findings) -> dict[str, bool]:
    """The ABCDE melanoma features present: Asymmetry, Border, Colour, Diameter, Evolving."""
    return {
        "A": f.asymmetric,
        "B": f.irregular_border,
        "C": f.colour_variegation,
        "D": f.diameter_mm is not None and f.diameter_mm > ABCDE_DIAMETER_MM,
        "E": f.evolving,
    }


def abcde_rule(f: Findings) -> Flag | None:
    """ABCDE criteria for melanoma, applied to a pigmented lesion.

    Fires with three or more of the five features, or with two when one of them is D (diameter
    > 6 mm) or E (evolving). With ≥ 2 features the ABCD criteria are very sensitive but not
    specific, with ≥ 3 more specific; E (change) is the strongest single feature, hence the
    mixed threshold, chosen here to favour sensitivity in a referral screen.

    Source: Abbasi NR, Shaw HM, Rigel DS, et al. Early diagnosis of cutaneous melanoma:
    revisiting the ABCD criteria. JAMA 2004;292(22):2771-2776.
    """
    if not f.is_pigmented:
        return None
    present = [letter for letter, yes in abcde_features(f).items() if yes]
    if not (len(present) >= 3 or (len(present) == 2 and {"D", "E"} & set(present))):
        return None
    return Flag(
        type="changing_pigmented_lesion" if "E" in present else "suspicious_pigmented_lesion",
        severity="high",
        description=f"Pigmented lesion with ABCDE features {', '.join(present)}: "
        "possible melanoma.",
        rule="ABCDE criteria (>= 3 features, or 2 including D or E)",
        source="Abbasi NR et al. Early diagnosis of cutaneous melanoma: revisiting the ABCD "
        "criteria. JAMA 2004;292(22):2771-6",
        urgency="high",
    )


def efg_rule(f: Findings) -> Flag | None:
    """EFG criteria for nodular melanoma: Elevated, Firm, and Growing for more than a month.

    Nodular melanomas are often symmetric, single-coloured or amelanotic and so escape ABCD;
    any lesion that is elevated, firm and has grown progressively for over a month should be
    referred. "Growing" is a reported change in size; "for more than a month" is a duration
    whose lower bound exceeds 4 weeks.

    Source: Kelly JW, Chamberlain AJ, Staples MP, McAvoy B. Nodular melanoma: no longer as
    simple as ABC. Aust Fam Physician 2003;32(9):706-709 (Melanoma Institute Australia /
    Victorian Melanoma Service).
    """
    if not (f.elevated and f.firm and f.changed_size and f.present_over_a_month):
        return None
    return Flag(
        type="nodular_melanoma_signs",
        severity="high",
        description="Elevated, firm lesion growing for more than a month: possible nodular "
        "melanoma.",
        rule="EFG criteria (elevated, firm, growing > 1 month)",
        source="Kelly JW et al. Nodular melanoma: no longer as simple as ABC. "
        "Aust Fam Physician 2003;32(9):706-9 (Melanoma Institute Australia)",
        urgency="high",
    )


def glasgow_score(f: Findings) -> tuple[int, list[str]]:
    """The weighted 7-point checklist score of a pigmented lesion, with the criteria met.

    Major criteria, 2 points each: change in size; irregular shape (a change in shape, or an
    asymmetric or irregular outline); irregular colour (a change in colour, or variegation).
    A change reported without saying what changed counts as one major criterion.
    Minor criteria, 1 point each: largest diameter ≥ 7 mm; inflammation; oozing (oozing,
    crusting or bleeding); change in sensation (itch ≥ 2/5 or pain).
    """
    major = {
        "change in size": f.changed_size,
        "irregular shape": f.changed_shape or f.asymmetric or f.irregular_border,
        "irregular colour": f.changed_colour or f.colour_variegation,
    }
    if f.evolving and not (f.changed_size or f.changed_shape or f.changed_colour):
        major["change (unspecified)"] = True
    minor = {
        "diameter >= 7 mm": f.diameter_mm is not None and f.diameter_mm >= GLASGOW_DIAMETER_MM,
        "inflammation": f.inflamed,
        "oozing": f.crusting or bool(f.bleeding),
        "change in sensation": f.sensation_changed,
    }
    met = [name for name, yes in major.items() if yes] + [n for n, yes in minor.items() if yes]
    score = 2 * sum(major.values()) + sum(minor.values())
    return score, met


def glasgow_rule(f: Findings) -> Flag | None:
    """Glasgow weighted 7-point checklist for a pigmented lesion: refer at 3 points or more.

    Source: MacKie RM. Clinical recognition of early invasive malignant melanoma. BMJ
    1990;301:1005-1006; weighted version as adopted by NICE NG12 (2015), recommendation 1.7.1:
    "refer ... for melanoma if they have a suspicious pigmented skin lesion with a weighted
    7-point checklist score of 3 or more".
    """
    if not f.is_pigmented:
        return None
    score, met = glasgow_score(f)
    if score < GLASGOW_REFER_SCORE:
        return None
    return Flag(
        type="glasgow_7_point_positive",
        severity="high",
        description=f"Weighted 7-point checklist score {score} (>= {GLASGOW_REFER_SCORE}): "
        f"{', '.join(met)}.",
        rule=f"Glasgow weighted 7-point checklist (score >= {GLASGOW_REFER_SCORE})",
        source="MacKie RM, BMJ 1990;301:1005-6; NICE NG12 Suspected cancer: recognition and "
        "referral (2015), rec. 1.7.1",
        urgency="high",
    )


def bleeding_rule(f: Findings) -> Flag | None:
    """A lesion that bleeds without injury, or is ulcerated (an open sore).

    Bleeding and ulceration are presenting features of nodular melanoma, squamous cell
    carcinoma and basal cell carcinoma; a non-healing, bleeding or ulcerated lesion warrants
    assessment for skin cancer.

    Source: NICE NG12 (2015) §1.7 and NICE CKS "Skin cancers – recognition and referral"
    (SCC: non-healing, crusted, bleeding or ulcerated lesion); Chamberlain AJ, Fritschi L,
    Kelly JW. Nodular melanoma: patients' perceptions of presenting features. J Am Acad
    Dermatol 2003;48(5):694-701.
    """
    if not (f.bleeding or f.ulcerated):
        return None
    signs = [
        sign
        for sign, yes in (("bleeds without injury", f.bleeding), ("is ulcerated", f.ulcerated))
        if yes
    ]
    return Flag(
        type="bleeding" if f.bleeding else "ulceration",
        severity="high",
        description=f"Lesion {' and '.join(signs)}: exclude skin cancer.",
        rule="Bleeding or ulcerating lesion",
        source="NICE NG12 (2015) §1.7; NICE CKS Skin cancers - recognition and referral; "
        "Chamberlain AJ et al., J Am Acad Dermatol 2003;48:694-701",
        urgency="high",
    )


def rapid_growth_rule(f: Findings) -> Flag | None:
    """A lesion that grew rapidly, within weeks.

    Rapid growth is typical of squamous cell carcinoma / keratoacanthoma, nodular melanoma and
    Merkel cell carcinoma ("E: expanding rapidly" of the AEIOU features).

    Source: NICE NG12 (2015) rec. 1.7.3 with NICE CKS (rapidly growing lesion suggests SCC);
    Heath M et al. Clinical characteristics of Merkel cell carcinoma at diagnosis in 195
    patients: the AEIOU features. J Am Acad Dermatol 2008;58(3):375-381.
    """
    if not f.rapid_growth:
        return None
    return Flag(
        type="rapid_growth",
        severity="high",
        description="Lesion grew rapidly within weeks: possible SCC, keratoacanthoma, nodular "
        "melanoma or Merkel cell carcinoma.",
        rule="Rapid growth",
        source="NICE NG12 (2015) rec. 1.7.3; Heath M et al., J Am Acad Dermatol "
        "2008;58:375-81 (AEIOU)",
        urgency="high",
    )


def systemic_infection_rule(f: Findings) -> Flag | None:
    """Fever or feeling unwell with spreading redness: cellulitis with systemic signs.

    Systemic illness with a spreading skin infection (Eron class II-IV cellulitis, possible
    necrotising fasciitis or sepsis) needs hospital assessment now.

    Source: NICE NG141 Cellulitis and erysipelas: antimicrobial prescribing (2019), rec. 1.1.6
    (refer to hospital with signs of a more serious illness such as sepsis or necrotising
    fasciitis); Eron classification, CREST guidelines on cellulitis (2005); NICE NG51 Sepsis.
    """
    if not (f.fever and f.spreading_redness):
        return None
    return Flag(
        type="systemic_infection_signs",
        severity="high",
        description="Fever or feeling unwell with spreading redness: possible cellulitis with "
        "systemic illness or necrotising infection.",
        rule="Fever with spreading redness",
        source="NICE NG141 Cellulitis and erysipelas (2019); CREST/Eron classification (2005); "
        "NICE NG51 Sepsis",
        urgency="emergency",
    )


def non_blanching_rule(f: Findings) -> Flag | None:
    """A non-blanching rash with fever: possible meningococcal disease or sepsis.

    Source: NICE NG240 Meningitis (bacterial) and meningococcal disease: recognition,
    diagnosis and management (2024); NICE NG51 Sepsis: recognition, diagnosis and early
    management (2016, updated 2024).
    """
    if not (f.fever and f.non_blanching):
        return None
    return Flag(
        type="non_blanching_rash_with_fever",
        severity="high",
        description="Non-blanching rash with fever: possible meningococcal septicaemia. Emergency.",
        rule="Non-blanching rash with fever",
        source="NICE NG240 Meningitis (bacterial) and meningococcal disease (2024); "
        "NICE NG51 Sepsis",
        urgency="emergency",
    )


def immunosuppression_rule(f: Findings) -> Flag | None:
    """A new lesion (present under a year) in an immunosuppressed patient.

    Organ-transplant recipients and other immunosuppressed patients have a many-fold risk of
    squamous cell carcinoma (about 65 times), which grows faster and metastasises more, and of
    atypical skin infections; a new lesion needs prompt review.

    Source: Euvrard S, Kanitakis J, Claudy A. Skin cancers after organ transplantation. N Engl
    J Med 2003;348(17):1681-1691.
    """
    if not (f.immunosuppressed and f.new_lesion):
        return None
    return Flag(
        type="immunosuppressed_new_lesion",
        severity="medium",
        description="New skin lesion in an immunosuppressed patient: higher risk of SCC and of "
        "atypical infection.",
        rule="Immunosuppression with a new lesion",
        source="Euvrard S et al. Skin cancers after organ transplantation. "
        "N Engl J Med 2003;348:1681-91",
        urgency="medium",
    )


def suspected_cancer_rule(diagnoses: Sequence[dict[str, Any]]) -> Flag | None:
    """The differential (from ``diagnoses/predict``) suspects melanoma or SCC.

    Fires when melanoma or squamous cell carcinoma has a probability of at least 0.444 (the
    contract's "possible" tier).

    Source: NICE NG12 (2015), recs. 1.7.2 and 1.7.3: refer on the suspected-cancer pathway a
    lesion that raises the suspicion of melanoma or of squamous cell carcinoma.
    """
    for diagnosis in diagnoses:
        name = str(diagnosis.get("disease", "")).lower()
        icd10 = str(diagnosis.get("icd10") or "").upper()
        cancer = "melanoma" in name or "squamous cell" in name or icd10.startswith("C43")
        if cancer and float(diagnosis["probability"]) >= SUSPECTED_CANCER_PROBABILITY:
            return Flag(
                type="suspected_skin_cancer",
                severity="high",
                description=f"The differential suspects {diagnosis['disease']} "
                f"(probability {float(diagnosis['probability']):.2f}).",
                rule="Suspected melanoma or SCC in the differential (probability >= 0.444)",
                source="NICE NG12 Suspected cancer: recognition and referral (2015), "
                "recs. 1.7.2-1.7.3",
                urgency="high",
            )
    return None


#: The anamnesis rules, in the order their flags are listed.
ANAMNESIS_RULES: tuple[Callable[[Findings], Flag | None], ...] = (
    systemic_infection_rule,
    non_blanching_rule,
    abcde_rule,
    efg_rule,
    glasgow_rule,
    bleeding_rule,
    rapid_growth_rule,
    immunosuppression_rule,
)


def max_urgency(urgencies: Sequence[str]) -> str:
    """The highest of some urgencies (``low`` for none)."""
    return max(urgencies, key=URGENCY_ORDER.index, default="low")


def evaluate(findings: Findings, diagnoses: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Run every rule; the contract's ``RedFlags`` body.

    Returns ``{"hasRedFlags": bool, "flags": [flag, ...], "urgency": low|medium|high|emergency,
    "recommendation": str}``.
    """
    flags = [flag for rule in ANAMNESIS_RULES if (flag := rule(findings)) is not None]
    if (flag := suspected_cancer_rule(diagnoses)) is not None:
        flags.append(flag)
    urgency = max_urgency([flag.urgency for flag in flags])
    return {
        "hasRedFlags": bool(flags),
        "flags": [flag.to_json() for flag in flags],
        "urgency": urgency,
        "recommendation": RECOMMENDATIONS[urgency],
    }
