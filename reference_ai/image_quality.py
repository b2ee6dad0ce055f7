"""Image quality: four real measurements on the decoded photo, each turned into a 0–1 score.

=============  ===================================================================================
measurement    how
=============  ===================================================================================
resolution     the shorter side in pixels; below 224 px (the input size of common skin models)
               the photo is rejected
lighting       mean luminance (ITU-R 601 luma, 0–255) and the share of clipped pixels (≤ 15 or
               ≥ 245); too dark, too bright or mostly clipped is rejected
blur           variance of ``ImageFilter.FIND_EDGES`` (a 3×3 Laplacian) on a greyscale copy whose
               longer side is 256 px (the 1-px border, where the filter is undefined, is cut);
               a sharp photo has strong edges, an out-of-focus one almost none
framing        the centroid of "contrast": each pixel of a 128 px greyscale copy weighs its
               absolute difference from the median grey level (the lesion differs from the
               skin around it); the centroid's distance from the image centre, as a fraction
               of the image size, says whether the lesion is centred
=============  ===================================================================================

Every score is 1 for a good photo and 0.5 exactly at the rejection threshold, so "score < 0.5"
and "issue raised" are the same statement. The thresholds were tuned on the project's sample
photos (see README.md): all eight real photos pass with margin; the blurred, underexposed and
32×32 copies fail on blur, lighting and resolution respectively.

When the lighting is unusable, blur and framing cannot be judged (a nearly black photo has no
edges and no contrast), so only the lighting issue is raised; their scores are still reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageFilter, ImageStat

from reference_ai.colour import histogram_median
from reference_ai.images import DecodedImage

#: Shorter side below which the photo is rejected, in pixels.
MIN_SIDE_PX = 224
#: Shorter side from which resolution scores 1, in pixels.
GOOD_SIDE_PX = 384

#: Mean luminance (0–255) below which the photo is too dark (score 0.5), and where it scores 0/1.
DARK_MEAN = 40.0
DARK_MEAN_ZERO = 10.0
DARK_MEAN_GOOD = 70.0
#: Mean luminance above which the photo is too bright (score 0.5), and where it scores 0/1.
BRIGHT_MEAN = 225.0
BRIGHT_MEAN_ZERO = 250.0
BRIGHT_MEAN_GOOD = 200.0
#: Share of clipped pixels (luma ≤ 15 or ≥ 245) at which lighting fails (0.5), and scores 1/0.
CLIPPED_SHARE = 0.5
CLIPPED_SHARE_GOOD = 0.25
CLIPPED_DARK, CLIPPED_BRIGHT = 15, 245

#: Longer side of the greyscale copy the edge filter runs on, in pixels.
BLUR_SIDE_PX = 256
#: Edge variance below which the photo is too blurry (score 0.5).
BLUR_MIN_EDGE_VARIANCE = 8.0
#: Factor of edge variance between the threshold and a score of 0 (or 1).
BLUR_SPAN = 8.0

#: Longer side of the greyscale copy the framing centroid is computed on, in pixels.
FRAMING_SIDE_PX = 128
#: Centroid offset from the centre (fraction of the image size) above which framing fails.
FRAMING_MAX_OFFSET = 0.18
#: Mean absolute difference from the median grey (0–255) below which no lesion stands out.
FRAMING_MIN_CONTRAST = 2.0

#: Weights of the sub-scores in the overall ``score``.
WEIGHTS = {"blur": 0.35, "lighting": 0.25, "framing": 0.2, "resolution": 0.2}

ISSUE_RESOLUTION = "Image resolution is too low"
ISSUE_LIGHTING = "Poor lighting detected"
ISSUE_BLUR = "Image is too blurry"
ISSUE_FRAMING = "Lesion not properly framed"


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def _ramp(value: float, zero: float, good: float) -> float:
    """0 at ``zero``, 1 at ``good``, linear between (either direction)."""
    return _clamp((value - zero) / (good - zero))


@dataclass(frozen=True)
class Measurements:
    """Raw measurements of one photo (units in the field names' comments)."""

    width: int  # px, upright
    height: int  # px, upright
    mean_luminance: float  # 0-255
    clipped_dark_share: float  # 0-1, luma <= 15
    clipped_bright_share: float  # 0-1, luma >= 245
    edge_variance: float  # variance of FIND_EDGES on the 256-px greyscale copy
    centroid_offset: float  # 0-~0.7, fraction of the image size
    contrast: float  # 0-255, mean |grey - median grey| on the 128-px copy


def measure(image: DecodedImage) -> Measurements:
    """Take the four measurements of a decoded photo."""
    grey = image.rgb.convert("L")
    histogram = grey.histogram()
    pixels = grey.width * grey.height
    edge_variance = _edge_variance(grey)
    offset, contrast = _contrast_centroid(grey)
    return Measurements(
        width=image.width,
        height=image.height,
        mean_luminance=ImageStat.Stat(histogram).mean[0],
        clipped_dark_share=sum(histogram[: CLIPPED_DARK + 1]) / pixels,
        clipped_bright_share=sum(histogram[CLIPPED_BRIGHT:]) / pixels,
        edge_variance=edge_variance,
        centroid_offset=offset,
        contrast=contrast,
    )


def _edge_variance(grey: Image.Image) -> float:
    small = grey.copy()
    small.thumbnail((BLUR_SIDE_PX, BLUR_SIDE_PX), Image.Resampling.BILINEAR)
    edges = small.filter(ImageFilter.FIND_EDGES)
    if edges.width > 2 and edges.height > 2:
        edges = edges.crop((1, 1, edges.width - 1, edges.height - 1))
    return ImageStat.Stat(edges).var[0]


def _contrast_centroid(grey: Image.Image) -> tuple[float, float]:
    """Distance of the contrast centroid from the centre (fraction of size), mean contrast."""
    small = grey.copy()
    small.thumbnail((FRAMING_SIDE_PX, FRAMING_SIDE_PX), Image.Resampling.BILINEAR)
    width, height = small.size
    count = width * height
    median = histogram_median(small.histogram(), count)
    # Each pixel's weight |grey - median| as a byte; the weighted sums are exact integers.
    weights = small.point([abs(value - median) for value in range(256)]).tobytes()
    total = float(sum(weights))
    sum_x = float(sum(x * sum(weights[x::width]) for x in range(width)))
    sum_y = float(sum(y * sum(weights[y * width : (y + 1) * width]) for y in range(height)))
    contrast = total / count
    if total == 0:
        return 0.0, 0.0
    dx = (sum_x / total - (width - 1) / 2) / width
    dy = (sum_y / total - (height - 1) / 2) / height
    return math.hypot(dx, dy), contrast


def resolution_score(m: Measurements) -> float:
    """1 from 384 px on the shorter side, 0.5 at 224 px, 0 at 64 px."""
    return _ramp(min(m.width, m.height), 2 * MIN_SIDE_PX - GOOD_SIDE_PX, GOOD_SIDE_PX)


def lighting_score(m: Measurements) -> float:
    """1 for a mean luma in 70–200 with few clipped pixels; 0.5 at 40, 225 or half clipped."""
    if m.mean_luminance < DARK_MEAN_GOOD:
        exposure = _ramp(m.mean_luminance, DARK_MEAN_ZERO, DARK_MEAN_GOOD)
    else:
        exposure = _ramp(m.mean_luminance, BRIGHT_MEAN_ZERO, BRIGHT_MEAN_GOOD)
    clipped = max(m.clipped_dark_share, m.clipped_bright_share)
    clipping = _ramp(clipped, 2 * CLIPPED_SHARE - CLIPPED_SHARE_GOOD, CLIPPED_SHARE_GOOD)
    return min(exposure, clipping)


def blur_score(m: Measurements) -> float:
    """0.5 at an edge variance of 8, on a log scale: 1 from 64 up, 0 at 1 and below."""
    if m.edge_variance <= 0:
        return 0.0
    return _clamp(0.5 + 0.5 * math.log(m.edge_variance / BLUR_MIN_EDGE_VARIANCE, BLUR_SPAN))


def framing_score(m: Measurements) -> float:
    """1 for contrast centred, 0.5 at an offset of 0.18 of the image size, 0 at 0.36.

    A photo in which nothing stands out from the skin (mean contrast below 2 grey levels)
    scores 0: there is no lesion to frame.
    """
    if m.contrast < FRAMING_MIN_CONTRAST:
        return 0.0
    return _clamp(1 - m.centroid_offset / (2 * FRAMING_MAX_OFFSET))


def assess(image: DecodedImage) -> dict:
    """The contract's ``ImageValidity`` body for a decoded photo.

    Returns ``{"isValid": bool, "score": 0-1, "issues": [str], "feedback": {"blur",
    "lighting", "framing", "resolution": 0-1}, "measurements": {...}}``; ``score`` is the
    weighted mean of the feedback (:data:`WEIGHTS`), ``isValid`` is "no issue raised".
    """
    m = measure(image)
    feedback = {
        "blur": blur_score(m),
        "lighting": lighting_score(m),
        "framing": framing_score(m),
        "resolution": resolution_score(m),
    }
    issues = []
    if feedback["resolution"] < 0.5:
        issues.append(ISSUE_RESOLUTION)
    if feedback["lighting"] < 0.5:
        issues.append(ISSUE_LIGHTING)
    else:
        if feedback["blur"] < 0.5:
            issues.append(ISSUE_BLUR)
        if feedback["framing"] < 0.5:
            issues.append(ISSUE_FRAMING)
    score = sum(WEIGHTS[key] * value for key, value in feedback.items())
    return {
        "isValid": not issues,
        "score": round(score, 4),
        "issues": issues,
        "feedback": {key: round(value, 4) for key, value in feedback.items()},
        "measurements": {
            "width": m.width,
            "height": m.height,
            "meanLuminance": round(m.mean_luminance, 2),
            "clippedDarkShare": round(m.clipped_dark_share, 4),
            "clippedBrightShare": round(m.clipped_bright_share, 4),
            "edgeVariance": round(m.edge_variance, 2),
            "centroidOffset": round(m.centroid_offset, 4),
            "contrast": round(m.contrast, 2),
        },
    }
