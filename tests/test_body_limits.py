"""Body limits: a body over its cap answers 413 from ``Content-Length``, before it is read."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from tests.test_api_errors import assert_error

MB = 1024 * 1024


class UnreadableBody(io.RawIOBase):
    """A request body that must not be read: the test fails if anything reads from it."""

    def __init__(self) -> None:
        self.read_from = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        self.read_from = True
        raise AssertionError("the body was read")


def post_unread(client, path: str, length: int, content_type: str, **kw):  # type: ignore[no-untyped-def]
    body = UnreadableBody()
    response = client.open(
        path,
        method="POST",
        input_stream=body,
        content_type=content_type,
        environ_overrides={"CONTENT_LENGTH": str(length)},
        **kw,
    )
    assert not body.read_from
    return response


@pytest.mark.parametrize(
    "path", ["/api/auth/login", "/api/no/such/address", "/api/cases", "/api/auth/logout"]
)
def test_a_100_mb_json_body_is_413_unread_on_every_api_route(client, path):
    response = post_unread(client, path, 100 * MB, "application/json")
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 256 * 1024}
    assert "256 KB" in error["message"]
    assert response.headers["X-Request-ID"]


def test_a_json_body_over_256_kb_is_413_and_under_it_parses(client):
    big = json.dumps({"email": "a@example.org", "password": "x" * (300 * 1024)})
    assert_error(
        client.post("/api/auth/login", data=big, content_type="application/json"),
        413,
        "payload_too_large",
    )
    small = json.dumps({"email": "a@example.org", "password": "x" * (200 * 1024)})
    response = client.post("/api/auth/login", data=small, content_type="application/json")
    assert response.status_code != 413


def test_a_200_mb_file_part_to_the_login_page_is_413_unread(client):
    response = post_unread(client, "/login", 200 * MB, "multipart/form-data; boundary=x")
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "larger than 12 MB" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/api/diagnosis", "/api/ai/image_validity", "/api/ai/predict_diagnosis"]
)
def test_photo_endpoints_refuse_more_than_the_photo_limit_unread(
    client, make_user, api_headers, path
):
    headers = api_headers(make_user())
    # Over MAX_IMAGE_BYTES (10 MB) but under the 12 MB global cap: the photo limit answers.
    response = post_unread(
        client, path, 11 * MB, "multipart/form-data; boundary=x", headers=headers
    )
    error = assert_error(response, 413, "payload_too_large")
    assert "photo is larger than 10 MB" in error["message"]
    response = post_unread(
        client, path, 200 * MB, "multipart/form-data; boundary=x", headers=headers
    )
    assert_error(response, 413, "payload_too_large")


def test_a_chunked_body_is_cut_off_at_the_cap(make_app):
    app = make_app(MAX_JSON_BYTES=1024)
    body = b'{"email": "' + b"a" * 4096 + b'"}'
    response = app.test_client().post(
        "/api/auth/login",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "payload_too_large")


@pytest.fixture
def served_app(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


def test_over_http_the_413_comes_before_the_body_is_sent(served_app):
    host, port = served_app.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {100 * MB}\r\n\r\n".encode()
            + b'{"email": '
        )
        # The rest of the 100 MB never comes: the answer must not wait for it.
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, "connection closed without an answer"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_whole_anamnesis_may_be_larger_than_256_kb_but_not_than_1_mb(
    client, make_user, api_headers
):
    headers = api_headers(make_user())
    path = "/api/ai/red_flags"
    response = post_unread(client, path, 1024 * 1024 + 1, "application/json", headers=headers)
    assert_error(response, 413, "payload_too_large")
    # 200 answers of 2,000 characters (the contract's limits) pass the size check.
    anamnesis = {f"q.{i}": "x" * 2000 for i in range(200)}
    response = client.post(path, json={"anamnesis": anamnesis}, headers=headers)
    assert response.status_code != 413
