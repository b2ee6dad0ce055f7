"""Body caps over HTTP under gunicorn (production worker), where a chunked body's end is found by
the server (``wsgi.input_terminated``) and the cap is applied while the body is read.

A tester found that a chunked JSON body over 256 KB answered 400 ``malformed_json``: Werkzeug's
capped stream, read to the end in one go, stops at the cap and returns the body's first 256 KB
without an error, so the JSON parser saw a truncated document. With ``Content-Length`` the same
body was a correct 413; it must be the same 413 when chunked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import STRONG_PASSWORD, free_port
from tests.fixtures.served import development_env, start_gunicorn, stop, wait_until_up

pytestmark = pytest.mark.slow

KB = 1024


@pytest.fixture
def gateway(database_url: str, app, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The gateway under the production gunicorn settings, on the migrated test database."""
    port = free_port()
    env = development_env(
        tmp_path,
        WEB_CONCURRENCY="1",
        DATABASE_URL=database_url,
        AI_SERVICE_URL="http://127.0.0.1:9",
    )
    log = tmp_path / "gunicorn.log"
    process = start_gunicorn(env, port, log)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthy", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def chunked(body: bytes, size: int = 64 * KB) -> Iterator[bytes]:
    """``body`` in pieces: ``requests`` sends a generator with ``Transfer-Encoding: chunked``."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def json_body(nbytes: int) -> bytes:
    """A valid JSON object of about ``nbytes`` bytes."""
    return json.dumps({"chief_complaint": "x" * nbytes, "email": "a@example.org"}).encode()


@pytest.fixture
def token(gateway: str, make_user) -> str:  # type: ignore[no-untyped-def]
    user = make_user(email="chunked@example.org")
    account = {"email": user.email, "password": STRONG_PASSWORD}
    login = requests.post(f"{gateway}/api/auth/login", json=account, timeout=30)
    assert login.status_code == 200, login.text
    return login.json()["access_token"]


@pytest.mark.parametrize("path", ["/api/cases", "/api/auth/login"])
def test_a_chunked_json_body_over_the_cap_is_the_same_413_as_with_content_length(
    gateway: str, token: str, path: str
):
    body = json_body(2 * KB * KB)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with_length = requests.post(gateway + path, data=body, headers=headers, timeout=60)
    assert with_length.status_code == 413
    sent_chunked = requests.post(gateway + path, data=chunked(body), headers=headers, timeout=60)
    assert sent_chunked.request.headers.get("Transfer-Encoding") == "chunked"
    assert sent_chunked.status_code == 413, sent_chunked.text
    assert sent_chunked.json() == with_length.json()
    assert sent_chunked.json()["error"]["details"] == {"max_bytes": 256 * KB}


def test_a_chunked_json_body_just_over_the_cap_is_413(gateway: str, token: str):
    body = json_body(256 * KB)
    assert 256 * KB < len(body) < 257 * KB
    response = requests.post(
        f"{gateway}/api/cases",
        data=chunked(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413, response.text


def test_a_chunked_json_body_within_the_cap_is_read_whole(gateway: str, token: str):
    """A body of exactly the cap, and one under it, are parsed as sent (not cut, not refused)."""
    for size in (256 * KB, 100 * KB):
        body = json.dumps({"email": "chunked@example.org", "password": STRONG_PASSWORD}).encode()
        body = body[:-1] + b" " * (size - len(body)) + b"}"  # whitespace up to ``size``
        assert len(body) == size
        response = requests.post(
            f"{gateway}/api/auth/login",
            data=chunked(body),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code == 200, (size, response.text)
