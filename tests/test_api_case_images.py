"""Case images through the API: intake of real and hostile files, local and S3 storage, faults."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
from botocore.exceptions import ClientError
from PIL import Image, ImageChops, ImageOps, ImageStat
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, CaseImage
from app.services.case_images import get_storage
from tests.conftest import free_port
from tests.fixtures.cases import (
    BAD_IMAGES,
    MELANOMA,
    REAL_IMAGES,
    S3_BUCKET,
    S3_REGION,
    case_payload,
)

# --- helpers --------------------------------------------------------------------------------


def new_case(client, headers):
    response = client.post("/api/cases", json=case_payload(), headers=headers)
    assert response.status_code == 201
    return response.get_json()["id"]


def image_rows(app, case_id):
    with app.app_context():
        rows = list(db.session.scalars(select(CaseImage).where(CaseImage.case_id == case_id)))
        db.session.expunge_all()
        return rows


def stored_keys(app, case_id):
    with app.app_context():
        return list(get_storage().iter_keys(f"cases/{case_id}/"))


def count_audit(app, action):
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )


def pixels(data: bytes | Path) -> Image.Image:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(source) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


@pytest.fixture
def headers(make_user, api_headers):
    """Authorization headers of a fresh physician."""
    return api_headers(make_user())


@pytest.fixture
def physician(client, make_user, api_headers):
    headers = api_headers(make_user())
    return {"headers": headers, "case_id": new_case(client, headers)}


# --- intake of real photographs -------------------------------------------------------------


@pytest.mark.parametrize("path", REAL_IMAGES, ids=[p.name for p in REAL_IMAGES])
def test_real_photos_are_accepted_and_come_back_with_the_same_pixels(
    app, client, physician, upload, path
):
    headers, case_id = physician["headers"], physician["case_id"]
    response = upload(case_id, headers, path)
    assert response.status_code == 201, response.get_json()
    image = response.get_json()
    assert response.headers["Location"] == image["url"]
    assert image["content_type"] == "image/jpeg"
    assert (image["width"], image["height"]) == (600, 450)
    assert image["url"] == f"/api/cases/{case_id}/images/{image['id']}"

    fetched = client.get(image["url"], headers=headers)
    assert fetched.status_code == 200
    assert fetched.mimetype == "image/jpeg"
    assert fetched.headers["Cache-Control"] == "private, no-store"
    assert len(fetched.data) == image["size_bytes"]
    assert same_pixels(pixels(fetched.data), pixels(path))

    [row] = image_rows(app, case_id)
    assert row.storage_key == f"cases/{case_id}/{image['id']}.jpg"
    assert row.uploaded_by_id is not None
    case = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert [i["id"] for i in case["images"]] == [image["id"]]
    assert case["images"][0]["sha256"] == image["sha256"]


# --- the deliberately bad files -------------------------------------------------------------

REFUSED = {
    "tiny_32x32_bcc_ISIC_0028059.jpg": (422, "image_too_small", "32 × 32"),
    "truncated_half_bkl_ISIC_0028995.jpg": (422, "image_corrupt", "damaged or incomplete"),
    "not_an_image.jpg": (415, "unsupported_image_type", "not a JPEG, PNG or HEIC"),
    "bomb_20000x20000.png": (422, "image_too_large", "20000 × 20000"),
}
# Intake accepts these: they are valid photos whose *quality* the AI Service's image-validity
# check judges when the case is analysed (blur, exposure); transparency is kept as PNG RGBA.
ACCEPTED = {
    "blurry_nv_ISIC_0026828.jpg": "image/jpeg",
    "underexposed_mel_ISIC_0030002.jpg": "image/jpeg",
    "alpha_channel_nv_ISIC_0026828.png": "image/png",
    "exif_gps_orientation6_mel_ISIC_0030002.jpg": "image/jpeg",
}


def test_every_bad_sample_is_classified():
    assert {p.name for p in BAD_IMAGES.iterdir()} == set(REFUSED) | set(ACCEPTED)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_bad_files_get_their_specific_4xx(app, physician, upload, name):
    status, code, phrase = REFUSED[name]
    response = upload(physician["case_id"], physician["headers"], BAD_IMAGES / name)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert phrase in error["message"]
    assert image_rows(app, physician["case_id"]) == []
    assert stored_keys(app, physician["case_id"]) == []
    assert count_audit(app, "image.upload") == 0


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_valid_but_poor_samples_are_stored(client, physician, upload, name):
    response = upload(physician["case_id"], physician["headers"], BAD_IMAGES / name)
    assert response.status_code == 201, response.get_json()
    image = response.get_json()
    assert image["content_type"] == ACCEPTED[name]
    fetched = client.get(image["url"], headers=physician["headers"])
    assert fetched.mimetype == ACCEPTED[name]
    if name.endswith(".png"):
        with Image.open(io.BytesIO(fetched.data)) as stored:
            assert stored.mode == "RGBA"  # transparency kept, lossless


def test_exif_gps_sample_is_stored_upright_without_any_metadata(client, physician, upload):
    source = BAD_IMAGES / "exif_gps_orientation6_mel_ISIC_0030002.jpg"
    with Image.open(source) as original:  # the sample really carries what we strip
        assert original.size == (450, 600)
        assert original.getexif().get_ifd(0x8825)  # GPS IFD present

    response = upload(physician["case_id"], physician["headers"], source)
    assert response.status_code == 201
    image = response.get_json()
    assert (image["width"], image["height"]) == (600, 450)

    data = client.get(image["url"], headers=physician["headers"]).data
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.size == (600, 450)  # upright: width > height
        assert stored.width > stored.height
        assert len(stored.getexif()) == 0
        assert not stored.getexif().get_ifd(0x8825)
        assert "exif" not in stored.info
        assert "xmp" not in stored.info
        assert "comment" not in stored.info
    assert b"Exif\x00\x00" not in data
    assert b"FakeCam" not in data
    assert b"Test Phone 1" not in data

    # Rotated the right way: close to the EXIF-transposed original, far from the opposite turn.
    upright = pixels(source)
    stored_rgb = pixels(data)
    right = ImageStat.Stat(ImageChops.difference(stored_rgb, upright)).mean
    wrong = ImageStat.Stat(ImageChops.difference(stored_rgb, upright.rotate(180))).mean
    assert max(right) < 3
    assert min(wrong) > 3 * max(right)


# --- hostile or empty uploads ---------------------------------------------------------------


def test_zero_byte_upload_is_422_image_empty(app, physician, upload):
    response = upload(physician["case_id"], physician["headers"], data=b"", filename="x.jpg")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "image_empty"
    assert image_rows(app, physician["case_id"]) == []


def test_missing_image_field_is_422_naming_the_field(client, physician):
    response = client.post(
        f"/api/cases/{physician['case_id']}/images",
        data={"photo": (io.BytesIO(MELANOMA.read_bytes()), "mel.jpg")},
        headers=physician["headers"],
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert "image" in error["details"]


def test_image_sent_as_a_text_field_is_422(client, physician):
    response = client.post(
        f"/api/cases/{physician['case_id']}/images",
        data={"image": "not a file"},
        headers=physician["headers"],
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "image" in response.get_json()["error"]["details"]


def test_upload_that_is_not_multipart_is_415(client, physician):
    url = f"/api/cases/{physician['case_id']}/images"
    for kwargs in (
        {"json": {"image": "aGVsbG8="}},
        {"data": MELANOMA.read_bytes(), "content_type": "image/jpeg"},
    ):
        response = client.post(url, headers=physician["headers"], **kwargs)
        assert response.status_code == 415
        assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_path_traversal_file_name_is_ignored(app, physician, upload, instance_dir):
    response = upload(
        physician["case_id"], physician["headers"], MELANOMA, filename="../../etc/passwd"
    )
    assert response.status_code == 201
    image_id = response.get_json()["id"]
    [row] = image_rows(app, physician["case_id"])
    assert row.storage_key == f"cases/{physician['case_id']}/{image_id}.jpg"
    root = Path(app.config["LOCAL_STORAGE_PATH"])
    stored = [p for p in root.rglob("*") if p.is_file()]
    assert root / row.storage_key in stored
    assert not any("passwd" in str(p) for p in instance_dir.rglob("*"))

    text = upload(
        physician["case_id"], physician["headers"], data=b"root:x:0:0\n", filename="../../passwd"
    )
    assert text.status_code == 415


def test_upload_larger_than_the_limit_is_413(make_app, app, make_user, api_headers, upload):
    small = make_app(MAX_IMAGE_BYTES=100_000)
    client = small.test_client()
    headers = api_headers(make_user())
    case_id = new_case(client, headers)
    response = upload(case_id, headers, MELANOMA, via=client)  # 318 KB
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "payload_too_large"
    assert "larger than" in error["message"]
    assert image_rows(app, case_id) == []

    # Within the request limit (multipart slack) but over the image limit: the intake says so.
    data = MELANOMA.read_bytes()[:130_000]
    response = upload(case_id, headers, data=data, via=client)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


# --- view and delete ------------------------------------------------------------------------


def test_delete_image_removes_row_and_object(app, client, physician, upload):
    headers, case_id = physician["headers"], physician["case_id"]
    image = upload(case_id, headers).get_json()
    assert stored_keys(app, case_id) == [f"cases/{case_id}/{image['id']}.jpg"]

    response = client.delete(image["url"], headers=headers)
    assert response.status_code == 204
    assert image_rows(app, case_id) == []
    assert stored_keys(app, case_id) == []
    gone = client.get(image["url"], headers=headers)
    assert gone.status_code == 404
    assert gone.get_json()["error"]["code"] == "image_not_found"
    assert client.delete(image["url"], headers=headers).status_code == 404
    assert client.get(f"/api/cases/{case_id}", headers=headers).get_json()["images"] == []


def test_image_is_reachable_only_through_its_own_case(client, physician, upload):
    headers = physician["headers"]
    image = upload(physician["case_id"], headers).get_json()
    other_case = new_case(client, headers)
    wrong = f"/api/cases/{other_case}/images/{image['id']}"
    assert client.get(wrong, headers=headers).status_code == 404
    assert client.delete(wrong, headers=headers).status_code == 404
    assert client.get(image["url"], headers=headers).status_code == 200


def test_storage_is_built_once_per_app(app):
    with app.app_context():
        assert get_storage() is get_storage()


# --- S3 (moto) ------------------------------------------------------------------------------


def test_s3_upload_then_fetch_through_the_image_url_gives_the_same_pixels(
    s3_app, s3, make_user, api_headers, upload
):
    client = s3_app.test_client()
    headers = api_headers(make_user())
    case_id = new_case(client, headers)
    response = upload(case_id, headers, MELANOMA, via=client)
    assert response.status_code == 201, response.get_json()
    image = response.get_json()

    key = f"cases/{case_id}/{image['id']}.jpg"
    head = s3.head_object(Bucket=S3_BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "image/jpeg"
    assert head["ContentLength"] == image["size_bytes"]

    redirect = client.get(image["url"], headers=headers)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert S3_BUCKET in location
    assert "X-Amz-Signature=" in location
    assert "X-Amz-Expires=300" in location
    assert redirect.headers["Cache-Control"] == "private, no-store"

    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200
    assert same_pixels(pixels(fetched.content), pixels(MELANOMA))

    assert client.delete(image["url"], headers=headers).status_code == 204
    assert s3.list_objects_v2(Bucket=S3_BUCKET).get("KeyCount", 0) == 0


@pytest.mark.usefixtures("aws_credentials")
def test_s3_unreachable_during_upload_is_503_and_leaves_no_row(app, make_app, headers, upload):
    down = make_app(
        STORAGE_BACKEND="s3",
        S3_BUCKET=S3_BUCKET,
        S3_REGION=S3_REGION,
        S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    client = down.test_client()
    case_id = new_case(client, headers)
    response = upload(case_id, headers, MELANOMA, via=client)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    assert image_rows(app, case_id) == []
    assert count_audit(app, "image.upload") == 0
    # What the physician entered is kept.
    assert client.get(f"/api/cases/{case_id}", headers=headers).status_code == 200


@pytest.mark.usefixtures("s3")
def test_s3_error_during_upload_is_503_and_leaves_no_row(app, make_app, headers, upload):
    missing_bucket = make_app(STORAGE_BACKEND="s3", S3_BUCKET="no-such-bucket", S3_REGION=S3_REGION)
    client = missing_bucket.test_client()
    case_id = new_case(client, headers)
    response = upload(case_id, headers, MELANOMA, via=client)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    assert image_rows(app, case_id) == []


# --- the database write failing after the object was stored ---------------------------------


def admin_connection(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=True)


@pytest.fixture
def failing_image_insert(app):
    """A real database failure: a trigger that rejects every insert into case_images."""
    with admin_connection(app) as conn:
        conn.execute(
            """
            CREATE FUNCTION refuse_case_image() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'case_images is read-only in this test'; END $$;
            CREATE TRIGGER refuse_case_image BEFORE INSERT ON case_images
                FOR EACH ROW EXECUTE FUNCTION refuse_case_image();
            """
        )
    yield
    with admin_connection(app) as conn:
        conn.execute(
            "DROP TRIGGER refuse_case_image ON case_images; DROP FUNCTION refuse_case_image();"
        )


def test_db_write_failing_after_local_store_deletes_the_object(
    app, physician, upload, failing_image_insert
):
    response = upload(physician["case_id"], physician["headers"], MELANOMA)
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert image_rows(app, physician["case_id"]) == []
    assert stored_keys(app, physician["case_id"]) == []
    assert count_audit(app, "image.upload") == 0


@pytest.mark.usefixtures("failing_image_insert")
def test_db_write_failing_after_s3_store_deletes_the_object(s3_app, s3, headers, upload):
    client = s3_app.test_client()
    case_id = new_case(client, headers)
    response = upload(case_id, headers, MELANOMA, via=client)
    assert response.status_code == 500
    assert s3.list_objects_v2(Bucket=S3_BUCKET, Prefix="cases/").get("KeyCount", 0) == 0
    assert image_rows(s3_app, case_id) == []


def test_case_deleted_while_the_object_uploads_leaves_no_object(
    s3_app, s3, make_user, api_headers, upload
):
    """The case row disappears (a purge) between the S3 PUT and the row insert."""
    client = s3_app.test_client()
    headers = api_headers(make_user())
    case_id = new_case(client, headers)
    stored: list[str] = []

    def purge_case(**kwargs):  # botocore event hook: runs right after PutObject returned
        stored.append(kwargs["model"].name)
        with admin_connection(s3_app) as conn:
            conn.execute("DELETE FROM cases WHERE id = %s", (uuid.UUID(case_id),))

    with s3_app.app_context():
        events = get_storage().client.meta.events
    events.register("after-call.s3.PutObject", purge_case)
    try:
        response = upload(case_id, headers, MELANOMA, via=client)
    finally:
        events.unregister("after-call.s3.PutObject", purge_case)
    assert stored, "the hook did not run"
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "case_not_found"
    assert s3.list_objects_v2(Bucket=S3_BUCKET, Prefix="cases/").get("KeyCount", 0) == 0


def test_s3_delete_failing_keeps_the_row_for_a_retry(s3_app, make_user, api_headers, upload):
    client = s3_app.test_client()
    headers = api_headers(make_user())
    case_id = new_case(client, headers)
    image = upload(case_id, headers, MELANOMA, via=client).get_json()

    def refuse(**kwargs):  # botocore hook: S3 answers 503 to the delete
        raise ClientError(
            {"Error": {"Code": "ServiceUnavailable", "Message": "slow down"}}, "DeleteObject"
        )

    with s3_app.app_context():
        events = get_storage().client.meta.events
    events.register("before-call.s3.DeleteObject", refuse)
    try:
        response = client.delete(image["url"], headers=headers)
    finally:
        events.unregister("before-call.s3.DeleteObject", refuse)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    assert len(image_rows(s3_app, case_id)) == 1
    assert client.delete(image["url"], headers=headers).status_code == 204
    assert image_rows(s3_app, case_id) == []
