"""Users (physicians and admins) and the JWT blocklist."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TZDateTime, utcnow


class Role(enum.StrEnum):
    """What a user may do: physicians see their own cases, admins everything."""

    PHYSICIAN = "physician"
    ADMIN = "admin"


class User(UserMixin, Base):
    """A person who logs in. ``email`` is stored trimmed and lower-cased, unique."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=Role.PHYSICIAN.value)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)  # type: ignore[assignment]
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # Bumped on logout-everywhere / deactivation / password reset: sessions carry it and are
    # rejected when it no longer matches (flask-login alternative id).
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # Second factor (TOTP, RFC 6238): the shared secret from the start of enrolment, encrypted
    # (a Fernet token of the base32 secret: app/services/mfa/sealing.py, never read it directly);
    # MFA is on once ``mfa_enabled_at`` is set. ``mfa_last_step`` is the time step of the last
    # code accepted, so a code cannot be used twice (RFC 6238 §5.2).
    mfa_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    @property
    def mfa_enabled(self) -> bool:
        """Whether logging in asks for a second factor."""
        return self.mfa_enabled_at is not None

    @property
    def is_admin(self) -> bool:
        """Whether the user has the admin role."""
        return self.role == Role.ADMIN.value

    def get_id(self) -> str:
        """Return the flask-login session id: ``"<user id>:<session version>"``."""
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class TokenBlocklist(Base):
    """A revoked JWT (by ``jti``), kept until it would have expired anyway."""

    __tablename__ = "token_blocklist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    token_type: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)
    revoked_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class RecoveryCode(Base):
    """A single-use MFA recovery code, stored as its SHA-256 (the codes are random, 50 bits)."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
