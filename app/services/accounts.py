"""Accounts: registration, password checks, login, roles, activation.

Passwords are hashed with argon2id (argon2-cffi, RFC 9106), the winner of the Password Hashing
Competition; cost parameters come from config so tests can use cheap ones.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.concurrency import run_at_low_priority
from app.errors import Conflict, NotFound, PermissionDenied, Unauthorized, ValidationFailed
from app.extensions import db
from app.models import Role, User
from app.models.base import utcnow
from app.services.rate_limits import (
    auth_throttle,
    password_hash_slot,
    refuse_unless_slot_free,
)
from app.services.sessions import revoke_everything

T = TypeVar("T")

MIN_PASSWORD_LENGTH = 10
_CHARACTER_CLASSES = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]")


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    key = (
        cfg["PASSWORD_HASH_TIME_COST"],
        cfg["PASSWORD_HASH_MEMORY_KIB"],
        cfg["PASSWORD_HASH_PARALLELISM"],
    )
    cache = current_app.extensions.setdefault("password_hashers", {})
    if key not in cache:
        cache[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2])
    return cache[key]


def normalize_email(email: str) -> str:
    """Return the one form of ``email`` that is stored and looked up.

    Trimmed, Unicode NFC, the domain decoded from IDNA/punycode to Unicode
    (``arzt@xn--mnchen-3ya.example`` → ``arzt@münchen.example``, email-validator's
    normalisation, RFC 5890) and lower-cased. Text that is not an email address is only
    trimmed, NFC-normalised and lower-cased: it matches nobody, and logging in with it fails like
    any unknown address (never a different error).
    """
    text = unicodedata.normalize("NFC", email.strip())
    with contextlib.suppress(EmailNotValidError):  # not an address: it matches nobody
        text = validate_email(text, check_deliverability=False).normalized
    return text.lower()


def password_problem(password: str) -> str | None:
    """Return why ``password`` is too weak, or ``None`` when it is acceptable.

    Rule: at least 10 characters and at least two character classes (lower, upper, digit, other).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
    classes = sum(1 for pattern in _CHARACTER_CLASSES if re.search(pattern, password))
    if classes < 2:
        return (
            "Password must mix at least two kinds of characters "
            "(lower case, upper case, digits, symbols)."
        )
    return None


def password_work(operation: Callable[[], T]) -> T:
    """Run ``operation``, an argon2 hash or verification: the one place passwords are hashed.

    Holds one of the worker's ``PASSWORD_HASH_CONCURRENCY`` slots for the duration (argon2id
    at the production cost is 64 MiB and about 0.2 s of CPU per call). The work itself runs in a
    native thread of low CPU priority (:func:`app.concurrency.run_at_low_priority`): argon2
    releases the GIL and yields the CPU to the worker's own thread, so the worker's other
    requests (``/healthy`` included) go on meanwhile.

    Raises:
        ServerBusy: 429 at once when every slot of this worker is taken; nothing was hashed.
    """
    with password_hash_slot():
        return run_at_low_priority(operation)


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``. Raises ``ServerBusy`` (see ``password_work``)."""
    hasher = _hasher()
    return password_work(lambda: hasher.hash(password))


def _verify(password_hash: str, password: str) -> bool:
    hasher = _hasher()

    def verify() -> bool:
        try:
            return hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return password_work(verify)


def password_matches(user: User, password: str) -> bool:
    """Tell whether ``password`` is ``user``'s password (no login recorded, nothing changed)."""
    return _verify(user.password_hash, password)


def get_user(user_id: int) -> User | None:
    """Return the user with ``user_id`` or ``None``."""
    return db.session.get(User, user_id)


def find_by_email(email: str) -> User | None:
    """Return the user with ``email`` (any letter case, surrounding spaces ignored) or ``None``."""
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def check_new_account(*, password: str, full_name: str, role: str) -> None:
    """Raise ``ValidationFailed`` (by field) for a weak password, an empty name, an unknown role."""
    problems: dict[str, str] = {}
    if (why := password_problem(password)) is not None:
        problems["password"] = why
    if not full_name.strip():
        problems["full_name"] = "Full name is required."
    if role not in {r.value for r in Role}:
        problems["role"] = f"Role must be one of: {', '.join(r.value for r in Role)}."
    if problems:
        raise ValidationFailed(problems)


def create_user(
    *, email: str, password: str, full_name: str, role: str = Role.PHYSICIAN.value
) -> User:
    """Create and commit a user.

    Raises:
        ValidationFailed: weak password (field ``password``), empty name, unknown role.
        Conflict: ``email_taken`` when the email exists in any spelling (``normalize_email``).
    """
    check_new_account(password=password, full_name=full_name, role=role)
    email = normalize_email(email)
    if find_by_email(email) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    user = User(
        email=email,
        password_hash=hash_password(password),
        full_name=full_name.strip(),
        role=role,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent registration won the race
        db.session.rollback()
        raise Conflict("An account with this email already exists.", code="email_taken") from None
    return user


def authenticate(*, email: str, password: str) -> User:
    """Return the user whose credentials match and record the login time.

    The throttle (:mod:`app.services.rate_limits`) may refuse the attempt before anything is
    verified. An unknown email still runs one hash verification and counts as a failure, so
    both failures take comparable time and are throttled alike.

    Raises:
        Unauthorized: ``invalid_credentials`` for an unknown email or a wrong password (same body).
        PermissionDenied: ``account_inactive`` when the password is right but the account is off.
        Throttled: 429 ``too_many_requests`` (this address, any account),
            ``too_many_attempts`` (this account from this address),
            ``login_slowed_down`` (the account, from an address it never logged in from) or
            ``server_busy`` (every hash slot of this worker taken).
    """
    refuse_unless_slot_free()  # a burst is refused before any query (hash_slots)
    email = normalize_email(email)
    throttle = auth_throttle()
    throttle.hit_address("login")
    throttle.check(email)
    refuse_unless_slot_free()  # the slots may have filled during the throttle's round trips
    user = find_by_email(email)
    if user is None:
        _verify(_dummy_hash(), password)
        throttle.failed(email)
        raise Unauthorized("Email or password is incorrect.", code="invalid_credentials")
    if not _verify(user.password_hash, password):
        throttle.failed(email)
        raise Unauthorized("Email or password is incorrect.", code="invalid_credentials")
    if not user.is_active:
        raise PermissionDenied("This account has been deactivated.", code="account_inactive")
    if not user.mfa_enabled:  # with MFA, the address is known once the code is right too
        throttle.succeeded(email)
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("password_hashers", {})
    if "dummy" not in cache:
        cache["dummy"] = hash_password("dummy-password-for-timing-1")
    return cache["dummy"]


def prepare_password_checks() -> None:
    """Compute the hash an unknown email is verified against, before the first login needs it.

    Called when a worker starts (:func:`app.concurrency.warm_up_worker`): otherwise the first
    login with an unknown email in each worker computes two hashes, and a burst of them right
    after a worker (re)start (``max_requests``) costs twice the CPU. Needs an app context.
    """
    _dummy_hash()


@dataclass(frozen=True)
class UserChange:
    """What an admin changed on a user, for messages and audit."""

    user: User
    changed: bool


def _require_user(email: str) -> User:
    user = find_by_email(email)
    if user is None:
        raise NotFound(f"No user with email {normalize_email(email)}.", code="user_not_found")
    return user


def set_role(*, email: str, role: str) -> UserChange:
    """Give the user ``email`` the ``role``. Raises ``NotFound``, ``ValidationFailed``."""
    if role not in {r.value for r in Role}:
        raise ValidationFailed(
            {"role": f"Role must be one of: {', '.join(r.value for r in Role)}."}
        )
    user = _require_user(email)
    changed = user.role != role
    user.role = role
    db.session.commit()
    return UserChange(user, changed)


def set_active(*, email: str, active: bool) -> UserChange:
    """Activate or deactivate ``email``; deactivation revokes every token and session it holds.

    Raises ``NotFound``.
    """
    user = _require_user(email)
    changed = user.is_active != active
    user.is_active = active
    if not active:
        revoke_everything(user, commit=False)
    db.session.commit()
    return UserChange(user, changed)


def reset_password(*, email: str, password: str) -> User:
    """Set a new password and revoke the user's tokens and sessions.

    Raises ``NotFound``, ``ValidationFailed`` (weak password).
    """
    if (why := password_problem(password)) is not None:
        raise ValidationFailed({"password": why})
    user = _require_user(email)
    user.password_hash = hash_password(password)
    revoke_everything(user, commit=False)
    db.session.commit()
    return user


def list_users(*, role: str | None = None, inactive_only: bool = False) -> list[User]:
    """Return users ordered by email, optionally of one ``role`` or only the inactive ones."""
    stmt = select(User).order_by(func.lower(User.email))
    if role:
        stmt = stmt.where(User.role == role)
    if inactive_only:
        stmt = stmt.where(User.is_active.is_(False))
    return list(db.session.scalars(stmt))
