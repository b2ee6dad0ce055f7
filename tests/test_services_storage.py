"""Image storage adapters (app.services.storage): S3 under moto, LocalStorage in tmp_path."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from moto import mock_aws

from app.errors import NotFound, StorageUnavailable
from app.services.storage import (
    ImageStorage,
    InvalidStorageKey,
    LocalStorage,
    S3Storage,
    image_key,
    storage_from_config,
)

REGION = "eu-central-1"
BUCKET = "dermadetect-test-images"
JPEG = b"\xff\xd8\xff\xe0 pretend this is a lesion photo \xff\xd9"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and no shared config: nothing here may reach real AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3(aws_env: None) -> Iterator[S3Storage]:
    """An S3Storage on a fresh moto bucket."""
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield S3Storage(BUCKET, REGION, url_expiry_seconds=120)


@pytest.fixture
def raw_s3(s3: S3Storage):
    """A plain boto3 client on the same moto backend, to look behind the adapter."""
    return boto3.client("s3", region_name=REGION)


def new_key(ext: str = "jpg") -> str:
    return image_key(uuid.uuid4(), uuid.uuid4(), ext)


# --- keys ----------------------------------------------------------------------------------


def test_image_key_is_built_from_ids_never_a_client_name():
    case_id, image_id = uuid.uuid4(), uuid.uuid4()
    assert image_key(case_id, image_id, "jpg") == f"cases/{case_id}/{image_id}.jpg"
    assert image_key(7, 9, ".PNG") == "cases/7/9.png"


@pytest.mark.parametrize(
    ("case_id", "image_id", "extension"),
    [("..", "x", "jpg"), ("a/../..", "x", "jpg"), ("a", "x", "jpg/../../etc"), ("a", "", "jpg")],
)
def test_image_key_rejects_unsafe_parts(case_id, image_id, extension):
    with pytest.raises(InvalidStorageKey):
        image_key(case_id, image_id, extension)


# --- S3 ------------------------------------------------------------------------------------


def test_s3_adapter_satisfies_the_protocol_and_creates_no_client_up_front(aws_env):
    storage = S3Storage(BUCKET, REGION, endpoint_url="http://127.0.0.1:9")
    assert isinstance(storage, ImageStorage)
    assert storage._client is None  # nothing built, nothing contacted at construction


def test_s3_put_get_roundtrip_is_encrypted_and_typed(s3, raw_s3):
    key = new_key()
    s3.put(key, JPEG, "image/jpeg")
    assert s3.get(key) == JPEG
    head = raw_s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "image/jpeg"


def test_s3_put_accepts_a_stream(s3, raw_s3):
    key = new_key("png")
    s3.put(key, io.BytesIO(b"\x89PNG fake"), "image/png")
    assert raw_s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"\x89PNG fake"
    assert raw_s3.head_object(Bucket=BUCKET, Key=key)["ContentType"] == "image/png"


def test_s3_open_streams_the_object(s3):
    key = new_key()
    s3.put(key, JPEG * 1000, "image/jpeg")
    with s3.open(key) as body:
        assert body.read(4) == JPEG[:4]
        assert body.read() == (JPEG * 1000)[4:]


def test_s3_missing_object_is_not_found(s3):
    with pytest.raises(NotFound):
        s3.get(new_key())
    with pytest.raises(NotFound):
        s3.open(new_key())


def test_s3_presigned_url_downloads_the_image(s3):
    key = new_key()
    s3.put(key, JPEG, "image/jpeg")
    url = s3.url(key)
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Expires"] == ["120"]
    response = requests.get(url, timeout=5)
    assert response.status_code == 200
    assert response.content == JPEG
    assert response.headers["Content-Type"] == "image/jpeg"


def test_s3_delete_and_exists(s3):
    key = new_key()
    assert not s3.exists(key)
    s3.put(key, JPEG, "image/jpeg")
    assert s3.exists(key)
    s3.delete(key)
    assert not s3.exists(key)
    s3.delete(key)  # idempotent


def test_s3_iter_keys_pages_through_the_prefix_only(s3):
    keys = sorted(new_key() for _ in range(5))
    for key in keys:
        s3.put(key, JPEG, "image/jpeg")
    s3.put("exports/report.csv", b"x", "text/csv")
    assert list(s3.iter_keys(page_size=2)) == keys
    assert list(s3.iter_keys("exports/")) == ["exports/report.csv"]


def test_s3_check_passes_and_leaves_no_probe(s3, raw_s3):
    s3.check()
    assert raw_s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_s3_check_names_a_missing_bucket(s3):
    missing = S3Storage("no-such-bucket-here", REGION)
    with pytest.raises(StorageUnavailable) as caught:
        missing.check()
    assert caught.value.status == 503
    assert caught.value.code == "storage_unavailable"
    assert "'no-such-bucket-here' does not exist" in caught.value.message


def test_s3_operations_on_a_missing_bucket_are_storage_unavailable(s3):
    missing = S3Storage("no-such-bucket-here", REGION)
    with pytest.raises(StorageUnavailable) as caught:
        missing.put(new_key(), JPEG, "image/jpeg")
    assert caught.value.details == {"operation": "put"}
    assert "no-such-bucket" not in caught.value.message  # infrastructure names stay in the logs
    with pytest.raises(StorageUnavailable):
        list(missing.iter_keys())
    with pytest.raises(StorageUnavailable):
        missing.get(new_key())


def test_s3_unreachable_endpoint_is_storage_unavailable_quickly(aws_env):
    storage = S3Storage(BUCKET, REGION, endpoint_url="http://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(StorageUnavailable) as caught:
        storage.put(new_key(), JPEG, "image/jpeg")
    assert caught.value.status == 503
    with pytest.raises(StorageUnavailable) as checked:
        storage.check()
    assert "cannot be reached" in checked.value.message
    with pytest.raises(StorageUnavailable):
        storage.exists(new_key())
    assert time.monotonic() - start < 20  # 3 attempts with short standard back-off, twice


def test_s3_client_has_explicit_timeouts_and_no_retries_of_its_own(aws_env):
    client = S3Storage(BUCKET, REGION).client
    assert client.meta.config.connect_timeout == 2
    assert client.meta.config.read_timeout == 3
    # Retries are S3Storage's own, within S3_DEADLINE (tests/test_s3_deadline.py).
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}


@pytest.fixture
def moto_server(aws_env) -> Iterator[str]:
    """A real HTTP moto server, for the S3-compatible ``endpoint_url`` path."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_s3_compatible_endpoint_roundtrip(moto_server):
    boto3.client("s3", region_name=REGION, endpoint_url=moto_server).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    storage = S3Storage(BUCKET, REGION, endpoint_url=moto_server)
    storage.check()
    key = new_key()
    storage.put(key, io.BytesIO(JPEG), "image/jpeg")
    assert storage.get(key) == JPEG
    url = storage.url(key)
    assert url.startswith(f"{moto_server}/{BUCKET}/")  # path-style for S3-compatible stores
    assert requests.get(url, timeout=5).content == JPEG
    assert list(storage.iter_keys()) == [key]


