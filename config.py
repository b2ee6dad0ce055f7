"""Configuration: every setting read from the environment once, typed, in one place.

``create_app()`` picks the class named by ``APP_ENV`` (``development`` by default,
``test`` or ``production``). Production refuses to start with a missing or default secret.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, ClassVar

DEFAULT_SECRET = "dev-insecure-secret-key-change-me"  # noqa: S105 - the value production rejects
DEFAULT_JWT_SECRET = "dev-insecure-jwt-secret-key-change-me"  # noqa: S105


def env_str(name: str, default: str = "") -> str:
    """Return the environment variable ``name`` stripped, or ``default`` when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int) -> int:
    """Return ``name`` parsed as an int; raise ``ValueError`` naming the variable when invalid."""
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    """Return ``name`` parsed as a float; raise ``ValueError`` naming the variable when invalid."""
    raw = env_str(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def env_bool(name: str, default: bool) -> bool:
    """Return ``name`` as a bool (1/true/yes/on vs 0/false/no/off); raise on anything else."""
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


class Config:
    """Settings shared by every environment; subclasses override what differs."""

    ENV_NAME: ClassVar[str] = "base"

    SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET)
    JWT_SECRET_KEY = env_str("JWT_SECRET_KEY", DEFAULT_JWT_SECRET)

    # Database: None means "SQLite file in the instance folder", resolved by create_app.
    SQLALCHEMY_DATABASE_URI: str | None = env_str("DATABASE_URL") or None
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Accounts and tokens
    # Self-registration (app/services/registration): open | invite | closed.
    REGISTRATION = env_str("REGISTRATION", "open").lower()
    # Each worker remembers access tokens that passed the revocation check (PostgreSQL only; a
    # change reaches every worker within a second through LISTEN/NOTIFY, app/services/revocation).
    TOKEN_CHECK_CACHE = env_bool("TOKEN_CHECK_CACHE", True)
    # Second factor (TOTP): who must use it (none | admin | all), and how long the MFA token
    # between the password and the code is valid (seconds).
    MFA_REQUIRED_FOR = env_str("MFA_REQUIRED_FOR", "none").lower()
    MFA_TOKEN_SECONDS = env_int("MFA_TOKEN_SECONDS", 300)
    # Fernet keys encrypting the TOTP secrets at rest, comma-separated, the first encrypts (empty:
    # a key derived from SECRET_KEY, with a warning in production; app/services/mfa/sealing.py).
    MFA_ENCRYPTION_KEY = env_str("MFA_ENCRYPTION_KEY", "")
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=env_int("JWT_ACCESS_TOKEN_SECONDS", 30 * 60))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(
        seconds=env_int("JWT_REFRESH_TOKEN_SECONDS", 30 * 24 * 3600)
    )
    JWT_TOKEN_LOCATION: ClassVar[list[str]] = ["headers"]
    JWT_ERROR_MESSAGE_KEY = "message"
    # argon2id cost: RFC 9106's second recommended option's time and memory (t=3, m=64 MiB), one
    # lane (p=1): on the usual 2-core container four lanes only added threads competing with the
    # workers for the cores (slower hashes, /healthy stalls), and p does not change the cost of a
    # guess to an attacker, which m and t set.
    PASSWORD_HASH_TIME_COST = env_int("PASSWORD_HASH_TIME_COST", 3)
    PASSWORD_HASH_MEMORY_KIB = env_int("PASSWORD_HASH_MEMORY_KIB", 65536)
    PASSWORD_HASH_PARALLELISM = env_int("PASSWORD_HASH_PARALLELISM", 1)

    # Throttling of login, registration, refresh and MFA (app/services/rate_limits/). memory://
    # counts per process; set redis://host:6379/0 so that every worker shares the counts.
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = env_str("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = env_str("RATELIMIT_KEY_PREFIX", "dermadetect")
    # Every request per client address and endpoint, whatever the email.
    AUTH_ADDRESS_RATE_LIMIT = env_str("AUTH_ADDRESS_RATE_LIMIT", "30 per minute")
    # Failed attempts per account and client address.
    LOGIN_RATE_LIMIT = env_str("LOGIN_RATE_LIMIT", "10 per 15 minutes")
    # Account-wide slow-down: after this many failures (any address, LOGIN_RATE_LIMIT's window)
    # each failure makes the next attempt wait 1, 2, 4 … seconds, at most the maximum.
    LOGIN_SLOWDOWN_AFTER = env_int("LOGIN_SLOWDOWN_AFTER", 5)
    LOGIN_SLOWDOWN_MAX_SECONDS = env_int("LOGIN_SLOWDOWN_MAX_SECONDS", 30)
    # Password hashes (argon2id) one worker process computes at once; more answer 429 at once.
    # One per worker: the two workers of a 2-core container then hash on at most both cores, at
    # low priority (app.concurrency.run_at_low_priority), about 5 logins/s per worker.
    PASSWORD_HASH_CONCURRENCY = env_int("PASSWORD_HASH_CONCURRENCY", 1)
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto entries are trusted
    # (Werkzeug ProxyFix); 0 = the TCP peer is the client.
    TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)

    # Portal session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    # Longest life of a portal session (server-side record), however active.
    PERMANENT_SESSION_LIFETIME = timedelta(seconds=env_int("SESSION_LIFETIME_SECONDS", 8 * 3600))
    # Remember-me: days a remember-me token lasts from the login that made it (rotated at each
    # use, never extended). Its cookie is ours (REMEMBER_ME_COOKIE), not flask-login's.
    REMEMBER_DAYS = env_int("REMEMBER_DAYS", 30)
    REMEMBER_ME_COOKIE = "dd_remember"
    # Idle lock (shared computers): minutes without activity before the page locks and the
    # session ends; a warning shows PORTAL_IDLE_WARNING_SECONDS before. Minutes may be a
    # fraction (the browser test uses a few seconds).
    PORTAL_IDLE_MINUTES = env_float("PORTAL_IDLE_MINUTES", 15.0)
    PORTAL_IDLE_WARNING_SECONDS = env_int("PORTAL_IDLE_WARNING_SECONDS", 60)
    # Worklist: days within which a routine (low urgency) case is due for review after its
    # first analysis (the other windows are fixed: app.services.worklist.due).
    WORKLIST_ROUTINE_DAYS = env_int("WORKLIST_ROUTINE_DAYS", 28)
    # The patient's consent per case (app/services/consent/): off (not checked), advisory (warn
    # while AI-analysis consent is not recorded as granted), enforced (refuse the photo step and
    # every AI call until it is).
    CONSENT_POLICY = env_str("CONSENT_POLICY", "advisory").lower()
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # Strict-Transport-Security max-age in seconds; 0 sends none (production: one year).
    HSTS_SECONDS = env_int("HSTS_SECONDS", 0)

    # Storage
    STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local")
    S3_BUCKET = env_str("S3_BUCKET", "dermadetect-images")
    S3_REGION = env_str("S3_REGION", "eu-central-1")
    S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL") or None
    S3_URL_EXPIRY_SECONDS = env_int("S3_URL_EXPIRY_SECONDS", 300)
    # Per socket wait, and in all for one S3 operation with its retries (seconds).
    S3_CONNECT_TIMEOUT = env_float("S3_CONNECT_TIMEOUT", 2.0)
    S3_READ_TIMEOUT = env_float("S3_READ_TIMEOUT", 3.0)
    S3_DEADLINE = env_float("S3_DEADLINE", 10.0)
    LOCAL_STORAGE_PATH = env_str("LOCAL_STORAGE_PATH") or None

    # Request bodies (app/request_limits.py): every body, and JSON bodies, refused from
    # Content-Length before they are read.
    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 12 * 1024 * 1024)
    MAX_JSON_BYTES = env_int("MAX_JSON_BYTES", 256 * 1024)
    MAX_ANAMNESIS_JSON_BYTES = env_int("MAX_ANAMNESIS_JSON_BYTES", 1024 * 1024)

    # Images
    MAX_IMAGE_BYTES = env_int("MAX_IMAGE_BYTES", 10 * 1024 * 1024)
    MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000)
    MIN_IMAGE_SIDE = env_int("MIN_IMAGE_SIDE", 64)
    # The portal downscales a photo in the browser to this longest side (pixels) before the
    # upload: the side the AI Service works with; a 12 MP phone photo becomes ~1 MB. 0: never.
    PHOTO_UPLOAD_MAX_SIDE = env_int("PHOTO_UPLOAD_MAX_SIDE", 2048)

    # AI Service (see ../shared/ai-service-contract.md)
    AI_SERVICE_URL = env_str("AI_SERVICE_URL", "http://127.0.0.1:8090").rstrip("/")
    AI_SERVICE_TIMEOUT = env_float("AI_SERVICE_TIMEOUT", 30.0)
    AI_SERVICE_CONNECT_TIMEOUT = env_float("AI_SERVICE_CONNECT_TIMEOUT", 3.0)
    # Wall-clock deadline of one diagnosis (all its calls) or one AI proxy call, and of one
    # questionnaire call, seconds; the largest AI answer read, bytes.
    AI_SERVICE_DEADLINE = env_float("AI_SERVICE_DEADLINE", 30.0)
    AI_QUESTIONNAIRE_DEADLINE = env_float("AI_QUESTIONNAIRE_DEADLINE", 10.0)
    AI_MAX_RESPONSE_BYTES = env_int("AI_MAX_RESPONSE_BYTES", 2 * 1024 * 1024)
    AI_SERVICE_TOKEN = env_str("AI_SERVICE_TOKEN")
    # questionnaire/next answers reused per worker for the same anamnesis (0 s: ask every time)
    AI_QUESTION_CACHE_SECONDS = env_float("AI_QUESTION_CACHE_SECONDS", 60.0)
    AI_QUESTION_CACHE_ENTRIES = env_int("AI_QUESTION_CACHE_ENTRIES", 2048)
    AI_SERVICE_RETRIES = env_int("AI_SERVICE_RETRIES", 2)
    AI_IMAGE_TRANSPORT = env_str("AI_IMAGE_TRANSPORT", "inline")
    AI_SPECULATIVE_DIAGNOSIS = env_bool("AI_SPECULATIVE_DIAGNOSIS", True)
    # Diagnoses of one worker process running at once (admission to answer, the AI wait
    # included), and how many more may wait for their turn, first come first served, before the
    # answer is 503 diagnosis_queue_full with Retry-After (app/services/admission.py).
    DIAGNOSIS_CONCURRENCY = env_int("DIAGNOSIS_CONCURRENCY", 16)
    DIAGNOSIS_QUEUE_LIMIT = env_int("DIAGNOSIS_QUEUE_LIMIT", 256)

    # Where the portal is served (printed by `flask demo seed`; `make run` sets it through
    # instance/run.env, see app/cli/run_env.py)
    GATEWAY_URL = env_str("GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")

    # Logging
    LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
    LOG_FORMAT = env_str("LOG_FORMAT", "text")

    # Health check: how long /health waits for the database (seconds)
    HEALTH_DB_TIMEOUT = env_float("HEALTH_DB_TIMEOUT", 2.0)

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        """Raise ``RuntimeError`` when ``config`` is unsafe for this environment."""
        if config["STORAGE_BACKEND"] not in {"s3", "local"}:
            raise RuntimeError("STORAGE_BACKEND must be 's3' or 'local'")
        if config["LOG_FORMAT"] not in {"text", "json"}:
            raise RuntimeError("LOG_FORMAT must be 'text' or 'json'")
        if config.get("REGISTRATION", "open") not in {"open", "invite", "closed"}:
            raise RuntimeError("REGISTRATION must be 'open', 'invite' or 'closed'")
        if config.get("MFA_REQUIRED_FOR", "none") not in {"none", "admin", "all"}:
            raise RuntimeError("MFA_REQUIRED_FOR must be 'none', 'admin' or 'all'")
        if not 30 <= config.get("MFA_TOKEN_SECONDS", 300) <= 3600:
            raise RuntimeError("MFA_TOKEN_SECONDS must be between 30 and 3600")
        _validate_mfa_keys(config)
        if config.get("CONSENT_POLICY", "advisory") not in {"off", "advisory", "enforced"}:
            raise RuntimeError("CONSENT_POLICY must be 'off', 'advisory' or 'enforced'")
        _validate_throttling(config)
        concurrency = config.get("DIAGNOSIS_CONCURRENCY", Config.DIAGNOSIS_CONCURRENCY)
        if concurrency < 1 or config.get("DIAGNOSIS_QUEUE_LIMIT", 0) < 0:
            raise RuntimeError("DIAGNOSIS_CONCURRENCY must be >= 1 and DIAGNOSIS_QUEUE_LIMIT >= 0")
        idle = config.get("PORTAL_IDLE_MINUTES", Config.PORTAL_IDLE_MINUTES)
        if idle <= 0 or config.get("REMEMBER_DAYS", Config.REMEMBER_DAYS) <= 0:
            raise RuntimeError("PORTAL_IDLE_MINUTES and REMEMBER_DAYS must be positive")
        _validate_question_cache(config)
        if config.get("AI_IMAGE_TRANSPORT", "inline") != "inline":
            # The contract's imageUrl transport (presigned S3 URLs) is not implemented yet.
            raise RuntimeError("AI_IMAGE_TRANSPORT must be 'inline' (the only transport built)")


