"""``/healthy`` (liveness) and ``/health`` (readiness: the database answers)."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, current_app
from pydantic import BaseModel
from spectree import Response

from app.openapi import spec
from app.security import public
from app.services.health import database_ok

bp = Blueprint("health", __name__)


class Liveness(BaseModel):
    """The process is up."""

    status: Literal["healthy"]


class Readiness(BaseModel):
    """The process can serve: its database answers."""

    status: Literal["healthy", "unhealthy"]
    database: Literal["connected", "disconnected"]


@bp.get("/healthy")
@public
@spec.validate(resp=Response(HTTP_200=Liveness), tags=["health"], security={})
def healthy():  # type: ignore[no-untyped-def]
    """Answer 200 while the process runs (liveness probe)."""
    return Liveness(status="healthy")


@bp.get("/health")
@public
@spec.validate(resp=Response(HTTP_200=Readiness, HTTP_503=Readiness), tags=["health"], security={})
def health():  # type: ignore[no-untyped-def]
    """Answer 200 when the database answers within the timeout, else 503 (readiness probe)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if database_ok(app, current_app.config["HEALTH_DB_TIMEOUT"]):
        return Readiness(status="healthy", database="connected")
    return Readiness(status="unhealthy", database="disconnected"), 503
