"""Declarative base with a constraint naming convention, and the timestamp helpers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON column: JSONB on PostgreSQL, plain JSON elsewhere (the SQLite zero-setup default).
JSONType = JSON().with_variant(JSONB(), "postgresql")

#: Timezone-aware timestamp column type.
TZDateTime = DateTime(timezone=True)


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC ``datetime`` (use as a callable default)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base for every model; constraints get predictable names for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
