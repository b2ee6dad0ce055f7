"""Image intake: turn an uploaded file into a safe, storage-ready lesion photograph.

``process_image`` decides the type by decoding with Pillow (never by file name or the client's
content type), enforces the byte, pixel and minimum-side limits, applies the EXIF orientation to the
pixels and removes every metadata block (EXIF with GPS, XMP, IPTC, comments, embedded thumbnails,
multi-picture and "motion photo" trailers) before anything is stored.

What is kept, and why:

* **Pixels are left untouched wherever the format allows.** A JPEG that needs no rotation is not
  re-encoded: its marker segments are rewritten byte by byte and the entropy-coded scans are copied
  verbatim, so a second generation of JPEG loss never reaches the dermatologist or the model.
* **ICC colour profiles are kept** (JPEG ``APP2 ICC_PROFILE``, PNG ``iCCP``, the HEIC profile).
  Phone cameras shoot in Display P3; dropping the profile would shift the colour of erythema and
  pigment, which matter clinically. A profile describes a colour space, not the patient or place.
* **The JPEG ``APP14 Adobe`` segment is kept**: it tells the decoder which colour transform the
  scans use (RGB vs YCbCr, CMYK vs YCCK); without it colours decode wrongly. It holds no metadata.
* **A transparent PNG stays a transparent PNG** (RGBA is stored as RGBA, lossless); flattening is a
  presentation decision for the viewer or the AI Service, not for intake.

Memory: the upload is copied in 64 KiB chunks into a spooled temporary file (on disk past 1 MiB) and
the output is written the same way, so neither is held in memory. A JPEG without rotation is
checked by a full decode at 1/8 scale (libjpeg DCT scaling: the whole entropy-coded stream is
decoded, so truncation is caught, but the pixel buffer is 1/64 of the full size). Full-size decoding
happens only where it is unavoidable: JPEG rotation, PNG re-encoding and HEIC conversion (about
twice the decoded size at peak for a rotation: the source and the rotated copy).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from PIL import ExifTags, Image, ImageOps, JpegImagePlugin

from app.errors import (
    ImageCorrupt,
    ImageEmpty,
    ImageTooLarge,
    ImageTooSmall,
    PayloadTooLarge,
    UnsupportedImageType,
)

logger = logging.getLogger(__name__)

#: Read and copy granularity, bytes.
CHUNK_BYTES = 64 * 1024
#: Spooled temporary files stay in memory up to this size, bytes, then move to disk.
SPOOL_MEMORY_BYTES = 1024 * 1024
#: JPEG quality used when the pixels must be re-encoded (rotation, HEIC conversion).
REENCODE_QUALITY = 95

# Errors Pillow (and pillow-heif, which raises RuntimeError/ValueError from libheif) may raise while
# parsing or decoding hostile input. UnidentifiedImageError is an OSError.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    RuntimeError,
    struct.error,
    zlib.error,
)

_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# ISO-BMFF major brands of HEIF/HEIC still images and sequences (ISO/IEC 23008-12).
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_ACCEPTED_TYPES = ["image/jpeg", "image/png", "image/heic", "image/heif"]


@dataclass(frozen=True)
class ProcessedImage:
    """A cleaned image ready for storage.

    ``file`` is a spooled temporary file (in memory up to 1 MiB, then on disk) positioned at the
    start; the caller owns it and must close it (``with processed: ...`` or ``processed.close()``).
    ``width``/``height`` are those of the stored, upright image in pixels; ``size_bytes`` and
    ``sha256`` (lower-case hex) describe exactly the bytes in ``file``.
    """

    file: IO[bytes]
    content_type: str  # "image/jpeg" | "image/png"
    extension: str  # "jpg" | "png"
    width: int
    height: int
    size_bytes: int
    sha256: str

    def stream(self) -> IO[bytes]:
        """Return ``file`` rewound to its first byte, ready to upload."""
        self.file.seek(0)
        return self.file

    def read_bytes(self) -> bytes:
        """Return the whole stored content (small images, tests); prefer ``stream()``."""
        return self.stream().read()

    def close(self) -> None:
        """Release the temporary file."""
        self.file.close()

    def __enter__(self) -> ProcessedImage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def process_image(
    stream: BinaryIO,
    *,
    max_bytes: int,
    max_pixels: int = 40_000_000,
    min_side: int = 64,
) -> ProcessedImage:
    """Validate an uploaded image and return it upright, metadata-free and ready to store.

    Args:
        stream: the upload, read from its current position in 64 KiB chunks; not closed.
        max_bytes: largest accepted upload in bytes; reading stops as soon as it is exceeded.
        max_pixels: largest accepted width × height, checked from the header before decoding.
        min_side: smallest accepted width and height in pixels.

    Returns:
        ProcessedImage: JPEG (for JPEG and HEIC/HEIF input) or PNG (for PNG input).

    Raises:
        PayloadTooLarge: 413 ``payload_too_large``, more than ``max_bytes``.
        ImageEmpty: 422 ``image_empty``, a 0-byte upload.
        UnsupportedImageType: 415 ``unsupported_image_type``, not a JPEG, PNG or HEIC/HEIF image.
        ImageTooLarge: 422 ``image_too_large``, more than ``max_pixels``.
        ImageTooSmall: 422 ``image_too_small``, a side shorter than ``min_side``.
        ImageCorrupt: 422 ``image_corrupt``, a supported type that is truncated or damaged.
    """
    source = _spool_upload(stream, max_bytes)
    try:
        head = source.read(32)
        source.seek(0)
        if not head:
            raise ImageEmpty(
                "The uploaded file is empty (0 bytes); please choose the photo again.",
            )
        kind = _sniff(head)
        image = _open(source, kind, head, max_pixels)
        try:
            width, height = image.size
            _check_dimensions(width, height, max_pixels=max_pixels, min_side=min_side)
            if image.format in ("JPEG", "MPO"):
                return _process_jpeg(image, source)
            if image.format == "PNG":
                return _process_png(image)
            return _process_heif(image)
        finally:
            image.close()
    finally:
        source.close()


# --- intake ---------------------------------------------------------------------------------


def _spool_upload(stream: BinaryIO, max_bytes: int) -> IO[bytes]:
    """Copy ``stream`` into a spooled temporary file; stop as soon as ``max_bytes`` is passed."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (returned)
    total = 0
    try:
        while chunk := stream.read(CHUNK_BYTES):
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(
                    f"The image file is larger than {format_bytes(max_bytes)}; "
                    "please upload a smaller photo.",
                    details={"max_bytes": max_bytes},
                )
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def format_bytes(n: int) -> str:
    """Return ``n`` bytes as a short human size: "10 MB", "2.5 MB", "500 KB" (binary units)."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    if n >= 1024:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{n} bytes"


def _sniff(head: bytes) -> str | None:
    """Name the file type from its first bytes (only to choose decoders and word messages)."""
    if head.startswith(_JPEG_SIGNATURE):
        return "JPEG"
    if head.startswith(_PNG_SIGNATURE):
        return "PNG"
    if head[4:8] == b"ftyp":
        return "HEIF" if head[8:12] in _HEIF_BRANDS else "ISOBMFF"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith(b"%PDF"):
        return "PDF"
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":
        return "BMP"
    return None


@functools.cache
def _register_heif_opener() -> None:
    """Teach Pillow to read HEIC/HEIF (iPhone photos) through pillow-heif, once per process."""
    import pillow_heif

    # Thumbnails, depth maps and auxiliary images are never used: do not even index them.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _open(source: IO[bytes], kind: str | None, head: bytes, max_pixels: int) -> Image.Image:
    """Open (parse the header of, without decoding) a JPEG, PNG or HEIF image."""
    formats = ["JPEG", "PNG"]
    if kind in ("HEIF", "ISOBMFF"):
        _register_heif_opener()
        formats.append("HEIF")
    try:
        image = Image.open(source, formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (> 89 Mpx warns, > 179 Mpx refuses) fired before ours could: same
        # answer. MAX_IMAGE_PIXELS is never lifted; the warning only escalates where warnings
        # are errors (the test suite), otherwise the size check below rejects the image.
        raise _too_large(*_png_header_size(head), max_pixels=max_pixels) from exc
    except _DECODE_ERRORS as exc:
        if kind in ("JPEG", "PNG", "HEIF"):
            raise _corrupt() from exc
        looks_like = f" (it looks like a {kind} file)" if kind and kind != "ISOBMFF" else ""
        raise UnsupportedImageType(
            f"The file is not a JPEG, PNG or HEIC photo{looks_like}; "
            "please upload a photo in one of these formats.",
            details={"accepted": _ACCEPTED_TYPES},
        ) from exc
    if image.format not in ("JPEG", "MPO", "PNG", "HEIF"):  # pragma: no cover - formats= above
        image.close()
        raise UnsupportedImageType(details={"accepted": _ACCEPTED_TYPES})
    return image


def _png_header_size(head: bytes) -> tuple[int | None, int | None]:
    """Return (width, height) from a PNG IHDR, or (None, None) for other types."""
    if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    return None, None


def _check_dimensions(width: int, height: int, *, max_pixels: int, min_side: int) -> None:
    """Reject by header size, before any pixel is decoded."""
    if width * height > max_pixels:
        raise _too_large(width, height, max_pixels=max_pixels)
    if min(width, height) < min_side:
        raise ImageTooSmall(
            f"The image is {width} × {height} pixels, smaller than {min_side} × {min_side}; "
            "please take a closer photo.",
            details={"width": width, "height": height, "min_side": min_side},
        )


def _too_large(width: int | None, height: int | None, *, max_pixels: int) -> ImageTooLarge:
    limit = f"the {max_pixels / 1_000_000:g}-megapixel limit"
    details: dict[str, Any] = {"max_pixels": max_pixels}
    if width is None or height is None:
        message = f"The image has more pixels than {limit}; please upload a smaller photo."
    else:
        details |= {"width": width, "height": height}
        message = (
            f"The image is {width} × {height} pixels ({width * height / 1_000_000:g} megapixels), "
            f"more than {limit}; please upload a smaller photo."
        )
    return ImageTooLarge(message, details=details)


def _corrupt() -> ImageCorrupt:
    return ImageCorrupt(
        "The image file is damaged or incomplete (the upload may have been cut off); "
        "please upload it again."
    )


def _load(image: Image.Image) -> None:
    """Decode ``image`` (at its draft scale, if one was set); a failure means a damaged file."""
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        raise _corrupt() from exc


def _exif_orientation(image: Image.Image) -> int:
    """Return the EXIF orientation (1..8), 1 when absent or unreadable."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # EXIF is attacker-controlled and is discarded anyway; unreadable means 1
        logger.debug("unreadable EXIF block ignored", exc_info=True)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


