"""Declarative base with a constraint naming convention, and the timestamp helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON column: JSONB on PostgreSQL, plain JSON elsewhere (the SQLite zero-setup default).
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """``TIMESTAMP WITH TIME ZONE`` that always reads back as an aware UTC ``datetime``.

    PostgreSQL keeps the zone; SQLite (the zero-setup default) does not, so naive values read
    from it are marked UTC, which is what was written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given for a timezone-aware column")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


#: Timezone-aware timestamp column type.
TZDateTime = UTCDateTime()


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC ``datetime`` (use as a callable default)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base for every model; constraints get predictable names for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
