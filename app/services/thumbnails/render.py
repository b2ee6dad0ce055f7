"""Make a thumbnail JPEG of a stored photo with Pillow: bytes in, bytes out (no Flask, no I/O),
so that it can run in a native thread (:func:`app.concurrency.run_cpu_bound`)."""

from __future__ import annotations

import io

from PIL import Image

#: Longest side of a thumbnail, pixels. The largest place one is shown is a lesion timeline's
#: 120 × 90 CSS px box (``object-fit: cover``; the worklist's is 72 × 72): 240 × 180 device
#: pixels on a 2x (HiDPI) screen, which a 4:3 photo at 256 × 192 covers.
MAX_SIDE = 256
#: JPEG quality of a thumbnail (libjpeg scale): ~8-15 KB at 256 × 192 for a skin photo.
QUALITY = 80
#: A JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) still at least this many times
#: :data:`MAX_SIDE`, then resampled with Lanczos: a fraction of the full decode's time and
#: memory, without the aliasing of decoding straight to the target size.
_DRAFT_GAP = 2
#: What transparent pixels become (a thumbnail is a JPEG: no alpha).
_BACKGROUND = (255, 255, 255)


def render_thumbnail(original: bytes, *, max_side: int = MAX_SIDE) -> bytes:
    """Return a JPEG of ``original`` (a stored photo's bytes: JPEG or PNG) whose longest side
    is at most ``max_side`` pixels, aspect ratio kept, never enlarged.

    Colours: the photo's ICC profile is carried over (phones shoot in Display P3; without it
    erythema and pigment shift), except from a CMYK JPEG, whose pixels are converted to RGB.
    Transparency is flattened onto white. No metadata is copied (the original has none).

    Raises:
        PIL.UnidentifiedImageError, OSError, ValueError: ``original`` is not a decodable image.
    """
    with Image.open(io.BytesIO(original)) as source:
        source.draft("RGB", (max_side * _DRAFT_GAP, max_side * _DRAFT_GAP))  # JPEG only
        icc = source.info.get("icc_profile") if source.mode != "CMYK" else None
        image = _flattened(source)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=None)
        out = io.BytesIO()  # saved before ``source`` closes (``image`` may be ``source``)
        image.save(out, format="JPEG", quality=QUALITY, optimize=True, icc_profile=icc)
    return out.getvalue()


def _flattened(image: Image.Image) -> Image.Image:
    """``image`` as RGB or greyscale (L) pixels, transparency composited onto white."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if image.mode in ("RGB", "L"):
        image.load()
        return image
    return image.convert("RGB")