# --- output ---------------------------------------------------------------------------------


class _HashingWriter:
    """File-like sink that counts and SHA-256-hashes the bytes on their way to ``target``.

    It deliberately has no ``fileno()``: Pillow would then write to the descriptor directly and
    bypass the hash.
    """

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        self._sha256.update(view)
        self.size += view.nbytes
        return self._target.write(view)

    def flush(self) -> None:
        self._target.flush()

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


def _write_output(
    produce: Callable[[_HashingWriter], tuple[int, int]], *, content_type: str, extension: str
) -> ProcessedImage:
    """Run ``produce`` into a fresh spooled file and wrap the result (closing it on failure)."""
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (returned)
    try:
        writer = _HashingWriter(out)
        width, height = produce(writer)
        out.flush()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return ProcessedImage(
        file=out,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        size_bytes=writer.size,
        sha256=writer.hexdigest(),
    )


def _process_jpeg(image: Image.Image, source: IO[bytes]) -> ProcessedImage:
    """JPEG (and MPO, its multi-picture form): strip metadata; re-encode only to rotate."""
    width, height = image.size
    if _exif_orientation(image) != 1:
        # Lossless JPEG rotation needs DCT-domain surgery Pillow lacks: decode, rotate, re-encode.
        icc_profile = image.info.get("icc_profile")
        subsampling = JpegImagePlugin.get_sampling(image)  # -1 when not expressible (grey, CMYK)
        _load(image)
        ImageOps.exif_transpose(image, in_place=True)

        def reencode(writer: _HashingWriter) -> tuple[int, int]:
            _save_clean(image, writer, "JPEG", icc_profile=icc_profile, subsampling=subsampling)
            return image.size

        return _write_output(reencode, content_type="image/jpeg", extension="jpg")

    # Integrity: decode the whole entropy-coded stream at 1/8 scale (cheap in memory); a truncated
    # or broken stream fails here exactly as a full decode would.
    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    _load(image)

    def strip(writer: _HashingWriter) -> tuple[int, int]:
        source.seek(0)
        strip_jpeg_metadata(source, writer.write)
        return width, height

    return _write_output(strip, content_type="image/jpeg", extension="jpg")


