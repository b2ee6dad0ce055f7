"""Thumbnails of the stored photos (worklist, lesion timeline, the photo to retake): a small JPEG
made once with Pillow and kept beside the original in the store, sent with a private ETag.

Real PostgreSQL; moto S3 (the worklist, with cases diagnosed by the reference AI over HTTP) and
a local folder of the test's own (the case page's thumbnail route, deletion, orphan purge).
The store's own calls are counted through botocore's event hooks, not by mocking our code.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image, ImageCms

from app.extensions import db
from app.models import AuditEvent, CaseImage
from app.services.thumbnails.render import MAX_SIDE, render_thumbnail
from tests.fixtures.cases import MELANOMA, S3_BUCKET, S3_REGION
from tests.fixtures.portal import log_in
from tests.test_api_diagnosis import diagnose

THUMB = re.compile(r'<img src="([^"]+)"[^>]*class="work-thumb"')


def _jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "JPEG"
    return image


def _views(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        found = db.session.query(AuditEvent).filter_by(action="image.view").all()
        db.session.remove()
        return found


def _image_row(app: Flask, image_id: str) -> tuple[str, str, int]:
    with app.app_context():
        image = db.session.get(CaseImage, uuid.UUID(image_id))
        row = (image.storage_key, image.sha256, image.size_bytes)
        db.session.remove()
        return row


# --- the rendition ----------------------------------------------------------------------------


def _photo(size: tuple[int, int], mode: str = "RGB", fmt: str = "JPEG", **save: Any) -> bytes:
    image = Image.effect_noise(size, 60).convert(mode)  # noise: a photo-like, costly JPEG
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def test_a_full_size_photo_becomes_a_small_jpeg_of_the_same_shape():
    original = _photo((2048, 1536), quality=92)
    thumb = _jpeg(render_thumbnail(original))
    assert thumb.size == (MAX_SIDE, MAX_SIDE * 3 // 4)
    assert len(render_thumbnail(original)) < len(original) / 20
    portrait = _jpeg(render_thumbnail(_photo((900, 1600))))
    assert portrait.size == (144, MAX_SIDE)


def test_a_small_photo_is_not_enlarged():
    assert _jpeg(render_thumbnail(_photo((200, 150)))).size == (200, 150)


def test_a_transparent_png_is_flattened_onto_white():
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (100, 75, 300, 225))
    out = io.BytesIO()
    image.save(out, format="PNG")
    thumb = _jpeg(render_thumbnail(out.getvalue()))
    assert thumb.mode == "RGB" and thumb.size == (256, 192)
    assert all(channel > 245 for channel in thumb.getpixel((3, 3)))  # was transparent
    red, green, blue = thumb.getpixel((128, 96))
    assert red > 180 and green < 60 and blue < 60


def test_the_colour_profile_is_kept():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    thumb = _jpeg(render_thumbnail(_photo((800, 600), icc_profile=profile)))
    assert thumb.info.get("icc_profile") == profile
    assert "exif" not in thumb.info


# --- the worklist, on S3 -----------------------------------------------------------------------


@pytest.fixture
def s3_ai_app(app: Flask, make_app: Callable[..., Flask], reference_ai_url: str, s3: Any) -> Flask:
    """An app storing images in the moto bucket and asking the reference AI."""
    return make_app(
        AI_SERVICE_URL=reference_ai_url,
        STORAGE_BACKEND="s3",
        S3_BUCKET=S3_BUCKET,
        S3_REGION=S3_REGION,
    )


@pytest.fixture
def s3_calls(s3_ai_app: Flask) -> Iterator[list[tuple[str, str]]]:
    """Every S3 call the app makes, as (operation, key), through botocore's event hooks."""
    from app.services.case_images import get_storage

    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("Key", "")))

    with s3_ai_app.app_context():
        events = get_storage().client.meta.events
    events.register("provide-client-params.s3", record)
    yield calls
    events.unregister("provide-client-params.s3", record)


