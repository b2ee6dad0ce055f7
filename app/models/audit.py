"""The audit trail: who did what to which case or image, when, and from where."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, TZDateTime, utcnow


class AuditEvent(Base):
    """One audited action, append-only.

    ``actor_id``, ``case_id`` and ``image_id`` are plain columns without foreign keys on purpose:
    the trail must outlive the user, case or image it mentions (a purge or an image deletion
    must neither delete nor blank out the record of who saw what). ``actor_id`` is null for the
    CLI and system jobs. ``action`` is a dotted verb such as ``case.read`` or ``image.upload``;
    ``details`` holds non-clinical context (changed field names, filters), never answers or notes.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_case_id_created_at", "case_id", "created_at"),)

    # BIGINT on PostgreSQL (the trail grows without bound); SQLite autoincrements only INTEGER.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(50), index=True)
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    image_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} actor={self.actor_id} case={self.case_id}>"
