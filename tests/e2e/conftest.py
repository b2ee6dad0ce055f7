"""Browser tests: the portal served by a live server, driven by Playwright in Debian Chromium.

Chromium comes from Debian (``apt-get install chromium``; .ci/run installs it when missing); the
tests never download a browser. Screenshots go to ``test-results/screenshots/`` (or
``$SCREENSHOT_DIR``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Folder for the screenshots of this run."""
    path = Path(os.environ.get("SCREENSHOT_DIR", REPO_ROOT / "test-results" / "screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Debian Chromium, shared by the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class LiveServer:
    """A threaded werkzeug server running ``app`` on a free port of 127.0.0.1."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def physician(make_user: Any) -> Any:
    """The physician of the browser tests (Dr. Anna Meyer)."""
    return make_user(email="dr.meyer@example.org", full_name="Dr. Anna Meyer")


@pytest.fixture
def live(ai_app: Flask) -> Iterator[LiveServer]:
    """The gateway (pointed at the reference AI) on a live server."""
    with LiveServer(ai_app) as server:
        yield server
