"""Image intake (app.services.images): type sniffing, limits, orientation, metadata stripping."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from app.errors import (
    AppError,
    ImageCorrupt,
    ImageEmpty,
    ImageTooLarge,
    ImageTooSmall,
    PayloadTooLarge,
    UnsupportedImageType,
)
from app.services.images import ProcessedImage, process_image, strip_jpeg_metadata

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("DERMADETECT_SAMPLES", REPO.parent / "shared" / "samples"))
MB = 1024 * 1024

REAL_PHOTOS = [
    "akiec_ISIC_0026388.jpg",
    "bcc_ISIC_0028059.jpg",
    "bkl_ISIC_0028995.jpg",
    "df_ISIC_0030021.jpg",
    "mel_ISIC_0033454.jpg",
    "nv_ISIC_0026828.jpg",
    "nv_ISIC_0032787.jpg",
    "vasc_ISIC_0033349.jpg",
]


def sample(relative: str) -> Path:
    path = SAMPLES / relative
    if not path.is_file():
        pytest.skip(f"sample {path} not available (set DERMADETECT_SAMPLES)")
    return path


def run(data: bytes, **limits: int) -> ProcessedImage:
    limits.setdefault("max_bytes", 10 * MB)
    return process_image(io.BytesIO(data), **limits)


def run_file(path: Path, **limits: int) -> tuple[ProcessedImage, bytes]:
    with path.open("rb") as fh:
        processed = process_image(fh, max_bytes=limits.pop("max_bytes", 10 * MB), **limits)
    with processed:
        return processed, processed.read_bytes()


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


def jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Return the marker segments before the first SOS and the offset of that SOS."""
    assert data[:2] == b"\xff\xd8"
    segments, pos = [], 2
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker == 0xDA:
            return segments, pos
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length


def scan_data(data: bytes) -> bytes:
    """Everything from the first SOS up to and including the first EOI after it."""
    _, sos = jpeg_segments(data)
    return data[sos : data.index(b"\xff\xd9", sos) + 2]


