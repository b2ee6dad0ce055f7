"""Concordance statistics: how often the AI agreed with the physician and with histology.

``malignant`` names the malignant ICD-10 set and its source; ``figures`` computes every figure
from reviewed cases (pure); ``concordance`` loads the cases a query selects; ``plot`` draws the
calibration plot as SVG.
"""

from app.services.stats.concordance import Filters, concordance, model_versions
from app.services.stats.figures import Concordance, Rate
from app.services.stats.malignant import MALIGNANT_ICD10, is_malignant

__all__ = [
    "MALIGNANT_ICD10",
    "Concordance",
    "Filters",
    "Rate",
    "concordance",
    "is_malignant",
    "model_versions",
]