# --- local folder --------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "images")


def test_local_roundtrip(local, tmp_path):
    key = new_key()
    assert isinstance(local, ImageStorage)
    assert not (tmp_path / "images").exists()  # nothing created at construction
    local.put(key, JPEG, "image/jpeg")
    assert local.get(key) == JPEG
    with local.open(key) as fh:
        assert fh.read() == JPEG
    assert local.exists(key)
    assert local.url(key) is None
    stored = tmp_path / "images" / key
    assert stored.read_bytes() == JPEG
    assert stored.stat().st_mode & 0o077 == 0  # patient images are private to the service user
    local.delete(key)
    assert not local.exists(key)
    local.delete(key)  # idempotent
    with pytest.raises(NotFound):
        local.get(key)


def test_local_put_from_stream_replaces_atomically(local, tmp_path):
    key = new_key()
    local.put(key, io.BytesIO(b"first"), "image/jpeg")
    local.put(key, io.BytesIO(b"second"), "image/jpeg")
    assert local.get(key) == b"second"
    folder = (tmp_path / "images" / key).parent
    assert [p.name for p in folder.iterdir()] == [key.rsplit("/", 1)[1]]  # no temp files left


def test_local_failed_put_leaves_no_temp_file(local, tmp_path):
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            raise OSError("connection reset while reading the upload")

    key = new_key()
    with pytest.raises(StorageUnavailable):
        local.put(key, Broken(), "image/jpeg")  # type: ignore[arg-type]
    assert not local.exists(key)
    assert list((tmp_path / "images" / key).parent.iterdir()) == []


