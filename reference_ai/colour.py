"""Simple colour statistics of the lesion in a photo, for the transparent prediction.

The photo is reduced to at most 128 px. The surrounding skin is taken as the per-channel median
of an outer ring (the outer 10 % on each side); lesion pixels are those whose luma differs
from the skin's by more than 20 grey levels or whose RGB distance (L1) from it exceeds 60. Over
the lesion pixels the statistics below are computed. Nothing here is learnt; the statistics are
coarse cues (dark, blue-grey, red, purple, variegated), not a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

#: Longer side of the copy the statistics are computed on, in pixels.
SIDE_PX = 128
#: Share of each side that forms the ring taken as surrounding skin.
RING_SHARE = 0.1
#: A pixel belongs to the lesion when it differs from the skin by this much in luma (0–255) ...
LESION_LUMA_DELTA = 20
#: ... or by this much in summed absolute RGB difference.
LESION_RGB_DELTA = 60
#: Luma (0–255) below which a lesion pixel counts as dark (black/dark-brown pigment).
DARK_LUMA = 80
#: Luma standard deviation (0–255) of the lesion at which variegation reaches 1.
VARIEGATION_FULL_SD = 60.0
#: Skin-minus-lesion luma difference at which darkness reaches 1.
DARKNESS_FULL_DELTA = 80.0


@dataclass(frozen=True)
class ColourStats:
    """Lesion colour cues, each in 0–1.

    ``lesion_share``: share of the photo that is lesion; ``darkness``: how much darker the
    lesion is than the skin; ``dark_share``: share of lesion pixels with luma < 80;
    ``blue_grey_share``: share of lesion pixels whose blue is at least their green and near
    their red (blue-grey, blue-white veil); ``red_share``: share of clearly red lesion pixels
    (R exceeds G by 60 and B by 40); ``purple``: how much the lesion's blue exceeds its green
    on average (vascular purple); ``variegation``: spread of luma within the lesion.
    """

    lesion_share: float
    darkness: float
    dark_share: float
    blue_grey_share: float
    red_share: float
    purple: float
    variegation: float

    def as_features(self) -> dict[str, float]:
        """The statistics as named prediction features (``img_*``)."""
        return {
            "img_lesion_share": self.lesion_share,
            "img_darkness": self.darkness,
            "img_dark": self.dark_share,
            "img_blue_grey": self.blue_grey_share,
            "img_red": self.red_share,
            "img_purple": self.purple,
            "img_variegation": self.variegation,
        }


NO_LESION = ColourStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _luma(pixel: tuple[int, int, int]) -> float:
    red, green, blue = pixel
    return 0.299 * red + 0.587 * green + 0.114 * blue


def _median(values: list[int]) -> int:
    return sorted(values)[len(values) // 2]


def colour_stats(rgb: Image.Image) -> ColourStats:
    """Compute :class:`ColourStats` for an RGB photo."""
    small = rgb.copy()
    small.thumbnail((SIDE_PX, SIDE_PX), Image.Resampling.BILINEAR)
    width, height = small.size
    pixels: list[tuple[int, int, int]] = list(small.get_flattened_data())
    ring_w, ring_h = max(1, int(width * RING_SHARE)), max(1, int(height * RING_SHARE))
    ring = [
        p
        for i, p in enumerate(pixels)
        if not (ring_w <= i % width < width - ring_w and ring_h <= i // width < height - ring_h)
    ]
    skin = tuple(_median([p[c] for p in ring]) for c in range(3))
    skin_luma = _luma(skin)
    lesion = [
        p
        for p in pixels
        if abs(_luma(p) - skin_luma) > LESION_LUMA_DELTA
        or sum(abs(p[c] - skin[c]) for c in range(3)) > LESION_RGB_DELTA
    ]
    if len(lesion) < 0.01 * len(pixels):
        return NO_LESION
    lumas = [_luma(p) for p in lesion]
    mean_luma = sum(lumas) / len(lumas)
    sd_luma = (sum((v - mean_luma) ** 2 for v in lumas) / len(lumas)) ** 0.5
    n = len(lesion)
    mean_green = sum(p[1] for p in lesion) / n
    mean_blue = sum(p[2] for p in lesion) / n
    return ColourStats(
        lesion_share=n / len(pixels),
        darkness=max(0.0, min(1.0, (skin_luma - mean_luma) / DARKNESS_FULL_DELTA)),
        dark_share=sum(1 for v in lumas if v < DARK_LUMA) / n,
        blue_grey_share=sum(1 for r, g, b in lesion if b >= g and b > r - 10) / n,
        red_share=sum(1 for r, g, b in lesion if r > g + 60 and r > b + 40) / n,
        purple=max(0.0, min(1.0, (mean_blue - mean_green) / 64)),
        variegation=min(1.0, sd_luma / VARIEGATION_FULL_SD),
    )


def mean_stats(all_stats: list[ColourStats]) -> ColourStats:
    """The field-wise mean of several photos' statistics (:data:`NO_LESION` for none)."""
    if not all_stats:
        return NO_LESION
    fields = ColourStats.__dataclass_fields__
    return ColourStats(
        **{name: sum(getattr(s, name) for s in all_stats) / len(all_stats) for name in fields}
    )
