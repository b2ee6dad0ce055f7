"""Pydantic models shared by several blueprints (the error body, the ``Idempotency-Key``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema


class ErrorDetail(BaseModel):
    """The inside of every API error."""

    code: str = Field(description="snake_case error code, stable for clients")
    message: str = Field(description="human-readable sentence")
    details: dict[str, Any] = Field(default_factory=dict, description="e.g. field → message")


class ErrorBody(BaseModel):
    """Every ``/api`` error: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


def _without_default(schema: dict[str, Any]) -> None:
    """Drop ``default: null`` from a header's schema: a header is absent, never null."""
    schema.pop("default", None)


class IdempotencyHeaders(BaseModel):
    """The ``Idempotency-Key`` request header of the operations that make a retry safe."""

    # The length is documented here and checked by the service (app/services/idempotency.py),
    # with its own message.
    idempotency_key: Annotated[
        str | None, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255})
    ] = Field(
        default=None,
        alias="Idempotency-Key",
        json_schema_extra=_without_default,
        description=(
            "Makes a retry safe (1 to 255 characters, chosen by the client, e.g. a UUID; "
            "remembered per user for 24 hours). The same key with the same request replays the "
            "first answer with its status and the header `Idempotent-Replayed: true`; with a "
            "different request it is 422 `idempotency_key_reused`; while the first request runs, "
            "409 `idempotency_in_progress`. A 5xx frees the key, unless the request had already "
            "kept a case (and its photo): then a retry with the key continues on that case."
        ),
    )
