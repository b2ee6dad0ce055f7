"""Simple colour statistics of the lesion in a photo, for the transparent prediction.

The photo is reduced to at most 128 px. The surrounding skin is taken as the per-channel median
of an outer ring (the outer 10 % on each side); lesion pixels are those whose luma differs
from the skin's by more than 20 grey levels or whose RGB distance (L1) from it exceeds 60. Over
the lesion pixels the statistics below are computed. Nothing here is learnt; the statistics are
coarse cues (dark, blue-grey, red, purple, variegated), not a classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress

from PIL import Image, ImageChops

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


#: The three terms of :func:`_luma` for every channel value, so that ``_RED_LUMA[r] +
#: _GREEN_LUMA[g] + _BLUE_LUMA[b]`` is ``_luma((r, g, b))`` to the last bit.
_RED_LUMA = tuple(0.299 * value for value in range(256))
_GREEN_LUMA = tuple(0.587 * value for value in range(256))
_BLUE_LUMA = tuple(0.114 * value for value in range(256))
#: Distance (0–255) from the luma threshold beyond which Pillow's integer ``convert("L")``
#: settles the luma test: it differs from :func:`_luma` by at most 0.501 (all 2^24 colours,
#: Pillow 13), so a margin of 1 is safe.
_GREY_MARGIN = 1
#: Pixel values of the lesion test: settled no, not settled by the greyscale, settled yes.
_NEAR, _BORDERLINE, _FAR = 0, 1, 255


def _table(test: Callable[[int], bool]) -> list[int]:
    """A ``point`` table: 255 for the byte values (0–255) that pass ``test``, else 0."""
    return [255 if test(value) else 0 for value in range(256)]


#: Per-channel ``|channel - skin|`` capped at ``LESION_RGB_DELTA + 1``: three of them add up
#: within a byte, and the sum exceeds ``LESION_RGB_DELTA`` exactly when the uncapped one does.
_CAP_RGB_DELTA = [min(value, LESION_RGB_DELTA + 1) for value in range(256)] * 3
_RGB_FAR = _table(lambda value: value > LESION_RGB_DELTA)
#: Tests on ``ImageChops.subtract`` differences (negative ones clip to 0) that mark the pixels
#: failing the blue-grey test (``g - b > 0``: not "b >= g"; ``r - b >= 10``: not "b > r - 10")
#: and the red test (``r - g <= 60``: not "r > g + 60"; ``r - b <= 40``: not "r > b + 40").
_NOT_BLUE_AT_LEAST_GREEN = _table(lambda value: value > 0)
_NOT_BLUE_ABOVE_RED_MINUS_10 = _table(lambda value: value >= 10)
_NOT_RED_OVER_GREEN = _table(lambda value: value <= 60)
_NOT_RED_OVER_BLUE = _table(lambda value: value <= 40)


def histogram_median(histogram: list[int], count: int) -> int:
    """``sorted(values)[count // 2]`` of ``count`` values given as a 256-bin histogram.

    Raises:
        ValueError: the histogram holds fewer than ``count // 2 + 1`` values.
    """
    seen = 0
    for value, number in enumerate(histogram):
        seen += number
        if seen > count // 2:
            return value
    raise ValueError("empty histogram")


def _skin(small: Image.Image) -> tuple[int, int, int]:
    """Per-channel median of the ring (the histogram of the whole minus that of the inside)."""
    width, height = small.size
    ring_w, ring_h = max(1, int(width * RING_SHARE)), max(1, int(height * RING_SHARE))
    histogram = small.histogram()
    count = width * height
    if ring_w < width - ring_w and ring_h < height - ring_h:
        inside = small.crop((ring_w, ring_h, width - ring_w, height - ring_h))
        histogram = [
            whole - inner for whole, inner in zip(histogram, inside.histogram(), strict=True)
        ]
        count -= inside.width * inside.height
    red, green, blue = (histogram_median(histogram[c : c + 256], count) for c in (0, 256, 512))
    return red, green, blue


def _lesion_mask(small: Image.Image, skin: tuple[int, int, int], skin_luma: float) -> bytes:
    """One byte per pixel, in order: 255 for a lesion pixel, 0 for skin.

    The RGB (L1) test is exact in Pillow (capped per-channel differences, added). The luma test
    is settled by Pillow's integer greyscale where that is more than :data:`_GREY_MARGIN` from
    the threshold, and by :func:`_luma` (the same float) for the few pixels in between.
    """
    differences = ImageChops.difference(small, Image.new("RGB", small.size, skin))
    red, green, blue = differences.point(_CAP_RGB_DELTA).split()
    rgb_far = ImageChops.add_modulo(ImageChops.add_modulo(red, green), blue).point(_RGB_FAR)
    grey_test = []
    for grey in range(256):
        delta = abs(grey - skin_luma)
        if delta > LESION_LUMA_DELTA + _GREY_MARGIN:
            grey_test.append(_FAR)
        elif delta < LESION_LUMA_DELTA - _GREY_MARGIN:
            grey_test.append(_NEAR)
        else:
            grey_test.append(_BORDERLINE)
    luma_far = small.convert("L").point(grey_test)
    mask = bytearray(ImageChops.lighter(rgb_far, luma_far).tobytes())
    index = mask.find(_BORDERLINE)
    if index >= 0:
        data = small.tobytes()
        red_luma, green_luma, blue_luma = _RED_LUMA, _GREEN_LUMA, _BLUE_LUMA
        while index >= 0:
            r, g, b = data[3 * index : 3 * index + 3]
            luma = red_luma[r] + green_luma[g] + blue_luma[b]
            mask[index] = _FAR if abs(luma - skin_luma) > LESION_LUMA_DELTA else _NEAR
            index = mask.find(_BORDERLINE, index + 1)
    return bytes(mask)


def colour_stats(rgb: Image.Image) -> ColourStats:
    """Compute :class:`ColourStats` for an RGB photo."""
    small = rgb.copy()
    small.thumbnail((SIDE_PX, SIDE_PX), Image.Resampling.BILINEAR)
    count = small.width * small.height
    skin = _skin(small)
    skin_luma = _luma(skin)
    mask = _lesion_mask(small, skin, skin_luma)
    n = count - mask.count(_NEAR)
    if n < 0.01 * count:
        return NO_LESION
    # Lumas of the lesion pixels in pixel order (their float sums depend on the order).
    data = small.tobytes()
    red_luma, green_luma, blue_luma = _RED_LUMA, _GREEN_LUMA, _BLUE_LUMA
    lumas = [
        red_luma[r] + green_luma[g] + blue_luma[b]
        for r, g, b in zip(
            compress(data[0::3], mask),
            compress(data[1::3], mask),
            compress(data[2::3], mask),
            strict=True,
        )
    ]
    mean_luma = sum(lumas) / n
    sd_luma = (sum((v - mean_luma) ** 2 for v in lumas) / n) ** 0.5
    # Integer counts and sums over the lesion pixels (exact in any order): Pillow histograms
    # masked by the lesion; a pixel fails a cue's test where its test image is non-zero.
    lesion = Image.frombytes("L", small.size, mask)
    histogram = small.histogram(mask=lesion)
    sum_green = sum(value * number for value, number in enumerate(histogram[256:512]))
    sum_blue = sum(value * number for value, number in enumerate(histogram[512:]))
    red, green, blue = small.split()
    red_minus_blue = ImageChops.subtract(red, blue)
    not_blue_grey = ImageChops.lighter(
        ImageChops.subtract(green, blue).point(_NOT_BLUE_AT_LEAST_GREEN),
        red_minus_blue.point(_NOT_BLUE_ABOVE_RED_MINUS_10),
    )
    not_red = ImageChops.lighter(
        ImageChops.subtract(red, green).point(_NOT_RED_OVER_GREEN),
        red_minus_blue.point(_NOT_RED_OVER_BLUE),
    )
    return ColourStats(
        lesion_share=n / count,
        darkness=max(0.0, min(1.0, (skin_luma - mean_luma) / DARKNESS_FULL_DELTA)),
        dark_share=sum(1 for v in lumas if v < DARK_LUMA) / n,
        blue_grey_share=not_blue_grey.histogram(mask=lesion)[0] / n,
        red_share=not_red.histogram(mask=lesion)[0] / n,
        purple=max(0.0, min(1.0, (sum_blue / n - sum_green / n) / 64)),
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
