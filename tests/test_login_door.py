"""The login door (``app/services/rate_limits/login_door.py``): a login or registration beyond
the worker's hash slots is refused before Flask handles it, in the API's error shape or as a
page; everything else passes. The door wraps a stand-in WSGI app that holds its request open
until told to finish, so that a second request arrives while the first is in flight."""

from __future__ import annotations

import threading

import pytest
from werkzeug.test import Client

from app.services.rate_limits.login_door import LoginDoor


class HeldApp:
    """A WSGI app whose requests wait for ``release`` (set) before answering 200."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        self.entered.set()
        self.release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]


def _held_login(door: LoginDoor, path: str = "/api/auth/login") -> threading.Thread:
    thread = threading.Thread(target=lambda: Client(door).post(path, json={}))
    thread.start()
    return thread


def test_a_login_beyond_the_limit_is_refused_before_the_app():
    inner = HeldApp()
    door = LoginDoor(inner, limit=1)
    first = _held_login(door)
    assert inner.entered.wait(5)
    try:
        refused = Client(door).post("/api/auth/login", json={"email": "a@b.c", "password": "x"})
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.get_json()["error"]["code"] == "server_busy"
        page = Client(door).post("/login", data={"email": "a@b.c"})
        assert page.status_code == 429
        assert page.mimetype == "text/html"
        assert b"href='/login'" in page.data
        assert inner.calls == 1  # neither refusal reached the app
    finally:
        inner.release.set()
        first.join(10)
    assert Client(door).get("/healthy").status_code == 200
    assert Client(door).post("/api/auth/login", json={}).status_code == 200  # the slot is free
    assert door.in_flight == 0


def test_other_requests_pass_while_a_login_is_held():
    inner = HeldApp()
    door = LoginDoor(inner, limit=1)
    first = _held_login(door, "/api/auth/register")
    assert inner.entered.wait(5)
    inner.entered.clear()
    other = threading.Thread(target=lambda: Client(door).post("/api/auth/refresh"))
    other.start()
    try:
        assert inner.entered.wait(5)  # a refresh hashes nothing: it reached the app
        assert inner.calls == 2
    finally:
        inner.release.set()
        first.join(10)
        other.join(10)
    assert door.in_flight == 0


def test_the_count_is_released_when_the_app_raises():
    def failing(environ, start_response):
        raise RuntimeError("boom")

    door = LoginDoor(failing, limit=1)
    with pytest.raises(RuntimeError):
        Client(door).post("/api/auth/login", json={})
    assert door.in_flight == 0