@pytest.mark.parametrize(
    "key",
    [
        "../outside.jpg",
        "cases/../../outside.jpg",
        "/etc/passwd",
        "cases//x.jpg",
        "cases/./x.jpg",
        "cases/.hidden.jpg",
        "cases\\..\\x.jpg",
        "cases/x.jpg\x00.png",
        "",
        "C:/windows/x.jpg",
    ],
)
def test_local_keys_cannot_escape_the_folder(local, key):
    for call in (
        lambda: local.put(key, JPEG, "image/jpeg"),
        lambda: local.get(key),
        lambda: local.open(key),
        lambda: local.delete(key),
        lambda: local.exists(key),
    ):
        with pytest.raises(InvalidStorageKey):
            call()


def test_local_symlink_out_of_the_folder_is_rejected(local, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "images" / "cases").mkdir(parents=True)
    (tmp_path / "images" / "cases" / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidStorageKey):
        local.put("cases/evil/x.jpg", JPEG, "image/jpeg")
    assert list(outside.iterdir()) == []


def test_local_iter_keys_lists_images_only(local, tmp_path):
    keys = sorted(new_key() for _ in range(3))
    for key in keys:
        local.put(key, JPEG, "image/jpeg")
    (tmp_path / "images" / keys[0]).with_name(".half-written.tmp").write_bytes(b"x")
    local.put("exports/report.csv", b"x", "text/csv")
    assert sorted(local.iter_keys()) == keys
    assert list(local.iter_keys("exports/")) == ["exports/report.csv"]
    assert list(LocalStorage(tmp_path / "empty").iter_keys()) == []


def test_local_check_creates_the_folder_and_leaves_no_probe(local, tmp_path):
    local.check()
    root = tmp_path / "images"
    assert root.is_dir()
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_local_check_fails_clearly_when_the_folder_cannot_be_written(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the image folder should be")
    storage = LocalStorage(blocker / "images")
    with pytest.raises(StorageUnavailable) as caught:
        storage.check()
    assert caught.value.status == 503
    assert "not writable" in caught.value.message
    assert str(blocker / "images") in caught.value.message


# --- configuration -------------------------------------------------------------------------


def test_storage_from_config_defaults_to_a_local_folder_in_the_instance(tmp_path):
    storage = storage_from_config({}, str(tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "images"
    custom = storage_from_config(
        {"STORAGE_BACKEND": "local", "LOCAL_STORAGE_PATH": str(tmp_path / "x")}, "/unused"
    )
    assert isinstance(custom, LocalStorage)
    assert custom.root == tmp_path / "x"


def test_storage_from_config_builds_s3_without_contacting_it(aws_env):
    storage = storage_from_config(
        {
            "STORAGE_BACKEND": "S3",
            "S3_BUCKET": BUCKET,
            "S3_REGION": REGION,
            "S3_ENDPOINT_URL": "http://127.0.0.1:9",
            "S3_URL_EXPIRY_SECONDS": "60",
        },
        "/unused",
    )
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.region, storage.endpoint_url) == (
        BUCKET,
        REGION,
        "http://127.0.0.1:9",
    )
    assert storage.url_expiry_seconds == 60
    assert storage._client is None
    default = storage_from_config({"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET}, "/unused")
    assert isinstance(default, S3Storage)
    assert default.url_expiry_seconds == 300
    assert default.endpoint_url is None


@pytest.mark.parametrize(
    "config",
    [
        {"STORAGE_BACKEND": "s3"},
        {"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET, "S3_URL_EXPIRY_SECONDS": "0"},
        {"STORAGE_BACKEND": "ftp"},
    ],
)
def test_storage_from_config_rejects_incomplete_settings(config):
    with pytest.raises(ValueError, match=r"S3_BUCKET|S3_URL_EXPIRY_SECONDS|STORAGE_BACKEND"):
        storage_from_config(config, "/unused")


def test_no_real_aws_credentials_leak_into_tests(aws_env):
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