def test_the_worklist_thumbnail_is_a_small_jpeg_made_once_and_kept_beside_the_original(
    s3_ai_app, s3, s3_calls, make_user, api_headers
):
    user = make_user(full_name="Dr. Small")
    api = s3_ai_app.test_client()
    body = diagnose(api, api_headers(user)).get_json()
    key, sha256, size_bytes = _image_row(s3_ai_app, body["image_id"])
    derived = key.rpartition(".")[0] + f".thumb{MAX_SIDE}.jpg"
    portal = s3_ai_app.test_client()
    assert log_in(portal, user.email).status_code == 302
    [url] = THUMB.findall(portal.get("/").get_data(as_text=True))

    s3_calls.clear()
    first = portal.get(url.replace("&amp;", "&"))
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    thumb = _jpeg(first.data)
    assert max(thumb.size) <= MAX_SIDE and max(thumb.size) >= 160
    assert len(first.data) < size_bytes / 3
    assert first.headers["Cache-Control"] == "private, no-cache"
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and sha256 not in etag
    # Made from the original and stored beside it, encrypted as the photos are.
    assert s3_calls == [("GetObject", derived), ("GetObject", key), ("PutObject", derived)]
    stored = s3.get_object(Bucket=S3_BUCKET, Key=derived)
    assert stored["Body"].read() == first.data
    assert stored["ContentType"] == "image/jpeg" and stored["ServerSideEncryption"] == "AES256"
    # The original is untouched.
    original = s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()
    assert (len(original), hashlib.sha256(original).hexdigest()) == (size_bytes, sha256)

    # The next worklist view reads the stored thumbnail only: no decode, no write.
    [url] = THUMB.findall(portal.get("/").get_data(as_text=True))
    s3_calls.clear()
    again = portal.get(url.replace("&amp;", "&"))
    assert (again.status_code, again.data, again.headers["ETag"]) == (200, first.data, etag)
    assert s3_calls == [("GetObject", derived)]
    # What is sent is what is stored (not a fresh rendition): a planted marker comes back.
    marker = render_thumbnail(_photo((64, 48)))
    s3.put_object(Bucket=S3_BUCKET, Key=derived, Body=marker)
    assert portal.get(url.replace("&amp;", "&")).data == marker

    # The browser's copy is revalidated without a body and without asking the store.
    s3_calls.clear()
    current = portal.get(url.replace("&amp;", "&"), headers={"If-None-Match": etag})
    assert (current.status_code, current.data) == (304, b"")
    assert current.headers["ETag"] == etag
    assert current.headers["Cache-Control"] == "private, no-cache"
    assert s3_calls == []
    assert _views(s3_ai_app) == []  # the worklist's token: no image.view per thumbnail


def test_a_thumbnail_is_refused_to_whoever_may_not_see_the_case(
    s3_ai_app, s3, make_user, api_headers
):
    owner = make_user(full_name="Dr. Owner")
    body = diagnose(s3_ai_app.test_client(), api_headers(owner)).get_json()
    portal = s3_ai_app.test_client()
    assert log_in(portal, owner.email).status_code == 302
    [url] = [u.replace("&amp;", "&") for u in THUMB.findall(portal.get("/").get_data(True))]
    first = portal.get(url)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    bare = f"/cases/{body['case_id']}/images/{body['image_id']}/thumbnail"

    stranger = s3_ai_app.test_client()
    assert log_in(stranger, make_user(full_name="Dr. Elsewhere").email).status_code == 302
    for address in (url, bare):
        assert stranger.get(address).status_code == 404
        # Holding the current ETag (a shared browser's copy) does not make it a 304.
        assert stranger.get(address, headers={"If-None-Match": etag}).status_code == 404
    anonymous = s3_ai_app.test_client()
    for address in (url, bare):
        refused = anonymous.get(address, headers={"If-None-Match": etag})
        assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert _views(s3_ai_app) == []


# --- the case page's thumbnail route, deletion and orphans, in a local folder --------------------


