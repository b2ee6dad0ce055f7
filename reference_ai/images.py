"""Getting a safe, decoded RGB image out of a request's image object.

An image object is ``{"imageData": "<base64>", "contentType": "image/jpeg"}`` or
``{"imageUrl": "<http(s) URL>"}``. The bytes are sniffed (the content type is not trusted),
checked against a pixel budget from the header *before* decoding (decompression bombs), fully
decoded (truncated files are rejected), turned upright by their EXIF orientation and converted
to RGB (alpha is dropped, not composited: the colours under transparent pixels are kept).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from reference_ai.errors import InputError

#: Largest image accepted, in pixels (width × height), checked from the header before decoding.
MAX_PIXELS = 40_000_000
#: Largest encoded image accepted, in bytes (the gateway's own limit is 10 MB by default).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: Formats accepted after sniffing (the gateway converts HEIC to JPEG before calling).
FORMATS = ("JPEG", "PNG", "WEBP")
#: Timeout for fetching ``imageUrl``, in seconds.
URL_TIMEOUT_S = 5.0
#: Longest side an image is decoded at: JPEG "draft" mode decodes at 1/2, 1/4 or 1/8 scale when
#: that is still at least this large, which keeps large photos cheap; every measurement here
#: works on images of at most 512 px anyway.
DECODE_SIDE_PX = 1024

#: EXIF orientations that turn the image by 90 degrees (width and height swap when upright).
_ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})
_DATA_URL = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image: upright RGB pixels plus the facts of the original file.

    ``width`` and ``height`` are the original upright size in pixels (before any draft-mode
    reduction); ``format`` is the sniffed Pillow format name.
    """

    rgb: Image.Image
    width: int
    height: int
    format: str


def decode_base64(data: Any) -> bytes:
    """Decode ``imageData`` (plain base64 or a ``data:`` URL; whitespace ignored).

    Raises:
        InputError: 400 if it is not a non-empty string of valid base64.
    """
    if not isinstance(data, str) or not data.strip():
        raise InputError(400, "imageData must be a non-empty base64 string")
    text = _DATA_URL.sub("", data.strip())
    text = "".join(text.split())  # the same whitespace as r"\s" (str.isspace), without a regex
    if len(text) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise InputError(422, f"image larger than {MAX_IMAGE_BYTES} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InputError(400, "imageData is not valid base64") from error
    if not raw:
        raise InputError(400, "imageData is empty")
    return raw


def fetch_url(url: Any, *, timeout: float = URL_TIMEOUT_S) -> bytes:
    """Fetch ``imageUrl`` (http or https only) with a short timeout and a size cap.

    Raises:
        InputError: 422 if the URL is not http(s), cannot be fetched, or is too large.
    """
    if not isinstance(url, str) or not re.match(r"^https?://", url, re.IGNORECASE):
        raise InputError(422, "imageUrl must be an http or https URL")
    try:
        # The scheme is checked above: only http(s) reaches urlopen.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            raw = response.read(MAX_IMAGE_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise InputError(422, f"imageUrl could not be fetched: {error}") from error
    if len(raw) > MAX_IMAGE_BYTES:
        raise InputError(422, f"image larger than {MAX_IMAGE_BYTES} bytes")
    if not raw:
        raise InputError(422, "imageUrl returned an empty body")
    return raw


def open_image(raw: bytes) -> DecodedImage:
    """Decode image bytes safely into an upright RGB image.

    Raises:
        InputError: 422 if the bytes are not a JPEG/PNG/WebP image, exceed :data:`MAX_PIXELS`
            (checked from the header, before decoding), or are truncated or corrupt.
    """
    try:
        # Pillow warns (DecompressionBombWarning) above its own limit and raises at twice it;
        # turn the warning into an error here, so a bomb is never decoded. (catch_warnings
        # swaps the process-wide filters; a concurrent request can at worst see this one
        # extra "error" filter for that single warning category, which is what we want anyway.)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputError(422, f"image has too many pixels (limit {MAX_PIXELS})") from error
    except UnidentifiedImageError as error:
        raise InputError(422, "not an image: expected JPEG, PNG or WebP data") from error
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(
            422, f"image is {width}x{height} = {width * height} pixels; limit {MAX_PIXELS}"
        )
    image_format = image.format or ""
    try:
        if image.getexif().get(ExifTags.Base.Orientation, 1) in _ROTATED_ORIENTATIONS:
            width, height = height, width
        image.draft("RGB", (DECODE_SIDE_PX, DECODE_SIDE_PX))
        image.load()
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(422, f"image data is truncated or corrupt: {error}") from error
    return DecodedImage(rgb=rgb, width=width, height=height, format=image_format)


def load_image(obj: Any) -> DecodedImage:
    """Decode one image object of a request (``imageData`` or ``imageUrl``).

    Raises:
        InputError: 422 if ``obj`` is not an object with ``imageData`` or ``imageUrl``; see
            :func:`decode_base64`, :func:`fetch_url` and :func:`open_image` for the rest.
    """
    if not isinstance(obj, dict):
        raise InputError(422, "an image must be an object with imageData or imageUrl")
    if obj.get("imageData") is not None:
        return open_image(decode_base64(obj["imageData"]))
    if obj.get("imageUrl") is not None:
        return open_image(fetch_url(obj["imageUrl"]))
    raise InputError(422, "imageData (base64) or imageUrl is required")