def _validate_question_cache(config: dict[str, Any]) -> None:
    """Raise ``RuntimeError`` for a negative (or NaN) time to live or fewer than one entry."""
    seconds = config.get("AI_QUESTION_CACHE_SECONDS", Config.AI_QUESTION_CACHE_SECONDS)
    if not 0 <= seconds < float("inf"):
        raise RuntimeError(f"AI_QUESTION_CACHE_SECONDS must be 0 (off) or more, got {seconds}")
    entries = config.get("AI_QUESTION_CACHE_ENTRIES", Config.AI_QUESTION_CACHE_ENTRIES)
    if entries < 1:
        raise RuntimeError(f"AI_QUESTION_CACHE_ENTRIES must be at least 1, got {entries}")


def _validate_mfa_keys(config: dict[str, Any]) -> None:
    """Raise ``RuntimeError`` when ``MFA_ENCRYPTION_KEY`` holds anything but Fernet keys."""
    from cryptography.fernet import Fernet

    for key in (config.get("MFA_ENCRYPTION_KEY") or "").split(","):
        try:
            if key.strip():
                Fernet(key.strip())
        except ValueError:
            raise RuntimeError(
                "MFA_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes, from "
                "Fernet.generate_key()), comma-separated"
            ) from None


def _validate_throttling(config: dict[str, Any]) -> None:
    """Raise ``RuntimeError`` for an unparsable limit or an impossible count."""
    from limits import parse

    def setting(name: str) -> Any:
        return config.get(name, getattr(Config, name))

    for name in ("AUTH_ADDRESS_RATE_LIMIT", "LOGIN_RATE_LIMIT"):
        try:
            parse(setting(name))
        except ValueError:
            raise RuntimeError(
                f"{name} must be a limit such as '10 per 15 minutes', got {setting(name)!r}"
            ) from None
    for name, lowest in (
        ("TRUSTED_PROXY_HOPS", 0),
        ("PASSWORD_HASH_CONCURRENCY", 1),
        ("LOGIN_SLOWDOWN_AFTER", 0),
        ("LOGIN_SLOWDOWN_MAX_SECONDS", 1),
    ):
        if int(setting(name)) < lowest:
            raise RuntimeError(f"{name} must be at least {lowest}, got {setting(name)}")