@pytest.fixture
def local_app(app: Flask, make_app: Callable[..., Flask], tmp_path: Path) -> Iterator[Flask]:
    """An app storing images in a folder of its own."""
    local = make_app(STORAGE_BACKEND="local", LOCAL_STORAGE_PATH=str(tmp_path / "images"))
    yield local
    with local.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def uploaded(local_app, make_user, api_headers, tmp_path) -> dict[str, Any]:
    """A physician's case with one uploaded photo, and a portal client logged in as them."""
    user = make_user(full_name="Dr. Local")
    headers = api_headers(user)
    api = local_app.test_client()
    case_id = api.post("/api/cases", json=_case(), headers=headers).get_json()["id"]
    image = api.post(
        f"/api/cases/{case_id}/images",
        data={"image": (io.BytesIO(MELANOMA.read_bytes()), "photo.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    ).get_json()
    portal = local_app.test_client()
    assert log_in(portal, user.email).status_code == 302
    key, _sha256, _size = _image_row(local_app, image["id"])
    return {
        "api": api,
        "headers": headers,
        "portal": portal,
        "image": image,
        "url": f"/cases/{case_id}/images/{image['id']}/thumbnail",
        "original": tmp_path / "images" / key,
        "derived": tmp_path / "images" / (key.rpartition(".")[0] + f".thumb{MAX_SIDE}.jpg"),
    }


def _case() -> dict[str, Any]:
    from tests.fixtures.cases import case_payload

    return case_payload()


def test_the_case_pages_thumbnail_is_audited_as_a_view_each_time(local_app, uploaded):
    portal, url = uploaded["portal"], uploaded["url"]
    before = uploaded["original"].read_bytes()
    first = portal.get(url)
    assert first.status_code == 200 and max(_jpeg(first.data).size) <= MAX_SIDE
    assert uploaded["derived"].read_bytes() == first.data
    assert uploaded["original"].read_bytes() == before
    revalidated = portal.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304
    views = _views(local_app)
    assert len(views) == 2  # no worklist token: every showing is a view, the 304 too
    assert {str(view.image_id) for view in views} == {uploaded["image"]["id"]}


def test_deleting_a_photo_deletes_its_thumbnail(local_app, uploaded):
    assert uploaded["portal"].get(uploaded["url"]).status_code == 200
    assert uploaded["derived"].is_file()
    deleted = uploaded["api"].delete(uploaded["image"]["url"], headers=uploaded["headers"])
    assert deleted.status_code == 204
    assert not uploaded["original"].exists() and not uploaded["derived"].exists()
    assert uploaded["portal"].get(uploaded["url"]).status_code == 404


def test_a_thumbnail_is_an_orphan_only_when_its_photo_has_no_row(local_app, uploaded):
    from app.services import maintenance

    assert uploaded["portal"].get(uploaded["url"]).status_code == 200
    images = uploaded["original"].parents[2]
    derived_key = uploaded["derived"].relative_to(images).as_posix()
    with local_app.app_context():
        report = maintenance.find_orphans(min_age=timedelta(0))
        assert [orphan.key for orphan in report.objects] == []
        # A thumbnail left behind by a deletion that failed half-way (row and photo gone).
        db.session.query(CaseImage).filter_by(id=uuid.UUID(uploaded["image"]["id"])).delete()
        db.session.commit()
        uploaded["original"].unlink()
        report = maintenance.purge_orphans(dry_run=False, min_age=timedelta(0))
        db.session.remove()
    assert [orphan.key for orphan in report.objects] == [derived_key]
    assert not uploaded["derived"].exists()


def test_a_stored_photo_that_cannot_be_decoded_is_sent_as_it_is(local_app, uploaded):
    uploaded["original"].write_bytes(b"\xff\xd8\xff not a JPEG any more")
    response = uploaded["portal"].get(uploaded["url"])
    assert response.status_code == 200
    assert response.data == b"\xff\xd8\xff not a JPEG any more"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in response.headers
    assert not uploaded["derived"].exists()