def jpeg_bytes(image: Image.Image, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", **params)
    return buf.getvalue()


def png_bytes(image: Image.Image, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", **params)
    return buf.getvalue()


def assert_no_metadata(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        assert len(im.getexif()) == 0
        assert not {"exif", "xmp", "comment", "XML:com.adobe.xmp"} & set(im.info)
    for marker in (b"Exif", b"FakeCam", b"http://ns.adobe.com/xap", b"Patient"):
        assert marker not in data


@pytest.fixture
def photo() -> Image.Image:
    """A real lesion photograph as a decoded RGB image (600 × 450)."""
    return decode(sample("images/mel_ISIC_0033454.jpg").read_bytes())


@pytest.fixture
def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "FakeCam"  # Make
    exif[0x0110] = "Test Phone 1"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 12.0, 30.5)
    gps[3], gps[4] = "E", (16.0, 22.0, 15.25)
    return exif.tobytes()


# --- the sample files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error", "code", "status"),
    [
        ("not_an_image.jpg", UnsupportedImageType, "unsupported_image_type", 415),
        ("bomb_20000x20000.png", ImageTooLarge, "image_too_large", 422),
        ("tiny_32x32_bcc_ISIC_0028059.jpg", ImageTooSmall, "image_too_small", 422),
        ("truncated_half_bkl_ISIC_0028995.jpg", ImageCorrupt, "image_corrupt", 422),
    ],
)
def test_bad_samples_get_their_specific_error(name, error, code, status):
    with pytest.raises(error) as caught:
        run_file(sample(f"bad/{name}"))
    assert caught.value.code == code
    assert caught.value.status == status
    assert caught.value.message.endswith(".")
    assert "please" in caught.value.message


def test_messages_are_sentences_a_physician_understands():
    with pytest.raises(ImageTooSmall) as small:
        run_file(sample("bad/tiny_32x32_bcc_ISIC_0028059.jpg"))
    assert small.value.message == (
        "The image is 32 × 32 pixels, smaller than 64 × 64; please take a closer photo."
    )
    assert small.value.details == {"width": 32, "height": 32, "min_side": 64}
    with pytest.raises(ImageTooLarge) as bomb:
        run_file(sample("bad/bomb_20000x20000.png"))
    assert "20000 × 20000" in bomb.value.message
    assert "40-megapixel" in bomb.value.message
    with pytest.raises(UnsupportedImageType) as text:
        run_file(sample("bad/not_an_image.jpg"))
    assert "JPEG, PNG or HEIC" in text.value.message


@pytest.mark.parametrize(
    ("name", "content_type", "mode"),
    [
        ("blurry_nv_ISIC_0026828.jpg", "image/jpeg", "RGB"),
        ("underexposed_mel_ISIC_0030002.jpg", "image/jpeg", "RGB"),
        ("alpha_channel_nv_ISIC_0026828.png", "image/png", "RGBA"),
    ],
)
def test_poor_quality_images_are_accepted_quality_is_the_ai_services_job(name, content_type, mode):
    source = sample(f"bad/{name}")
    processed, data = run_file(source)
    assert processed.content_type == content_type
    assert (processed.width, processed.height) == (600, 450)
    stored = decode(data)
    assert stored.mode == mode  # a transparent PNG stays a transparent PNG
    assert stored.tobytes() == decode(source.read_bytes()).tobytes()


def test_pillows_own_bomb_guard_is_left_on():
    run_file(sample("images/mel_ISIC_0033454.jpg"))
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # never lifted, least of all to None


def test_bomb_is_rejected_from_the_header_fast_and_without_decoding():
    # Measured in a fresh interpreter: ru_maxrss is a high-water mark for the whole process.
    code = (
        "import resource, sys, time\n"
        "from app.errors import ImageTooLarge\n"
        "from app.services.images import process_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "start = time.perf_counter()\n"
        "try:\n"
        f"    process_image(open({str(sample('bad/bomb_20000x20000.png'))!r}, 'rb'),"
        " max_bytes=10 << 20)\n"
        "except ImageTooLarge:\n"
        "    pass\n"
        "else:\n"
        "    sys.exit('accepted')\n"
        "elapsed = time.perf_counter() - start\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, elapsed)\n"
    )
    grown_kib, elapsed = _python(code).split()
    assert float(elapsed) < 1.0
    assert int(grown_kib) < 8 * 1024  # decoding would take 400 MB (P mode) to 1.2 GB (RGB)


def test_exif_gps_sample_is_upright_and_loses_all_metadata():
    source = sample("bad/exif_gps_orientation6_mel_ISIC_0030002.jpg")
    assert b"FakeCam" in source.read_bytes()
    processed, data = run_file(source)
    assert processed.content_type == "image/jpeg"
    assert processed.extension == "jpg"
    assert (processed.width, processed.height) == (600, 450)
    with Image.open(io.BytesIO(data)) as out:
        assert out.size == (600, 450)
        assert len(out.getexif()) == 0
        assert "exif" not in out.info
        assert out.getexif().get_ifd(0x8825) == {}
    assert b"Exif" not in data
    assert b"FakeCam" not in data
    # The right rotation (not merely a landscape one): close to the reference upright pixels.
    with Image.open(source) as original:
        upright = ImageOps.exif_transpose(original)
    assert _mean_abs_diff(decode(data), upright) < 3
    assert _mean_abs_diff(decode(data), upright.rotate(180)) > 10


@pytest.mark.parametrize("name", REAL_PHOTOS)
def test_real_photos_are_accepted_unchanged(name):
    source = sample(f"images/{name}")
    original = source.read_bytes()
    processed, data = run_file(source)
    assert (processed.content_type, processed.extension) == ("image/jpeg", "jpg")
    assert (processed.width, processed.height) == (600, 450)
    assert decode(data).tobytes() == decode(original).tobytes()
    assert scan_data(data) == scan_data(original)  # not re-encoded
    # These files carry no metadata at all, so the rewrite is the identity.
    assert data == original
    assert processed.size_bytes == len(original)
    assert processed.sha256 == hashlib.sha256(original).hexdigest()


# --- JPEG metadata stripping without re-encoding --------------------------------------------


def test_jpeg_without_rotation_is_stripped_not_reencoded(photo, gps_exif):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = jpeg_bytes(
        photo,
        quality=90,
        exif=gps_exif,
        comment=b"Patient Jane Roe, DOB 1950",
        xmp=b"<x:xmpmeta>Patient Jane Roe</x:xmpmeta>",
        icc_profile=icc,
    )
    trailer = b"MotionPhoto_Data" + b"\x00ftypmp42" * 50  # what phones append after EOI
    processed = run(original + trailer)
    with processed:
        data = processed.read_bytes()
    assert_no_metadata(data)
    assert trailer[:16] not in data
    assert data.endswith(b"\xff\xd9")
    assert scan_data(data) == scan_data(original)
    assert decode(data).tobytes() == decode(original).tobytes()
    segments, _ = jpeg_segments(data)
    markers = [marker for marker, _ in segments]
    assert 0xE1 not in markers  # APP1: EXIF and XMP
    assert 0xFE not in markers  # COM
    assert markers[0] == 0xE0  # APP0 JFIF kept
    with Image.open(io.BytesIO(data)) as out:
        assert out.info["icc_profile"] == icc  # colour profile kept on purpose


def test_restart_markers_and_stuffed_bytes_survive_the_rewrite(photo, gps_exif):
    original = jpeg_bytes(photo, quality=95, exif=gps_exif, restart_marker_rows=1)
    rst_count = sum(original.count(bytes((0xFF, code))) for code in range(0xD0, 0xD8))
    assert rst_count > 8
    assert b"\xff\x00" in scan_data(original)
    with run(original) as processed:
        data = processed.read_bytes()
    assert scan_data(data) == scan_data(original)
    assert decode(data).tobytes() == decode(original).tobytes()
    assert_no_metadata(data)


def test_progressive_jpeg_keeps_every_scan(photo, gps_exif):
    original = jpeg_bytes(photo, quality=90, progressive=True, exif=gps_exif)
    with run(original) as processed:
        data = processed.read_bytes()
    assert data.count(b"\xff\xda") == original.count(b"\xff\xda") > 1
    assert decode(data).tobytes() == decode(original).tobytes()
    assert data[data.index(b"\xff\xda") :] == original[original.index(b"\xff\xda") :]
    assert_no_metadata(data)


def test_multi_picture_jpeg_keeps_only_the_primary_image(photo, gps_exif):
    buf = io.BytesIO()
    photo.save(buf, "MPO", save_all=True, append_images=[photo.rotate(90)], exif=gps_exif)
    original = buf.getvalue()
    with Image.open(io.BytesIO(original)) as mpo:
        assert mpo.format == "MPO"
        mpo.load()
        primary = mpo.copy()
    with run(original) as processed:
        data = processed.read_bytes()
    assert data.count(b"\xff\xd8") == 1
    assert b"MPF" not in data
    assert data.endswith(b"\xff\xd9")
    assert decode(data).tobytes() == primary.tobytes()
    assert_no_metadata(data)


def test_jfif_thumbnail_and_other_app_segments_are_dropped(photo):
    original = jpeg_bytes(photo, quality=85)
    segments, _ = jpeg_segments(original)
    assert segments[0][0] == 0xE0
    thumb = bytes(range(256)) * 3  # a 16 × 16 RGB "thumbnail"
    jfif = segments[0][1][:12] + b"\x10\x10" + thumb
    app13 = b"Photoshop 3.0\x008BIM\x04\x04 IPTC Patient"
    extra = (
        b"\xff\xe0"
        + struct.pack(">H", len(jfif) + 2)
        + jfif
        + b"\xff\xed"
        + struct.pack(">H", len(app13) + 2)
        + app13
    )
    rebuilt = b"\xff\xd8" + extra + original[2 + 2 + 2 + len(segments[0][1]) :]
    assert scan_data(rebuilt) == scan_data(original)
    with run(rebuilt) as processed:
        data = processed.read_bytes()
    assert thumb[:64] not in data
    assert b"Photoshop" not in data
    out_segments, _ = jpeg_segments(data)
    assert out_segments[0] == (0xE0, jfif[:12] + b"\x00\x00")
    assert decode(data).tobytes() == decode(original).tobytes()


def test_strip_jpeg_metadata_rejects_a_stream_without_eoi(photo):
    original = jpeg_bytes(photo)
    with pytest.raises(ImageCorrupt):
        strip_jpeg_metadata(io.BytesIO(original[:-2]), io.BytesIO().write)
    with pytest.raises(ImageCorrupt):
        strip_jpeg_metadata(io.BytesIO(b"\x89PNG not a jpeg"), io.BytesIO().write)


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_every_exif_orientation_is_applied_once(photo, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    # Store the pixels the way a camera would, so that exif_transpose restores the photo.
    inverse = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }[orientation]
    stored = photo
    for method in inverse:
        stored = stored.transpose(method)
    data_in = jpeg_bytes(stored, quality=95, exif=exif.tobytes())
    with run(data_in) as processed:
        data = processed.read_bytes()
        assert (processed.width, processed.height) == (600, 450)
    assert _mean_abs_diff(decode(data), photo) < 4
    assert_no_metadata(data)


def test_orientation_one_is_not_reencoded(photo):
    exif = Image.Exif()
    exif[0x0112] = 1
    original = jpeg_bytes(photo, quality=80, exif=exif.tobytes())
    with run(original) as processed:
        assert scan_data(processed.read_bytes()) == scan_data(original)


def test_grayscale_and_cmyk_jpegs_pass_through(photo):
    for image in (photo.convert("L"), photo.convert("CMYK")):
        original = jpeg_bytes(image, quality=90)
        with run(original) as processed:
            data = processed.read_bytes()
        assert decode(data).mode == image.mode
        assert decode(data).tobytes() == decode(original).tobytes()


def test_jpeg_header_claiming_huge_dimensions_is_rejected_before_decoding(photo):
    original = bytearray(jpeg_bytes(photo))
    sof = original.index(b"\xff\xc0")
    original[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)  # height, width
    with pytest.raises(ImageTooLarge) as caught:
        run(bytes(original))
    assert caught.value.code == "image_too_large"


def test_corrupt_jpeg_stream_is_image_corrupt(photo):
    original = jpeg_bytes(photo)
    with pytest.raises(ImageCorrupt):
        run(original[: len(original) - 100])
    with pytest.raises(ImageCorrupt):
        run(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 50)  # SOI, then nothing usable


# --- PNG -----------------------------------------------------------------------------------


def test_png_loses_text_and_exif_chunks_but_not_pixels(photo, gps_exif):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Patient Jane Roe")
    info.add_text("Comment", "Patient compressed note", zip=True)
    info.add_itxt("Description", "Patient international text", lang="en")
    original = png_bytes(photo, pnginfo=info, exif=gps_exif, dpi=(300, 300))
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert chunk in original
    processed = run(original)
    with processed:
        data = processed.read_bytes()
    assert (processed.content_type, processed.extension) == ("image/png", "png")
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"pHYs"):
        assert chunk not in data
    with Image.open(io.BytesIO(data)) as out:
        assert out.text == {}
        assert "exif" not in out.info
    assert_no_metadata(data)
    assert decode(data).tobytes() == photo.tobytes()


