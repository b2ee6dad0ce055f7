"""Image quality on the real sample photos and on deliberately bad or hostile files."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image, ImageEnhance, ImageStat

from reference_ai.image_quality import (
    ISSUE_BLUR,
    ISSUE_FRAMING,
    ISSUE_LIGHTING,
    ISSUE_RESOLUTION,
)
from reference_ai.tests.conftest import BAD, GOOD_PHOTOS, b64, image_body, photo_body

URL = "/api/v1/image_quality/validate"


def validate(client, body):
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_there_are_eight_real_photos():
    assert len(GOOD_PHOTOS) == 8


@pytest.mark.parametrize("path", GOOD_PHOTOS, ids=lambda p: p.name)
def test_every_real_photo_is_valid_with_margin(client, path):
    result = validate(client, photo_body(path))
    assert result["isValid"] is True
    assert result["issues"] == []
    assert set(result["feedback"]) >= {"blur", "lighting", "framing"}
    # Margin: every sub-score clearly above the 0.5 threshold.
    assert min(result["feedback"].values()) >= 0.6
    assert 0.8 <= result["score"] <= 1
    assert result["model_version"].startswith("reference-")


@pytest.mark.parametrize(
    ("name", "issue", "low_feedback"),
    [
        ("blurry_nv_ISIC_0026828.jpg", ISSUE_BLUR, "blur"),
        ("underexposed_mel_ISIC_0030002.jpg", ISSUE_LIGHTING, "lighting"),
        ("tiny_32x32_bcc_ISIC_0028059.jpg", ISSUE_RESOLUTION, "resolution"),
    ],
)
def test_bad_photo_is_invalid_for_its_reason(client, name, issue, low_feedback):
    result = validate(client, photo_body(BAD / name))
    assert result["isValid"] is False
    assert result["issues"] == [issue]
    assert result["feedback"][low_feedback] < 0.5
    for value in result["feedback"].values():
        assert 0 <= value <= 1


@pytest.mark.parametrize(
    "name", ["alpha_channel_nv_ISIC_0026828.png", "exif_gps_orientation6_mel_ISIC_0030002.jpg"]
)
def test_alpha_and_exif_rotated_photos_are_usable(client, name):
    result = validate(client, photo_body(BAD / name))
    assert result["isValid"] is True
    assert (result["measurements"]["width"], result["measurements"]["height"]) == (600, 450)


def pad_into_corner(photo: Image.Image) -> Image.Image:
    """The photo at half size in the top-left corner of a canvas of median skin colour."""
    width, height = photo.size
    skin = tuple(int(v) for v in ImageStat.Stat(photo).median)
    canvas = Image.new("RGB", photo.size, skin)
    canvas.paste(photo.resize((width // 2, height // 2)), (0, 0))
    return canvas


@pytest.mark.parametrize("name", ["mel_ISIC_0033454.jpg", "df_ISIC_0030021.jpg"])
def test_lesion_in_a_corner_is_not_framed(client, name):
    photo = Image.open(GOOD_PHOTOS[0].parent / name).convert("RGB")
    assert validate(client, image_body(photo))["isValid"] is True  # control: re-encoded original
    result = validate(client, image_body(pad_into_corner(photo)))
    assert result["issues"] == [ISSUE_FRAMING]
    assert result["feedback"]["framing"] < 0.5


def test_overexposed_photo_has_a_lighting_issue(client, mel_photo):
    photo = ImageEnhance.Brightness(Image.open(mel_photo).convert("RGB")).enhance(2.5)
    result = validate(client, image_body(photo))
    assert ISSUE_LIGHTING in result["issues"]
    assert result["measurements"]["meanLuminance"] > 225


@pytest.mark.parametrize(("size", "too_low"), [((299, 224), False), ((298, 223), True)])
def test_resolution_threshold_is_224_px_on_the_shorter_side(client, mel_photo, size, too_low):
    photo = Image.open(mel_photo).convert("RGB").resize(size)
    result = validate(client, image_body(photo))
    assert (ISSUE_RESOLUTION in result["issues"]) is too_low


def test_uniform_grey_picture_is_rejected_as_blurry_and_unframed(client):
    result = validate(client, image_body(Image.new("RGB", (640, 480), (150, 120, 110))))
    assert result["issues"] == [ISSUE_BLUR, ISSUE_FRAMING]


def test_data_url_prefix_is_accepted(client, mel_photo):
    body = photo_body(mel_photo)
    body["imageData"] = "data:image/jpeg;base64," + body["imageData"]
    assert validate(client, body)["isValid"] is True


# --- hostile and broken input ------------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` (1-bit grey) with a token IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "raw",
    [
        png_header_only(7000, 6000),  # 42 MP: above our 40 MP limit, below Pillow's warning
        png_header_only(10_000, 10_000),  # 100 MP: Pillow would only warn
        (BAD / "bomb_20000x20000.png").read_bytes(),  # 400 MP: Pillow raises
    ],
    ids=["42MP", "100MP", "bomb-400MP"],
)
def test_too_many_pixels_is_rejected_before_decoding(client, raw):
    response = client.post(URL, json={"imageData": b64(raw), "contentType": "image/png"})
    assert response.status_code == 422
    assert "pixels" in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("not_an_image.jpg", 422, "not an image"),
        ("truncated_half_bkl_ISIC_0028995.jpg", 422, "truncated"),
    ],
)
def test_broken_files_are_rejected(client, name, status, words):
    response = client.post(URL, json=photo_body(BAD / name))
    assert response.status_code == status
    assert words in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"imageData": "not base64 at all!", "contentType": "image/jpeg"}, 400),
        ({"imageData": "", "contentType": "image/jpeg"}, 400),
        ({"imageData": 42}, 400),
        ({"contentType": "image/jpeg"}, 422),
        ({"imageUrl": "file:///etc/passwd"}, 422),
    ],
)
def test_bad_image_fields(client, body, status):
    response = client.post(URL, json=body)
    assert response.status_code == status
    assert response.get_json()["detail"]


def test_image_url_is_fetched(client, httpserver, mel_photo):
    httpserver.expect_request("/photo.jpg").respond_with_data(
        mel_photo.read_bytes(), content_type="image/jpeg"
    )
    result = validate(client, {"imageUrl": httpserver.url_for("/photo.jpg")})
    assert result["isValid"] is True


def test_image_url_that_fails_is_rejected(client, httpserver):
    httpserver.expect_request("/gone.jpg").respond_with_data("gone", status=404)
    response = client.post(URL, json={"imageUrl": httpserver.url_for("/gone.jpg")})
    assert response.status_code == 422
    assert "could not be fetched" in response.get_json()["detail"]
