"""Connectivity and configuration checks of the gateway's dependencies (``flask check``).

Each check answers one question an operator asks before opening the doors — does the database
answer with the schema at the newest migration, can images be written, does the AI Service answer
its health endpoint — and returns a :class:`CheckResult` instead of raising, so that every check
runs and reports even when an earlier one fails. Messages never contain a password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import requests
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import AIServiceError, AIServiceTimeout, AIServiceUnavailable, StorageUnavailable
from app.extensions import db

#: The AI Service's health answer must come quickly; a slow health endpoint is itself a failure.
AI_HEALTH_READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: its ``name``, whether it passed, and a one-line ``detail``."""

    name: str
    ok: bool
    detail: str


def run_checks() -> list[CheckResult]:
    """Run every check in order (database, storage, AI Service) and return all results.

    Needs an application context. Never raises for a failing dependency: that is a failed result.
    """
    checks: list[Callable[[], CheckResult]] = [check_database, check_storage, check_ai_service]
    return [check() for check in checks]


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else error.__class__.__name__


def check_database() -> CheckResult:
    """Check that the database answers ``SELECT 1`` and its schema is at the newest migration.

    "At the newest migration" compares Alembic's current revision(s) in the database with the
    head(s) of the ``migrations/`` folder.
    """
    from alembic.runtime.migration import MigrationContext  # only the CLI loads Alembic
    from alembic.script import ScriptDirectory

    name = "database"
    where = db.engine.url.render_as_string(hide_password=True)
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    heads = set(script.get_heads())
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        return CheckResult(name, False, f"{where} cannot be reached: {_first_line(error)}")
    finally:
        db.session.remove()
    head_text = ", ".join(sorted(heads)) or "none"
    if not current:
        return CheckResult(
            name,
            False,
            f"{where} answers but has no schema (newest migration {head_text}): "
            "run `flask db upgrade`",
        )
    if current != heads:
        unknown = current - {rev.revision for rev in script.walk_revisions()}
        if unknown:
            return CheckResult(
                name,
                False,
                f"{where} is at revision {', '.join(sorted(unknown))}, which this code does not "
                f"know (newest here: {head_text}); is the gateway older than the database?",
            )
        return CheckResult(
            name,
            False,
            f"{where} schema is at {', '.join(sorted(current))}, newest migration is {head_text}: "
            "run `flask db upgrade`",
        )
    return CheckResult(name, True, f"{where} answers; schema at the newest migration ({head_text})")


def check_storage() -> CheckResult:
    """Check that the configured image store exists and is writable (writes and deletes a probe)."""
    from app.services.storage import storage_from_config

    name = "storage"
    config = current_app.config
    try:
        storage = storage_from_config(config, current_app.instance_path)
    except ValueError as error:
        return CheckResult(name, False, f"misconfigured: {error}")
    try:
        storage.check()
    except StorageUnavailable as error:
        return CheckResult(name, False, error.message)
    if str(config.get("STORAGE_BACKEND") or "local").lower() == "s3":
        endpoint = config.get("S3_ENDPOINT_URL")
        where = f" at {endpoint}" if endpoint else ""
        return CheckResult(name, True, f"S3 bucket {config['S3_BUCKET']!r}{where} is writable")
    root = getattr(storage, "root", None)
    return CheckResult(name, True, f"local image folder {str(root)!r} is writable")


def check_ai_service() -> CheckResult:
    """Check that the AI Service is healthy and accepts the gateway's calls.

    Uses the gateway's own :class:`~app.services.ai_client.AIClient` (same URL, token and
    response models), without retries and with a short read timeout, so the answer is quick and
    says what happened. ``GET /api/v1/health`` must answer ``healthy``; health is public, so a
    wrong ``AI_SERVICE_TOKEN`` would only show on real calls: the check then asks for the first
    questionnaire question (``POST questionnaire/next`` with no answers; stateless, cheap).
    """
    from app.services.ai_client import API_PREFIX, AIClient

    name = "AI Service"
    config = current_app.config
    base = str(config["AI_SERVICE_URL"]).rstrip("/")
    token = config.get("AI_SERVICE_TOKEN") or ""
    client = AIClient(
        base,
        connect_timeout=float(config["AI_SERVICE_CONNECT_TIMEOUT"]),
        read_timeout=min(float(config["AI_SERVICE_TIMEOUT"]), AI_HEALTH_READ_TIMEOUT),
        token=token,
        retries=0,
    )
    try:
        endpoint = f"{base}{API_PREFIX}/health"
        health = client.health()
        if health.status != "healthy":
            return CheckResult(name, False, f"{endpoint} says {health.status!r}, not 'healthy'")
        endpoint = f"{base}{API_PREFIX}/questionnaire/next"
        client.next_question({})
    except AIServiceError as error:
        return CheckResult(name, False, f"{endpoint} {_ai_failure(error, token_set=bool(token))}")
    finally:
        client.close()
    model = health.model_version or "unknown"
    return CheckResult(name, True, f"{base} is healthy (model {model}) and accepts our calls")


def _ai_failure(error: AIServiceError, *, token_set: bool) -> str:
    """Say what went wrong with an AI call, in an operator's terms."""
    status = error.details.get("status")
    if isinstance(error, AIServiceTimeout):
        return f"did not answer within {error.details.get('timeout_seconds', '?')} s"
    if status in (401, 403):
        token_is = "is wrong" if token_set else "is not set"
        return f"refused the gateway ({status}): AI_SERVICE_TOKEN {token_is}"
    if status is not None:
        return f"answered {status}"
    if isinstance(error, AIServiceUnavailable) and isinstance(
        error.__context__, requests.ConnectionError
    ):  # the client raises "from None"; the original error is still the context
        return f"cannot be reached: {_connection_reason(error.__context__)}"
    fields = error.details.get("fields")
    return f"{error.message}" + (f" {fields}" if fields else "")


def _connection_reason(error: requests.ConnectionError) -> str:
    text_ = str(error)
    for marker, reason in (
        ("Connection refused", "connection refused (is it running?)"),
        ("Name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("Temporary failure in name resolution", "host name cannot be resolved"),
        ("timed out", "connection timed out"),
    ):
        if marker in text_:
            return reason
    return text_.splitlines()[0] if text_ else error.__class__.__name__
