"""Fixtures for the reference AI service: the app, its test client, and the sample photos."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from reference_ai import Settings, create_app

REPO = Path(__file__).resolve().parents[2]
#: The project's sample photos (``shared/samples`` beside the repository unless overridden).
SAMPLES = Path(os.environ.get("DERMADETECT_SAMPLES", REPO.parent / "shared" / "samples"))
GOOD_PHOTOS = sorted((SAMPLES / "images").glob("*.jpg"))
BAD = SAMPLES / "bad"


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode("ascii")


def photo_body(path: Path) -> dict[str, str]:
    """The contract's image object for a file."""
    content_type = "image/png" if path.suffix == ".png" else "image/jpeg"
    return {"imageData": b64(path.read_bytes()), "contentType": content_type}


def image_body(image: Image.Image) -> dict[str, str]:
    """The contract's image object for a Pillow image (encoded as JPEG, quality 92)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=92)
    return {"imageData": b64(buffer.getvalue()), "contentType": "image/jpeg"}


@pytest.fixture
def app() -> Flask:
    """The service with default settings (no delay, no token)."""
    return create_app(Settings())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of :func:`app`."""
    return app.test_client()


@pytest.fixture(scope="session")
def mel_photo() -> Path:
    """A real melanoma photograph (HAM10000 ISIC_0033454)."""
    return SAMPLES / "images" / "mel_ISIC_0033454.jpg"