class DevelopmentConfig(Config):
    """Zero-setup defaults: SQLite in the instance folder, local image storage."""

    ENV_NAME = "development"


class TestConfig(Config):
    """The test suite: PostgreSQL from ``TEST_DATABASE_URL``, cheap password hashing."""

    ENV_NAME = "test"
    TESTING = True
    RATELIMIT_ENABLED = False  # the throttle tests enable it on an app of their own
    SQLALCHEMY_DATABASE_URI = env_str("TEST_DATABASE_URL") or None
    SECRET_KEY = "test-secret-key"  # noqa: S105
    JWT_SECRET_KEY = "test-jwt-secret-key-at-least-32-bytes"  # noqa: S105
    PASSWORD_HASH_TIME_COST = 1
    PASSWORD_HASH_MEMORY_KIB = 1024
    PASSWORD_HASH_PARALLELISM = 1
    AI_SERVICE_TIMEOUT = 5.0
    AI_SERVICE_CONNECT_TIMEOUT = 1.0


class ProductionConfig(Config):
    """Production: secrets must be set; secure cookies by default."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    STORAGE_BACKEND = env_str("STORAGE_BACKEND", "s3")
    HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600)
    REGISTRATION = env_str("REGISTRATION", "invite").lower()
    MFA_REQUIRED_FOR = env_str("MFA_REQUIRED_FOR", "admin").lower()

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        """Refuse default or short secrets (and everything the base class refuses)."""
        super().validate(config)
        for name, default in (
            ("SECRET_KEY", DEFAULT_SECRET),
            ("JWT_SECRET_KEY", DEFAULT_JWT_SECRET),
        ):
            value = config.get(name) or ""
            if not value or value == default or len(value) < 32:
                raise RuntimeError(
                    f"{name} must be set to a random value of at least 32 characters in production"
                )
        if not config.get("SQLALCHEMY_DATABASE_URI"):
            raise RuntimeError("DATABASE_URL must be set in production")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """Return the config class named by ``APP_ENV``; raise ``RuntimeError`` on an unknown name."""
    name = env_str("APP_ENV", "development").lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"APP_ENV must be one of {sorted(CONFIGS)}, got {name!r}") from None
