"""Health probes, the migration matches the models, and production refuses default secrets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from app.extensions import db
from config import ProductionConfig

ROOT = Path(__file__).resolve().parent.parent


def test_healthy(client):
    response = client.get("/healthy")
    assert response.status_code == 200
    assert response.get_json() == {"status": "healthy"}


def test_health_with_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "healthy", "database": "connected"}


def test_health_with_unreachable_database_is_503_fast(make_app):
    app = make_app(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
    )
    started = time.monotonic()
    response = app.test_client().get("/health")
    assert time.monotonic() - started < 3.0
    assert response.status_code == 503
    assert response.get_json() == {"status": "unhealthy", "database": "disconnected"}


def test_health_of_a_database_that_never_answers_is_503_within_its_timeout(
    make_app, black_hole_url
):
    """The check runs in the request's greenlet, bounded by HEALTH_DB_TIMEOUT (gevent.Timeout),
    not by the connect timeout of the driver."""
    port = black_hole_url.rsplit(":", 1)[1]
    app = make_app(
        SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{port}/nowhere",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 30}},
        HEALTH_DB_TIMEOUT=0.5,
    )
    started = time.monotonic()
    response = app.test_client().get("/health")
    assert time.monotonic() - started < 5.0
    assert response.status_code == 503
    assert response.get_json() == {"status": "unhealthy", "database": "disconnected"}


def test_migrations_build_exactly_the_models_schema(app):
    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


@pytest.mark.parametrize(
    "secrets",
    [
        {},
        {"SECRET_KEY": "x" * 40},
        {"JWT_SECRET_KEY": "y" * 40},
        {"SECRET_KEY": "short", "JWT_SECRET_KEY": "y" * 40},
    ],
)
def test_production_refuses_default_or_weak_secrets(secrets):
    attrs = {
        "SECRET_KEY": "dev-insecure-secret-key-change-me",
        "JWT_SECRET_KEY": "dev-insecure-jwt-secret-key-change-me",
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/db",
        **secrets,
    }
    config = type("Prod", (ProductionConfig,), attrs)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config)


def test_production_starts_with_real_secrets():
    config = type(
        "Prod",
        (ProductionConfig,),
        {
            "SECRET_KEY": "s" * 40,
            "JWT_SECRET_KEY": "j" * 40,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/db",
        },
    )
    app = create_app(config)
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("setting", "value"),
    [("AI_IMAGE_TRANSPORT", "url"), ("STORAGE_BACKEND", "ftp"), ("LOG_FORMAT", "xml")],
)
def test_unsupported_settings_refuse_to_start(make_app, setting, value):
    with pytest.raises(RuntimeError, match=setting):
        make_app(**{setting: value})


def test_a_served_app_has_no_commands_and_does_not_load_alembic(tmp_path):
    """Workers never run `flask` commands: the CLI and Flask-Migrate (Alembic) stay unloaded."""
    env = {key: value for key, value in os.environ.items() if key != "FLASK_RUN_FROM_CLI"}
    env.update(
        APP_ENV="production",
        SECRET_KEY="s" * 40,
        JWT_SECRET_KEY="j" * 40,
        DATABASE_URL="postgresql+psycopg://u@127.0.0.1/db",
        INSTANCE_PATH=str(tmp_path),
    )
    probe = (
        "import sys, wsgi; "
        "print(sorted(wsgi.app.cli.commands), 'migrate' in wsgi.app.extensions, "
        "any(name.split('.')[0] == 'alembic' for name in sys.modules))"
    )

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, check=False, cwd=ROOT, env=env, capture_output=True, text=True)

    served = run(sys.executable, "-c", probe)
    assert served.returncode == 0, served.stderr
    assert served.stdout.split() == ["[]", "False", "False"]
    # The `flask` command line has them all.
    listed = run(str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "--help")
    assert listed.returncode == 0, listed.stderr
    for command in ("db", "users", "check", "demo", "cases", "storage"):
        assert f"\n  {command} " in listed.stdout


@pytest.mark.parametrize("setting", ["PORTAL_IDLE_MINUTES", "REMEMBER_DAYS"])
@pytest.mark.parametrize("value", [0, -1])
def test_session_times_must_be_positive(make_app, setting, value):
    with pytest.raises(RuntimeError, match=setting):
        make_app(**{setting: value})
