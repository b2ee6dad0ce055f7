"""Fixtures: a fresh PostgreSQL database per test session, built by ``flask db upgrade``.

Tables are emptied after every test that used the app, so tests stay independent while the
schema is migrated only once. ``TEST_DATABASE_ADMIN_URL`` names the server (default: the local
PostgreSQL, user ``postgres``).
"""

from __future__ import annotations

# The suite runs under the concurrency model production uses: gunicorn's gevent worker patches the
# process (gunicorn.conf.py) before the app is imported, and so does this, before anything else.
from gevent import monkey

monkey.patch_all()

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.extensions import db
from config import TestConfig

# Feature fixtures live beside this file, one module per feature.
pytest_plugins = [
    "tests.fixtures.ai",
    "tests.fixtures.cases",
    "tests.fixtures.consent",
    "tests.fixtures.lesions",
    "tests.fixtures.mfa",
    "tests.fixtures.portal",
]

ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = REPO_ROOT.parent / "shared" / "samples"
STRONG_PASSWORD = "Correct-horse-42"


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """Create a uniquely named PostgreSQL database for this run and drop it afterwards."""
    name = f"dermadetect_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder for the session (local image storage lives here)."""
    return tmp_path_factory.mktemp("instance")


#: Every app ``make_app`` built in this session (for :func:`_fresh_ai_answers`).
_BUILT_APPS: list[Flask] = []


@pytest.fixture(scope="session")
def make_app(database_url: str, instance_dir: Path) -> Iterator[Callable[..., Flask]]:
    """Return a factory building the app on the test database, with config ``overrides``."""
    built: list[Flask] = []

    def _make(**overrides: Any) -> Flask:
        attrs = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "LOCAL_STORAGE_PATH": str(instance_dir / "images"),
            **overrides,
        }
        config_class = type("TestRunConfig", (TestConfig,), attrs)
        app = create_app(config_class)
        built.append(app)
        _BUILT_APPS.append(app)
        return app

    _BUILT_APPS.clear()
    yield _make
    for app in built:  # close pooled connections before the database is dropped
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_ai_answers() -> None:
    """Every test starts with no AI answers cached (the apps live for the session; a test's
    fake AI must be asked, not another test's answer reused)."""
    from app.services.ai_client import EXTENSION_KEY

    for app in _BUILT_APPS:
        cache = getattr(app.extensions.get(EXTENSION_KEY), "question_cache", None)
        if cache is not None:
            cache.clear()


@pytest.fixture(scope="session")
def _migrated_app(make_app: Callable[..., Flask]) -> Flask:
    from flask_migrate import upgrade

    app = make_app()
    with app.app_context():
        upgrade()
    return app


def _truncate_all(app: Flask) -> None:
    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def app(_migrated_app: Flask) -> Iterator[Flask]:
    """The app on a migrated database; every table is emptied after the test."""
    yield _migrated_app
    _truncate_all(_migrated_app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., Any]:
    """Create a user through the accounts service; returns the ``User`` (detached, loaded)."""
    from app.services import accounts

    counter = iter(range(1, 10_000))

    def _make(
        email: str | None = None,
        password: str = STRONG_PASSWORD,
        role: str = "physician",
        full_name: str = "Dr. Test",
        active: bool = True,
    ) -> Any:
        email = email or f"physician{next(counter)}@example.org"
        with app.app_context():
            user = accounts.create_user(
                email=email, password=password, full_name=full_name, role=role
            )
            if not active:
                accounts.set_active(email=email, active=False)
            db.session.refresh(user)
            db.session.expunge(user)
        return user

    return _make


@pytest.fixture
def login_tokens(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Log in through the API and return the token pair."""

    def _login(email: str, password: str = STRONG_PASSWORD) -> dict[str, Any]:
        response = client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return _login


@pytest.fixture
def api_headers(login_tokens: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, str]]:
    """Return ``Authorization`` headers for a user (by email), logged in through the API."""

    def _headers(user: Any, password: str = STRONG_PASSWORD) -> dict[str, str]:
        tokens = login_tokens(user.email, password)
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    return _headers
