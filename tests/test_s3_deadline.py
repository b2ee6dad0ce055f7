"""S3 faults against a real moto server process: paused (SIGSTOP: connections accepted, never
answered) and stopped. Every operation answers 503 ``storage_unavailable`` within S3_DEADLINE."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import boto3
import pytest
import requests

from app.errors import StorageUnavailable
from app.services.storage import S3Storage
from tests.conftest import free_port
from tests.fixtures.cases import MELANOMA, S3_BUCKET, S3_REGION
from tests.test_api_errors import assert_error

#: Short settings so that the tests wait seconds, not the production 10 s.
TIMEOUTS = {"connect_timeout": 0.5, "read_timeout": 1.0, "deadline": 3.0}


@pytest.fixture
def moto_process(aws_credentials) -> Iterator[tuple[str, subprocess.Popen]]:  # type: ignore[no-untyped-def]
    """A moto S3 server in its own process (so that it can be paused), with the test bucket."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.2)
        boto3.client("s3", region_name=S3_REGION, endpoint_url=url).create_bucket(
            Bucket=S3_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION}
        )
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            process.wait(timeout=10)


def paused(process: subprocess.Popen):  # type: ignore[no-untyped-def]
    os.kill(process.pid, signal.SIGSTOP)


def test_a_paused_s3_is_503_within_the_deadline_and_recovers(moto_process):
    url, process = moto_process
    storage = S3Storage(S3_BUCKET, S3_REGION, endpoint_url=url, **TIMEOUTS)
    storage.put("cases/a/b.jpg", b"photo", "image/jpeg")
    paused(process)
    for operation in (
        lambda: storage.put("cases/a/c.jpg", io.BytesIO(b"photo"), "image/jpeg"),
        lambda: storage.get("cases/a/b.jpg"),
        lambda: storage.exists("cases/a/b.jpg"),
        # Paused S3 keeps the request in its socket and deletes once resumed: another key.
        lambda: storage.delete("cases/a/c.jpg"),
    ):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as caught:
            operation()
        elapsed = time.monotonic() - started
        assert caught.value.status == 503
        # At least one read timeout; never more than the deadline (plus scheduling slack).
        assert 0.9 <= elapsed <= TIMEOUTS["deadline"] + 1.5, elapsed
    process.send_signal(signal.SIGCONT)
    assert storage.get("cases/a/b.jpg") == b"photo"


def test_a_stopped_s3_is_503_at_once(moto_process):
    url, process = moto_process
    storage = S3Storage(S3_BUCKET, S3_REGION, endpoint_url=url, **TIMEOUTS)
    process.terminate()
    process.wait(timeout=10)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        storage.put("cases/a/b.jpg", b"photo", "image/jpeg")
    assert time.monotonic() - started <= TIMEOUTS["deadline"] + 1.5


@pytest.fixture
def s3_gateway(moto_process, make_app, app):  # type: ignore[no-untyped-def]
    """The gateway storing images in the moto process (short S3 timeouts), and the process."""
    url, process = moto_process
    gateway = make_app(
        STORAGE_BACKEND="s3",
        S3_BUCKET=S3_BUCKET,
        S3_REGION=S3_REGION,
        S3_ENDPOINT_URL=url,
        S3_CONNECT_TIMEOUT=0.5,
        S3_READ_TIMEOUT=1.0,
        S3_DEADLINE=3.0,
    )
    return gateway, process


def test_an_upload_to_a_paused_s3_is_503_and_the_case_is_kept(
    s3_gateway, make_user, api_headers, make_case, upload
):
    gateway, process = s3_gateway
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    paused(process)
    started = time.monotonic()
    response = upload(case_id, headers, MELANOMA, via=gateway.test_client())
    assert time.monotonic() - started <= 3.0 + 1.5
    assert_error(response, 503, "storage_unavailable")
    process.send_signal(signal.SIGCONT)
    case = gateway.test_client().get(f"/api/cases/{case_id}", headers=headers)
    assert case.status_code == 200
    assert case.get_json()["images"] == []
    # The same upload succeeds once S3 is back.
    assert upload(case_id, headers, MELANOMA, via=gateway.test_client()).status_code == 201
