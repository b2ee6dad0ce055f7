"""DermaDetect API Gateway: the application factory.

``create_app`` reads like a table of contents: config → extensions → security → blueprints →
error handlers → CLI. Nothing here opens a connection; that happens on first use.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider

from config import Config, config_from_env


def create_app(config_class: type[Config] | None = None) -> Flask:
    """Build the gateway for ``config_class`` (default: the class named by ``APP_ENV``).

    Raises:
        RuntimeError: the configuration is unsafe for its environment (e.g. production with a
            default secret).
    """
    config_class = config_class or config_from_env()
    app = Flask(__name__, instance_path=os.environ.get("INSTANCE_PATH") or None)
    app.json = JSONProvider(app)
    app.config.from_object(config_class)
    _resolve_database(app)
    config_class.validate(app.config)

    from app.observability import configure_logging, init_request_ids

    configure_logging(app)
    if config_class.ENV_NAME == "production":
        from app.services.mfa.sealing import warn_without_own_key

        warn_without_own_key(app.config)
    _trust_proxies(app)
    init_request_ids(app)

    from app.request_limits import init_body_limits

    init_body_limits(app)
    _init_extensions(app)

    from app.security import init_security

    init_security(app)
    _refuse_nul_characters(app)
    _register_blueprints(app)

    from app.error_handlers import init_error_handlers

    init_error_handlers(app)
    _init_security_headers(app)
    _admit_logins_at_the_door(app)

    if app.testing or os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        _init_cli(app, config_class)
    return app


def _admit_logins_at_the_door(app: Flask) -> None:
    """Refuse a login or registration beyond the worker's hash slots before Flask handles it
    (:class:`app.services.rate_limits.login_door.LoginDoor`, issue #13)."""
    from app.services.rate_limits.login_door import LoginDoor

    limit = int(app.config["PASSWORD_HASH_CONCURRENCY"])
    app.wsgi_app = LoginDoor(app.wsgi_app, limit)  # type: ignore[method-assign]


def _trust_proxies(app: Flask) -> None:
    """Take the client address and scheme from ``X-Forwarded-For`` / ``-Proto``, but only the
    entries added by the ``TRUSTED_PROXY_HOPS`` proxies in front of the app (Werkzeug's ProxyFix).

    With 0 (the default) the TCP peer is the client: a header any client can write must not
    decide which address the login throttle counts.
    """
    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def _init_cli(app: Flask, config_class: type[Config]) -> None:
    """Add the ``flask`` commands: ours (``app/cli``) and Flask-Migrate's ``flask db``.

    Only for the ``flask`` command line (Flask sets ``FLASK_RUN_FROM_CLI``) and the tests: a
    worker that serves requests never runs a command, and Flask-Migrate imports Alembic and
    Mako, about 4 MB of every worker's memory (bench/README.md).
    """
    from flask_migrate import Migrate

    from app.cli import register_cli
    from app.extensions import db

    Migrate(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    # Settings a class below Config gives itself (a test app's AI URL) win over run.env.
    explicit = frozenset(
        key for cls in config_class.__mro__ if cls not in (Config, object) for key in vars(cls)
    )
    register_cli(app, explicit)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deeply to parse is invalid JSON (a
    ``ValueError``, as ``request.get_json`` expects) instead of a ``RecursionError``."""

    def loads(self, s: str | bytes, **kwargs: object) -> object:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None


def _resolve_database(app: Flask) -> None:
    """Default to a SQLite file in the instance folder; give PostgreSQL a connect timeout."""
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{Path(app.instance_path) / 'dermadetect.db'}"
    elif uri.startswith("postgres://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgres://")
    elif uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    options: dict = {"pool_pre_ping": True}
    if uri.startswith("postgresql+psycopg://"):
        # Not SQLAlchemy's pre-ping (a SELECT 1 on every checkout): the pool asks the kernel
        # whether the server closed the connection, and pings only then (app/services/
        # pool_liveness.py, installed by _init_extensions).
        options["pool_pre_ping"] = False
    if uri.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": 2}
        options["pool_size"] = int(os.environ.get("DB_POOL_SIZE", "10"))
        # No overflow: under gevent hundreds of requests may want a connection at once; beyond
        # the pool they wait for one (cooperatively, up to pool_timeout) instead of each opening
        # and closing a connection of its own (a PostgreSQL backend started per checkout, and
        # "too many clients" at the server: measured with 256 diagnoses in flight, issue #15).
        options["max_overflow"] = 0
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)


def _init_extensions(app: Flask) -> None:
    from sqlalchemy.orm import configure_mappers

    from app import models  # noqa: F401 - register every table on the metadata
    from app.extensions import csrf, db, jwt, login_manager
    from app.services import admission, pool_liveness

    # The ORM's mappers are configured now (CPU only, no connection), not by the first query:
    # under gunicorn that first query came in each new worker, and its 0.3-0.5 s of CPU kept
    # every other request of the worker waiting (a probe of /healthy took 0.5 s while 64
    # anonymous logins arrived, tests/test_throttling_served.py). With preload_app the master
    # does it once, before the workers are forked.
    configure_mappers()
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            pool_liveness.check_on_checkout(engine)
    admission.init_app(app)
    jwt.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from app.blueprints.auth.api import bp as auth_api
    from app.blueprints.cases.api import bp as cases_api
    from app.blueprints.consent.api import bp as consent_api
    from app.blueprints.diagnosis.api import bp as diagnosis_api
    from app.blueprints.health.api import bp as health_api
    from app.blueprints.lesions.api import bp as lesions_api
    from app.blueprints.outcomes.api import bp as outcomes_api
    from app.blueprints.questionnaire.api import bp as questionnaire_api
    from app.blueprints.stats.api import bp as stats_api
    from app.blueprints.worklist.api import bp as worklist_api
    from app.extensions import csrf
    from app.openapi import api_document, init_request_checks, spec

    apis = (health_api, auth_api, cases_api, questionnaire_api, diagnosis_api)
    apis += (worklist_api, outcomes_api, stats_api, consent_api, lesions_api)
    for blueprint in apis:
        app.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # JSON API: bearer tokens, not cookies, so no CSRF

    from app.blueprints.auth.mfa_views import bp as mfa_views
    from app.blueprints.auth.register_views import bp as register_views
    from app.blueprints.auth.views import bp as auth_views
    from app.blueprints.cases.views import bp as cases_views
    from app.blueprints.consent.views import bp as consent_views
    from app.blueprints.diagnosis.views import bp as diagnosis_views
    from app.blueprints.lesions.views import bp as lesions_views
    from app.blueprints.outcomes.views import bp as outcomes_views
    from app.blueprints.questionnaire.views import bp as questionnaire_views
    from app.blueprints.stats.views import bp as stats_views
    from app.blueprints.worklist.views import bp as worklist_views

    portal = (auth_views, mfa_views, register_views, worklist_views, cases_views)
    portal += (questionnaire_views,)
    portal += (diagnosis_views, outcomes_views, stats_views, consent_views)
    portal += (lesions_views,)
    for blueprint in portal:  # portal pages: session + CSRF
        app.register_blueprint(blueprint)

    spec.register(app)
    init_request_checks(app)

    @app.get("/api/openapi.json")
    def openapi_document():  # type: ignore[no-untyped-def]
        """Return the OpenAPI 3 document generated from the pydantic models."""
        return jsonify(api_document())

    @app.get("/api/docs")
    def openapi_docs():  # type: ignore[no-untyped-def]
        """Show the API docs (Swagger UI, vendored under static/, over /api/openapi.json)."""
        return render_template("api/docs.html")


NUL_MESSAGE = "Text may not contain NUL characters (U+0000); remove them and try again."
SURROGATE_MESSAGE = (
    "Text may not contain unpaired surrogates (U+D800 to U+DFFF): they are not characters."
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (PostgreSQL's text and jsonb refuse NUL and lone
    surrogates, which are not Unicode characters), or None."""
    if "\x00" in text:
        return NUL_MESSAGE
    if _SURROGATE.search(text):
        return SURROGATE_MESSAGE
    return None


def _unstorable_paths(value: object, path: str) -> dict[str, str]:
    """The paths in a parsed JSON ``value`` whose key or text cannot be stored, with why."""
    if isinstance(value, str):
        problem = text_problem(value)
        return {path or "body": problem} if problem else {}
    if isinstance(value, dict):
        found: dict[str, str] = {}
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            problem = text_problem(str(key))
            found.update({name: problem} if problem else _unstorable_paths(item, name))
        return found
    if isinstance(value, list):
        found = {}
        for index, item in enumerate(value):
            found.update(_unstorable_paths(item, f"{path}.{index}"))
        return found
    return {}


#: The media types whose body ``request.form`` parses (any other body leaves it empty).
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _refuse_nul_characters(app: Flask) -> None:
    """Answer 422 to any query, form or JSON text with a NUL character or a lone surrogate:
    PostgreSQL's text and jsonb cannot store them, so they would otherwise fail as a 500."""
    from app.errors import ValidationFailed

    @app.before_request
    def _no_nul() -> None:
        # Portal forms only: the API's form fields are typed or checked (the anamnesis), and
        # parsing a form here would consume a body that the API's content-type check reads.
        # Only what the request has is looked at (most have no query, no form and no JSON).
        sources = [request.args] if request.environ.get("QUERY_STRING") else []
        if request.mimetype in _FORM_TYPES and not request.path.startswith("/api/"):
            sources.append(request.form)
        found: dict[str, str] = {}
        for source in sources:
            for key, value in source.items(multi=True):
                problem = text_problem(key) or text_problem(value)
                if problem:
                    found[key or "body"] = problem
        if request.is_json:
            found.update(_unstorable_paths(request.get_json(silent=True), ""))
        if found:
            raise ValidationFailed(found, message=next(iter(found.values())))


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets style attributes from its scripts; scripts stay 'self' only.
API_DOCS_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)

# The portal needs no browser feature beyond the file picker (whose camera capture is not
# governed by this header); the camera stays allowed for 'self' should a page ask for it.
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), "
    "accelerometer=(), gyroscope=(), magnetometer=()"
)


