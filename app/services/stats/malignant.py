"""Which ICD-10 codes count as a malignant skin diagnosis for the concordance statistics.

Source: WHO, *ICD-10, International Statistical Classification of Diseases and Related Health
Problems, 10th revision* (2019 edition), chapter II:

- ``C43`` malignant melanoma of skin;
- ``C44`` other malignant neoplasms of skin (basal cell and squamous cell carcinoma, Merkel
  cell carcinoma and the rest);
- ``C46`` Kaposi sarcoma;
- ``D03`` melanoma in situ and ``D04`` carcinoma in situ of skin (Bowen disease): not invasive,
  but they are treated and referred as skin cancer (NICE NG12 1.7 refers suspected melanoma
  and squamous cell carcinoma, which includes the in-situ forms), so a triage that missed
  them missed a cancer.

Codes are compared by their three-character category (``C43.9`` → ``C43``).
"""

from __future__ import annotations

#: Three-character ICD-10 categories counted as malignant skin disease (see the module).
MALIGNANT_ICD10: frozenset[str] = frozenset({"C43", "C44", "C46", "D03", "D04"})


def is_malignant(icd10: str | None) -> bool | None:
    """Whether an ICD-10 code is a malignant skin diagnosis; ``None`` without a code."""
    code = (icd10 or "").strip().upper()
    if not code:
        return None
    return code[:3] in MALIGNANT_ICD10
