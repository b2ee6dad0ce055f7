"""``flask check``: one PASS/FAIL line per dependency, non-zero exit on any failure.

Real PostgreSQL, real local folder or moto's S3, and a fake AI Service over real HTTP
(pytest-httpserver); a closed port stands for a service that is down.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
from click.testing import Result
from flask import Flask
from moto import mock_aws
from pytest_httpserver import HTTPServer

from app.extensions import db
from tests.conftest import ADMIN_URL, free_port

HEALTHY = {"status": "healthy", "model_version": "reference-1.0"}
FIRST_QUESTION = {
    "questionId": "age",
    "questionText": "How old is the patient?",
    "questionType": "number",
    "fieldName": "age",
    "options": [],
    "isComplete": False,
}
NEXT = "/api/v1/questionnaire/next"


@pytest.fixture
def fake_ai(httpserver: HTTPServer) -> str:
    """A reachable AI Service that is healthy and answers calls; returns its base URL."""
    httpserver.expect_request("/api/v1/health", method="GET").respond_with_json(HEALTHY)
    httpserver.expect_request(NEXT, method="POST", json={"anamnesis": {}}).respond_with_json(
        FIRST_QUESTION
    )
    return httpserver.url_for("/").rstrip("/")


@pytest.fixture
def run_check(app: Flask, make_app: Callable[..., Flask]) -> Callable[..., Result]:
    """Build an app with config ``overrides`` (on the migrated test database) and run the check."""

    def _run(**overrides: object) -> Result:
        checked = make_app(**overrides)
        try:
            return checked.test_cli_runner().invoke(args=["check"])
        finally:
            with checked.app_context():
                for engine in db.engines.values():
                    engine.dispose()

    return _run


def _line(result: Result, name: str) -> str:
    """Return the output line of the check called ``name``."""
    for line in result.output.splitlines():
        if line[6:].startswith(name):
            return line
    raise AssertionError(f"no line for {name!r} in:\n{result.output}")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake AWS credentials (never real ones) and moto intercepting every AWS call."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def test_everything_passes(run_check: Callable[..., Result], fake_ai: str, tmp_path: Path) -> None:
    result = run_check(AI_SERVICE_URL=fake_ai, LOCAL_STORAGE_PATH=str(tmp_path / "images"))
    assert result.exit_code == 0, result.output
    assert _line(result, "database").startswith("PASS")
    assert "schema at the newest migration" in _line(result, "database")
    assert _line(result, "storage").startswith("PASS")
    assert str(tmp_path / "images") in _line(result, "storage")
    assert _line(result, "AI Service").startswith("PASS")
    assert "reference-1.0" in _line(result, "AI Service")
    assert "All 3 checks passed." in result.output
    assert list((tmp_path / "images").rglob("*")) == [tmp_path / "images" / "healthcheck"]


def test_the_database_password_is_never_printed(
    run_check: Callable[..., Result], fake_ai: str, database_url: str
) -> None:
    with_password = database_url.replace("postgres@", "postgres:hunter2-secret@", 1)
    result = run_check(AI_SERVICE_URL=fake_ai, SQLALCHEMY_DATABASE_URI=with_password)
    assert "hunter2-secret" not in result.output
    assert "***" in _line(result, "database")


def test_ai_service_down_fails(run_check: Callable[..., Result]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_check(AI_SERVICE_URL=url)
    assert result.exit_code == 1
    line = _line(result, "AI Service")
    assert line.startswith("FAIL")
    assert url in line
    assert "connection refused" in line
    assert _line(result, "database").startswith("PASS")  # the other checks still ran
    assert _line(result, "storage").startswith("PASS")
    assert "1 of 3 checks failed: AI Service." in result.output


def test_ai_service_not_ready_fails(
    run_check: Callable[..., Result], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/v1/health").respond_with_json(
        {"status": "starting"}, status=503
    )
    result = run_check(AI_SERVICE_URL=httpserver.url_for("/").rstrip("/"))
    assert result.exit_code == 1
    assert "answered 503" in _line(result, "AI Service")


def test_ai_service_token_is_sent_and_a_refusal_names_the_setting(
    run_check: Callable[..., Result], httpserver: HTTPServer
) -> None:
    # Like the reference service: health is public, every other endpoint needs the token.
    httpserver.expect_request("/api/v1/health").respond_with_json(HEALTHY)
    httpserver.expect_request(
        NEXT, headers={"Authorization": "Bearer s3cret-token"}
    ).respond_with_json(FIRST_QUESTION)
    httpserver.expect_request(NEXT).respond_with_json({"detail": "bad token"}, status=401)
    base = httpserver.url_for("/").rstrip("/")

    good = run_check(AI_SERVICE_URL=base, AI_SERVICE_TOKEN="s3cret-token")
    assert good.exit_code == 0, good.output
    assert "accepts our calls" in _line(good, "AI Service")

    wrong = run_check(AI_SERVICE_URL=base, AI_SERVICE_TOKEN="wrong-token")
    assert wrong.exit_code == 1
    assert "refused the gateway (401): AI_SERVICE_TOKEN is wrong" in _line(wrong, "AI Service")

    unset = run_check(AI_SERVICE_URL=base, AI_SERVICE_TOKEN="")
    assert unset.exit_code == 1
    assert "AI_SERVICE_TOKEN is not set" in _line(unset, "AI Service")
    assert "s3cret-token" not in good.output + wrong.output + unset.output


def test_ai_service_that_is_not_the_ai_service_fails(
    run_check: Callable[..., Result], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/v1/health").respond_with_data("<html>hello</html>")
    result = run_check(AI_SERVICE_URL=httpserver.url_for("/").rstrip("/"))
    assert result.exit_code == 1
    assert "not JSON" in _line(result, "AI Service")


def test_missing_bucket_fails(
    run_check: Callable[..., Result], fake_ai: str, aws_env: None
) -> None:
    result = run_check(
        AI_SERVICE_URL=fake_ai,
        STORAGE_BACKEND="s3",
        S3_BUCKET="dermadetect-never-created",
        S3_REGION="us-east-1",
    )
    assert result.exit_code == 1
    line = _line(result, "storage")
    assert line.startswith("FAIL")
    assert "'dermadetect-never-created' does not exist" in line
    assert _line(result, "AI Service").startswith("PASS")
    assert "1 of 3 checks failed: storage." in result.output


def test_existing_bucket_passes_and_keeps_no_probe(
    run_check: Callable[..., Result], fake_ai: str, aws_env: None
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="dermadetect-images-test")
    result = run_check(
        AI_SERVICE_URL=fake_ai,
        STORAGE_BACKEND="s3",
        S3_BUCKET="dermadetect-images-test",
        S3_REGION="us-east-1",
    )
    assert result.exit_code == 0, result.output
    assert "S3 bucket 'dermadetect-images-test'" in _line(result, "storage")
    assert s3.list_objects_v2(Bucket="dermadetect-images-test")["KeyCount"] == 0


def test_unwritable_local_folder_fails(
    run_check: Callable[..., Result], fake_ai: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_check(AI_SERVICE_URL=fake_ai, LOCAL_STORAGE_PATH=str(blocker / "images"))
    assert result.exit_code == 1
    assert _line(result, "storage").startswith("FAIL")
    assert "not writable" in _line(result, "storage")


def test_database_unreachable_fails(run_check: Callable[..., Result], fake_ai: str) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    result = run_check(AI_SERVICE_URL=fake_ai, SQLALCHEMY_DATABASE_URI=url)
    assert result.exit_code == 1
    line = _line(result, "database")
    assert line.startswith("FAIL")
    assert "cannot be reached" in line
    assert _line(result, "AI Service").startswith("PASS")


@pytest.fixture
def empty_database() -> Iterator[tuple[str, Callable[[str], None]]]:
    """A fresh, empty PostgreSQL database: its URL and a function running SQL in it."""
    name = f"dermadetect_check_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]

    def _sql(statement: str) -> None:
        with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    yield base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}", _sql
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _revisions(app: Flask) -> list[str]:
    from alembic.script import ScriptDirectory

    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        return [rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()]


def test_database_without_schema_fails(
    run_check: Callable[..., Result], fake_ai: str, empty_database: tuple[str, object]
) -> None:
    result = run_check(AI_SERVICE_URL=fake_ai, SQLALCHEMY_DATABASE_URI=empty_database[0])
    assert result.exit_code == 1
    line = _line(result, "database")
    assert line.startswith("FAIL")
    assert "no schema" in line
    assert "flask db upgrade" in line


def test_database_behind_the_newest_migration_fails(
    app: Flask,
    run_check: Callable[..., Result],
    fake_ai: str,
    empty_database: tuple[str, Callable[[str], None]],
) -> None:
    revisions = _revisions(app)  # newest first
    if len(revisions) < 2:
        pytest.skip("needs at least two migrations")
    url, sql = empty_database
    sql("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    sql(f"INSERT INTO alembic_version VALUES ('{revisions[-1]}')")
    result = run_check(AI_SERVICE_URL=fake_ai, SQLALCHEMY_DATABASE_URI=url)
    assert result.exit_code == 1
    line = _line(result, "database")
    assert f"schema is at {revisions[-1]}, newest migration is {revisions[0]}" in line
    assert "flask db upgrade" in line


def test_database_ahead_of_the_code_fails(
    run_check: Callable[..., Result],
    fake_ai: str,
    empty_database: tuple[str, Callable[[str], None]],
) -> None:
    url, sql = empty_database
    sql("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    sql("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    result = run_check(AI_SERVICE_URL=fake_ai, SQLALCHEMY_DATABASE_URI=url)
    assert result.exit_code == 1
    assert "9999_from_the_future, which this code does not know" in _line(result, "database")


def test_check_has_help(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["check", "--help"])
    assert result.exit_code == 0
    assert "PASS/FAIL" in result.output