#: Security headers every response carries (besides the policy, Cache-Control and HSTS).
_ALWAYS_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
)


def _init_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        # Each header is added unless the view set its own (one pass over the response's
        # headers, not one per header).
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        path = request.path
        # Only 'self': no inline scripts or styles, no CDN.
        policy = API_DOCS_POLICY if path == "/api/docs" else CONTENT_SECURITY_POLICY
        wanted = [("Content-Security-Policy", policy), *_ALWAYS_HEADERS]
        if response.mimetype == "text/html" or _api_data(path):
            # Pages and API answers carry patient data: never kept in a shared browser's or
            # proxy's cache (RFC 9111 §5.2.2.5).
            wanted.append(("Cache-Control", "no-store"))
        if app.config["HSTS_SECONDS"] > 0:
            # RFC 6797: browsers ignore it over plain HTTP, so it is safe to send always.
            wanted.append(
                (
                    "Strict-Transport-Security",
                    f"max-age={app.config['HSTS_SECONDS']}; includeSubDomains",
                )
            )
        for name, value in wanted:
            if name.lower() not in present:
                headers.add(name, value)
        return response


def _api_data(path: str) -> bool:
    """Whether ``path`` is an ``/api`` address that may answer patient data (all but the docs)."""
    return path.startswith("/api/") and path not in {"/api/openapi.json", "/api/docs"}
