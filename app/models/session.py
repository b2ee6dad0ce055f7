"""Portal sessions, remember-me tokens and the drafts kept when a session ended mid-typing.

Secrets are never stored: a portal session and a remember-me token are each found by the
SHA-256 of the random value their cookie carries, so a copy of these tables logs nobody in.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, TZDateTime, utcnow


class PortalSession(Base):
    """One login in a browser. The signed session cookie carries the secret whose SHA-256 is
    ``key_hash``; logout deletes the row, so a replayed cookie leads to the login page.

    ``locked_at`` is set when the session ended by inactivity (the idle lock) rather than by
    logout: a form posted with it afterwards is kept as a draft of its user (see
    :class:`Draft`), and nothing else is allowed with it.
    """

    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    locked_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(300), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)

    def __repr__(self) -> str:
        return f"<PortalSession {self.id} user={self.user_id}>"


class RememberToken(Base):
    """A remember-me token of one browser: found by the SHA-256 of the cookie's random value,
    replaced by a new one at each use, deleted at logout; useless after ``expires_at``."""

    __tablename__ = "remember_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)

    def __repr__(self) -> str:
        return f"<RememberToken {self.id} user={self.user_id}>"


class Draft(Base):
    """What a user posted on a case after the session had ended (an answer or a review),
    kept to be put back into the form after the next login. One per user, case and form.

    ``fields`` holds the posted form fields (name → list of values), the CSRF token excluded.
    """

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "case_id", "form", name="uq_drafts_user_case"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No index of its own: the unique constraint (user_id first) serves lookups by user.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    form: Mapped[str] = mapped_column(String(20))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Draft {self.id} user={self.user_id} case={self.case_id} {self.form}>"