def _process_png(image: Image.Image) -> ProcessedImage:
    """PNG: decode, apply an ``eXIf`` orientation if any, re-save without ancillary text/EXIF."""
    _load(image)
    ImageOps.exif_transpose(image, in_place=True)
    icc_profile = image.info.get("icc_profile")
    transparency = image.info.get("transparency")  # tRNS is pixel data, not metadata

    def resave(writer: _HashingWriter) -> tuple[int, int]:
        _save_clean(image, writer, "PNG", icc_profile=icc_profile, transparency=transparency)
        return image.size

    return _write_output(resave, content_type="image/png", extension="png")


def _process_heif(image: Image.Image) -> ProcessedImage:
    """HEIC/HEIF: decode (pillow-heif has already applied irot/imir and EXIF orientation) → JPEG."""
    _load(image)
    icc_profile = image.info.get("icc_profile")
    upright = image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # JPEG has no alpha: flatten onto white rather than expose whatever lies under alpha 0.
        rgba = image.convert("RGBA")
        upright = Image.new("RGB", image.size, (255, 255, 255))
        upright.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode not in ("RGB", "L"):
        upright = image.convert("RGB")

    def convert(writer: _HashingWriter) -> tuple[int, int]:
        _save_clean(upright, writer, "JPEG", icc_profile=icc_profile)
        return upright.size

    return _write_output(convert, content_type="image/jpeg", extension="jpg")


