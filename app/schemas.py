"""Pydantic models shared by several blueprints (the error body)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """The inside of every API error."""

    code: str = Field(description="snake_case error code, stable for clients")
    message: str = Field(description="human-readable sentence")
    details: dict[str, Any] = Field(default_factory=dict, description="e.g. field → message")


class ErrorBody(BaseModel):
    """Every ``/api`` error: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail
