"""Pydantic models for the auth JSON bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator


class RegisterIn(BaseModel):
    """``POST /api/auth/register`` body."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=1, max_length=256)
    full_name: str = Field(min_length=1, max_length=200)
    invite_token: str | None = Field(
        default=None,
        max_length=200,
        description="The invitation from `flask users invite`; required when REGISTRATION=invite.",
    )

    @field_validator("full_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Full name is required.")
        return value.strip()


class RegistrationAccepted(BaseModel):
    """202 to an open registration: the same answer whether or not the address had an account."""

    message: str
    email: str = Field(description="The address as stored (normalised).")


class LoginIn(BaseModel):
    """``POST /api/auth/login`` body."""

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class MfaChallenge(BaseModel):
    """202 from ``POST /api/auth/login`` when the account uses MFA: the second step's token."""

    mfa_required: Literal[True] = True
    mfa_token: str = Field(description="Send it with the code to POST /api/auth/mfa.")
    expires_in: int = Field(description="Seconds the mfa_token stays valid.")


class MfaIn(BaseModel):
    """``POST /api/auth/mfa`` body: the token from the login and a code."""

    mfa_token: str = Field(min_length=1, max_length=512)
    code: str = Field(
        min_length=1,
        max_length=32,
        description="The authenticator app's 6-digit code, or an unused recovery code.",
    )


class LogoutIn(BaseModel):
    """``POST /api/auth/logout`` body: optionally a refresh token (of the same user) whose
    login is to be ended as well; the login of the bearer token always ends."""

    refresh_token: str | None = Field(default=None, max_length=4096)


class TokenPair(BaseModel):
    """Access and refresh tokens; ``expires_in`` is the access token lifetime in seconds."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 token type
    expires_in: int


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Literal["physician", "admin"]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class Message(BaseModel):
    """A plain confirmation."""

    message: str