def test_png_exif_orientation_is_applied(photo):
    exif = Image.Exif()
    exif[0x0112] = 6
    original = png_bytes(photo.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())
    with run(original) as processed:
        assert (processed.width, processed.height) == (600, 450)
        assert decode(processed.read_bytes()).tobytes() == photo.tobytes()


def test_palette_png_keeps_its_transparency(photo):
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    original = png_bytes(palette, transparency=0)
    with run(original) as processed:
        out = decode(processed.read_bytes())
    assert out.mode == "P"
    assert out.info.get("transparency") == 0
    assert out.tobytes() == palette.tobytes()


def test_truncated_png_is_image_corrupt(photo):
    original = png_bytes(photo)
    with pytest.raises(ImageCorrupt):
        run(original[: len(original) // 2])


def test_a_rendered_pdf_report_leaves_truncated_photos_refused(photo):
    # WeasyPrint turns Pillow's LOAD_TRUNCATED_IMAGES on for the whole process when imported.
    from app.services.report.pdf import html_to_pdf

    assert html_to_pdf("<p>Report</p>", base_url="http://localhost/", resources={})[:5] == b"%PDF-"
    original = png_bytes(photo)
    with pytest.raises(ImageCorrupt):
        run(original[: len(original) // 2])


# --- HEIC ----------------------------------------------------------------------------------


def _heic(image: Image.Image, **params: object) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    image.save(buf, format="HEIF", quality=90, **params)
    return buf.getvalue()


def test_heic_is_converted_to_jpeg():
    original = _heic(Image.new("RGB", (128, 96), (200, 30, 30)))
    processed = run(original)
    with processed:
        data = processed.read_bytes()
    assert (processed.content_type, processed.extension) == ("image/jpeg", "jpg")
    assert (processed.width, processed.height) == (128, 96)
    with Image.open(io.BytesIO(data)) as out:
        assert out.format == "JPEG"
        out.load()
        red, green, blue = out.getpixel((64, 48))
    assert abs(red - 200) < 12 and green < 50 and blue < 50
    assert_no_metadata(data)


def test_heic_orientation_is_applied_once_and_exif_dropped(gps_exif):
    exif = Image.Exif()
    exif.load(gps_exif)
    exif[0x0112] = 6
    original = _heic(Image.new("RGB", (128, 96), (30, 30, 200)), exif=exif.tobytes())
    with run(original) as processed:
        # pillow-heif already returns the rotated (96 × 128) image; rotating again would undo it.
        assert (processed.width, processed.height) == (96, 128)
        assert_no_metadata(processed.read_bytes())


def test_heic_with_alpha_is_flattened_to_jpeg():
    original = _heic(Image.new("RGBA", (96, 96), (10, 120, 10, 0)))
    with run(original) as processed:
        assert processed.content_type == "image/jpeg"
        assert decode(processed.read_bytes()).mode == "RGB"


def test_heif_opener_is_registered_by_the_service_itself(tmp_path):
    path = tmp_path / "photo.heic"
    path.write_bytes(_heic(Image.new("RGB", (96, 96), (200, 30, 30))))
    code = (
        "from PIL import Image\n"
        "from app.services.images import process_image\n"
        "assert 'HEIF' not in Image.OPEN, 'registered too early'\n"
        f"with open({str(path)!r}, 'rb') as f, process_image(f, max_bytes=1 << 20) as out:\n"
        "    print(out.content_type, out.width, out.height)\n"
    )
    assert _python(code) == "image/jpeg 96 96"


def test_truncated_heic_is_image_corrupt():
    original = _heic(Image.new("RGB", (128, 96), (200, 30, 30)))
    with pytest.raises(ImageCorrupt):
        run(original[: len(original) // 2])


# --- type and size limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("GIF", "GIF"), ("BMP", "BMP"), ("WEBP", "WebP"), ("TIFF", "TIFF"), ("PDF", "PDF")],
)
def test_other_image_formats_are_unsupported(photo, fmt, name):
    buf = io.BytesIO()
    photo.save(buf, fmt)
    with pytest.raises(UnsupportedImageType) as caught:
        run(buf.getvalue())
    assert caught.value.status == 415
    assert caught.value.code == "unsupported_image_type"
    assert f"looks like a {name} file" in caught.value.message


def test_avif_is_unsupported_even_though_it_is_heif_like(photo):
    buf = io.BytesIO()
    try:
        photo.save(buf, "AVIF")
    except (KeyError, OSError):
        pytest.skip("no AVIF encoder in this Pillow")
    with pytest.raises(UnsupportedImageType):
        run(buf.getvalue())


def test_plain_text_named_like_a_photo_is_unsupported():
    with pytest.raises(UnsupportedImageType):
        run(b"just some text\nnot an image\n")


def test_empty_upload_is_image_empty():
    with pytest.raises(ImageEmpty) as caught:
        run(b"")
    assert (caught.value.status, caught.value.code) == (422, "image_empty")
    assert "empty" in caught.value.message


def test_over_max_bytes_is_413_with_the_limit_in_the_message():
    data = sample("images/mel_ISIC_0033454.jpg").read_bytes()
    with pytest.raises(PayloadTooLarge) as caught:
        run(data, max_bytes=200 * 1024)
    assert (caught.value.status, caught.value.code) == (413, "payload_too_large")
    assert "200 KB" in caught.value.message
    assert caught.value.details == {"max_bytes": 200 * 1024}
    with pytest.raises(PayloadTooLarge) as in_mb:
        run(b"\xff" * (3 * MB), max_bytes=int(2.5 * MB))
    assert "2.5 MB" in in_mb.value.message
    # Exactly at the limit is fine.
    with run(data, max_bytes=len(data)) as processed:
        assert processed.size_bytes == len(data)


class EndlessStream(io.RawIOBase):
    """A never-ending upload that counts how much was read from it."""

    def __init__(self) -> None:
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        view[:] = b"\xff" * len(view)
        self.consumed += len(view)
        return len(view)


def test_oversized_stream_is_not_read_to_the_end():
    stream = EndlessStream()
    with pytest.raises(PayloadTooLarge):
        process_image(stream, max_bytes=1 * MB)  # type: ignore[arg-type]
    assert stream.consumed <= 1 * MB + 64 * 1024


def test_pixel_and_side_limits_are_parameters(photo):
    data = jpeg_bytes(photo)
    with pytest.raises(ImageTooLarge) as caught:
        run(data, max_pixels=100_000)
    assert caught.value.details == {
        "max_pixels": 100_000,
        "width": 600,
        "height": 450,
    }
    with pytest.raises(ImageTooSmall):
        run(data, min_side=451)
    with run(data, min_side=450, max_pixels=600 * 450) as processed:
        assert processed.width == 600


def test_every_error_is_an_app_error_with_status_code_and_message():
    for error in (ImageCorrupt, ImageEmpty, ImageTooLarge, ImageTooSmall, UnsupportedImageType):
        assert issubclass(error, AppError)
        assert error().to_dict()["error"]["code"] == error.code


# --- the result object and memory -----------------------------------------------------------


def test_result_describes_exactly_the_stored_bytes(photo, gps_exif):
    with run(jpeg_bytes(photo, exif=gps_exif)) as processed:
        data = processed.read_bytes()
        assert processed.size_bytes == len(data)
        assert processed.sha256 == hashlib.sha256(data).hexdigest()
        assert processed.stream().read() == data  # rewinds
    assert processed.file.closed


def test_input_stream_is_left_open(photo):
    stream = io.BytesIO(jpeg_bytes(photo))
    run_stream = process_image(stream, max_bytes=10 * MB)
    run_stream.close()
    assert not stream.closed


@pytest.fixture(scope="module")
def large_jpegs(tmp_path_factory) -> dict[str, Path]:
    """~8 MB, 12-megapixel JPEGs (baseline, and the same needing rotation)."""
    folder = tmp_path_factory.mktemp("large")
    width, height = 4000, 3000
    noise = Image.merge("RGB", [Image.effect_noise((width, height), 60) for _ in range(3)])
    base = decode(sample("images/mel_ISIC_0033454.jpg").read_bytes()).resize((width, height))
    image = Image.blend(base, noise, 0.35)
    exif = Image.Exif()
    exif[0x0112] = 6
    paths = {"upright": folder / "upright.jpg", "rotated": folder / "rotated.jpg"}
    image.save(paths["upright"], "JPEG", quality=90, subsampling=1)
    image.save(paths["rotated"], "JPEG", quality=90, subsampling=1, exif=exif.tobytes())
    return paths


def _peak_rss_growth_kib(path: Path) -> int:
    code = (
        "import resource\n"
        "from app.services.images import process_image\n"
        f"with open({str(sample('images/mel_ISIC_0033454.jpg'))!r}, 'rb') as f:\n"
        "    process_image(f, max_bytes=10 << 20).close()  # warm up the codecs\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"with open({str(path)!r}, 'rb') as f:\n"
        "    process_image(f, max_bytes=10 << 20).close()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    return int(_python(code))


def test_large_upright_jpeg_is_checked_at_eighth_scale_in_little_memory(large_jpegs):
    size = large_jpegs["upright"].stat().st_size
    assert 6 * MB < size < 10 * MB
    grown_kib = _peak_rss_growth_kib(large_jpegs["upright"])
    # Budget: a 10 MB upload may raise peak RSS by 30 MB; a full decode alone would take 48 MB.
    assert grown_kib < 30 * 1024


def test_large_rotated_jpeg_is_processed(large_jpegs):
    start = time.perf_counter()
    processed, _ = run_file(large_jpegs["rotated"])
    assert (processed.width, processed.height) == (3000, 4000)
    assert time.perf_counter() - start < 10


# --- helpers -------------------------------------------------------------------------------


def _mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    a_bytes, b_bytes = a.convert("RGB").tobytes(), b.convert("RGB").tobytes()
    step = 7  # a sample of the pixels keeps this fast
    total = sum(abs(x - y) for x, y in zip(a_bytes[::step], b_bytes[::step], strict=True))
    return total / len(a_bytes[::step])


def _python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "error"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