def _save_clean(
    image: Image.Image,
    writer: _HashingWriter,
    fmt: str,
    *,
    icc_profile: bytes | None = None,
    subsampling: int = -1,
    transparency: Any = None,
) -> None:
    """Save ``image`` with no EXIF/XMP/text: only the options named here reach the encoder."""
    # Pillow fills some options (PNG icc/transparency, XMP in newer releases) from image.info.
    image.info = {}
    params: dict[str, Any] = {}
    if icc_profile:
        params["icc_profile"] = icc_profile
    if fmt == "JPEG":
        params["quality"] = REENCODE_QUALITY
        if subsampling >= 0:
            params["subsampling"] = subsampling
    elif transparency is not None:
        params["transparency"] = transparency
    image.save(writer, format=fmt, **params)  # type: ignore[arg-type]


# --- JPEG marker-segment rewriting -----------------------------------------------------------

_SOI = b"\xff\xd8"
_EOI = 0xD9
_SOS = 0xDA
_APP0 = 0xE0
_APP2 = 0xE2
_APP14 = 0xEE
_COM = 0xFE
# TEM and RST0..7 stand alone (no length field).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def strip_jpeg_metadata(source: IO[bytes], write: Callable[[bytes], object]) -> None:
    """Copy a JPEG from ``source`` to ``write``, dropping every metadata segment.

    Kept: SOFn, DHT, DQT, DRI, DNL, SOS and the entropy-coded scans byte for byte (so the pixels
    are not re-encoded), ``APP0 JFIF`` (thumbnail removed), ``APP2 ICC_PROFILE`` and
    ``APP14 Adobe`` (colour transform). Dropped: APP1 (EXIF with GPS, XMP), every other APPn
    (MPF, IPTC/Photoshop, maker data, JFXX thumbnails), COM, and everything after the first EOI
    (multi-picture frames, "motion photo" videos, vendor trailers).

    Raises:
        ImageCorrupt: the marker structure is broken or the file ends before EOI.
    """
    reader = _JpegReader(source)
    if reader.read(2) != _SOI:
        raise _corrupt()
    write(_SOI)
    while True:
        marker = reader.next_marker()
        if marker == _EOI:
            write(b"\xff\xd9")
            return
        if marker in _STANDALONE:
            write(bytes((0xFF, marker)))
            continue
        if marker == 0xD8:  # a second SOI: not a single image
            raise _corrupt()
        (length,) = struct.unpack(">H", reader.read(2))
        if length < 2:
            raise _corrupt()
        payload = _kept_payload(marker, reader.read(length - 2))
        if payload is not None:
            write(bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload)
        if marker == _SOS:
            reader.copy_entropy_coded_data(write)


