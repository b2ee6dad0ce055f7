"""DermaDetect reference AI service: a small, deterministic stand-in for the production model.

NOT FOR CLINICAL USE. It implements the AI service contract (``shared/ai-service-contract.md``)
with transparent rules so that the gateway runs end to end on a fresh machine and in tests. It
shares no code with the gateway (``app/``): only the contract.

Run it with ``python -m reference_ai --port 8090`` or ``gunicorn 'reference_ai.wsgi:app'``.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from dataclasses import dataclass

from flask import Flask, g, request

log = logging.getLogger("reference_ai")

#: Largest request body accepted, in bytes (a 20 MB image in base64 plus the anamnesis).
MAX_CONTENT_LENGTH = 32 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Runtime settings, read once from the environment.

    ``delay_ms``: artificial delay added to every POST (``REFERENCE_AI_DELAY_MS``, default 0),
    to simulate a slow model in benchmarks. ``token``: when non-empty, every endpoint but
    ``/api/v1/health`` requires ``Authorization: Bearer <token>`` (``REFERENCE_AI_TOKEN``).
    ``model_version``: which of the reference models answers (``REFERENCE_AI_MODEL``, one of
    :data:`reference_ai.prediction.MODEL_VERSIONS`; default the current one), so that a
    model change can be shown end to end (visits analysed by two versions).
    """

    delay_ms: float = 0.0
    token: str = ""
    model_version: str = "reference-1.0"

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``REFERENCE_AI_DELAY_MS``, ``REFERENCE_AI_TOKEN`` and ``REFERENCE_AI_MODEL``.

        Raises:
            ValueError: if ``REFERENCE_AI_DELAY_MS`` is not a non-negative number, or
                ``REFERENCE_AI_MODEL`` names no reference model.
        """
        from reference_ai.prediction import MODEL_VERSION, MODEL_VERSIONS

        raw_delay = os.environ.get("REFERENCE_AI_DELAY_MS", "").strip() or "0"
        delay_ms = float(raw_delay)
        if not delay_ms >= 0:
            raise ValueError(f"REFERENCE_AI_DELAY_MS must be >= 0, got {raw_delay!r}")
        model = os.environ.get("REFERENCE_AI_MODEL", "").strip() or MODEL_VERSION
        if model not in MODEL_VERSIONS:
            raise ValueError(f"REFERENCE_AI_MODEL must be one of {MODEL_VERSIONS}, got {model!r}")
        return cls(
            delay_ms=delay_ms,
            token=os.environ.get("REFERENCE_AI_TOKEN", "").strip(),
            model_version=model,
        )


def create_app(settings: Settings | None = None) -> Flask:
    """Build the reference AI service: settings → request hooks → endpoints → error handlers."""
    from reference_ai.api import bp
    from reference_ai.errors import register_error_handlers

    settings = settings or Settings.from_env()
    _ensure_logging()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.extensions["reference_ai_settings"] = settings
    _register_request_hooks(app, settings)
    app.register_blueprint(bp)
    register_error_handlers(app)
    return app


def _ensure_logging() -> None:
    """Make the request log visible when nobody configured logging (e.g. under gunicorn).

    ``python -m reference_ai`` and pytest configure the root logger; gunicorn configures only
    its own loggers, so without this the ``X-Request-ID`` lines would be dropped.
    """
    if logging.getLogger().handlers or log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _register_request_hooks(app: Flask, settings: Settings) -> None:
    """Timing and tracing, service authentication, and the artificial delay."""
    expected = f"Bearer {settings.token}".encode()

    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        raw_id = request.headers.get("X-Request-ID", "")[:128]
        g.request_id = "".join(ch for ch in raw_id if ch.isprintable() and ch != " ") or "-"
        if settings.token and request.endpoint != "reference_ai.health":
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return {"detail": "missing or invalid service token (Authorization: Bearer)"}, 401
        if request.method == "POST" and settings.delay_ms > 0:
            time.sleep(settings.delay_ms / 1000)
        return None

    @app.after_request
    def log_request(response):
        started = g.get("started", time.perf_counter())
        request_id = g.get("request_id", "-")
        if request_id != "-":
            response.headers["X-Request-ID"] = request_id
        log.info(
            "%s %s -> %s in %.1f ms request_id=%s",
            request.method,
            request.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            request_id,
        )
        return response