def _kept_payload(marker: int, payload: bytes) -> bytes | None:
    """Return the payload to write for this segment, or None to drop it."""
    if marker == _APP0:
        if payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            # Version, density units and densities; thumbnail width/height forced to 0.
            return payload[:12] + b"\x00\x00"
        return None
    if marker == _APP2:
        return payload if payload.startswith(b"ICC_PROFILE\x00") else None
    if marker == _APP14:
        return payload if payload.startswith(b"Adobe") else None
    if 0xE1 <= marker <= 0xEF or marker == _COM:
        return None
    return payload


class _JpegReader:
    """Forward-only buffered reader over a JPEG stream, in ``CHUNK_BYTES`` reads."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._buffer = b""
        self._pos = 0

    def _available(self, n: int) -> bool:
        """Make ``n`` unread bytes available; False at end of file."""
        while len(self._buffer) - self._pos < n:
            chunk = self._source.read(CHUNK_BYTES)
            if not chunk:
                return False
            self._buffer = self._buffer[self._pos :] + chunk
            self._pos = 0
        return True

    def read(self, n: int) -> bytes:
        if not self._available(n):
            raise _corrupt()
        data = self._buffer[self._pos : self._pos + n]
        self._pos += n
        return data

    def _next_byte(self) -> int:
        if not self._available(1):
            raise _corrupt()
        value = self._buffer[self._pos]
        self._pos += 1
        return value

    def next_marker(self) -> int:
        """Return the next marker code, skipping fill bytes (and, like libjpeg, stray bytes)."""
        while True:
            if self._next_byte() != 0xFF:
                continue
            code = self._next_byte()
            while code == 0xFF:
                code = self._next_byte()
            if code != 0x00:
                return code

    def copy_entropy_coded_data(self, write: Callable[[bytes], object]) -> None:
        """Copy scan data up to (not including) the next marker other than RSTn.

        In a scan, 0xFF is followed by 0x00 (a stuffed data byte) or by RST0..7 (restart markers),
        both part of the scan; 0xFF 0xFF is fill before a marker; anything else is a marker.
        """
        while True:
            if not self._available(2):
                raise _corrupt()
            buffer, end, scan = self._buffer, len(self._buffer), self._pos
            while True:
                found = buffer.find(b"\xff", scan)
                if found < 0 or found + 1 >= end:  # flush what is certain, then read on
                    cut = end if found < 0 else found
                    if cut > self._pos:
                        write(buffer[self._pos : cut])
                        self._pos = cut
                    break
                code = buffer[found + 1]
                if code == 0x00 or 0xD0 <= code <= 0xD7:  # still scan data: keep going
                    scan = found + 2
                    continue
                if found > self._pos:  # one write per run of scan data, not per 0xFF
                    write(buffer[self._pos : found])
                if code == 0xFF:  # fill byte before a marker: dropped
                    self._pos = found + 1
                    break
                self._pos = found
                return
