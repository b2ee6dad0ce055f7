"""Self-registration under the ``REGISTRATION`` policy: ``open``, ``invite`` or ``closed``.

- ``closed``: nobody registers; admins create accounts with ``flask users create``.
- ``invite`` (production default): a single-use invitation (:mod:`.invites`) for the same email
  address is required; the account gets the invitation's role. The answer is the new account
  (201): only the holder of the token can ask, so it reveals nothing to anybody else.
- ``open`` (development default): anybody registers a physician account. So that registration
  is no oracle for which addresses have accounts, the answer (202, :data:`ACCEPTED_MESSAGE`)
  and the work done are the same whether or not the address exists: the password is checked and
  hashed, then one ``INSERT … ON CONFLICT DO NOTHING`` runs and commits. When the address had
  an account, nothing about it changes.

Every registration request counts against the client address (``AUTH_ADDRESS_RATE_LIMIT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, PermissionDenied
from app.extensions import db
from app.models import Role, User
from app.services import accounts
from app.services.rate_limits import auth_throttle
from app.services.registration import invites

ACCEPTED_MESSAGE = (
    "Registration received. If this email address had no account, it has one now: log in with "
    "the password you chose. If it had one, nothing was changed."
)


class Policy(StrEnum):
    """The values of ``REGISTRATION``."""

    OPEN = "open"
    INVITE = "invite"
    CLOSED = "closed"


class InviteRequired(PermissionDenied):
    """403: registration needs an invitation (``REGISTRATION=invite``) and none was sent."""

    code = "invite_required"
    message = "Registration needs an invitation; ask an administrator for one."


@dataclass(frozen=True)
class Registration:
    """The outcome: ``user`` when an invitation made it (201), else ``None`` (open: 202)."""

    email: str
    user: User | None


def register(
    *, email: str, password: str, full_name: str, invite_token: str | None = None
) -> Registration:
    """Register a self-service account under the ``REGISTRATION`` policy (module docstring).

    Raises:
        TooManyRequests: 429, this address registered too often.
        PermissionDenied: ``registration_disabled`` (closed), ``invite_required``,
            ``invite_invalid`` (unknown, used, expired or for another address).
        ValidationFailed: weak password, empty name.
        Conflict: ``email_taken``, only with a valid invitation for an address that has an account.
        ServerBusy: 429, every password-hash slot of this worker is taken.
    """
    auth_throttle().hit_address("register")
    policy = Policy(current_app.config["REGISTRATION"])
    if policy is Policy.CLOSED:
        raise PermissionDenied(
            "Self-registration is disabled; ask an administrator.", code="registration_disabled"
        )
    email = accounts.normalize_email(email)
    if policy is Policy.INVITE:
        if not invite_token:
            raise InviteRequired()
        return Registration(email, _register_invited(email, password, full_name, invite_token))
    accounts.check_new_account(password=password, full_name=full_name, role=Role.PHYSICIAN.value)
    _insert_unless_taken(email, accounts.hash_password(password), full_name.strip())
    return Registration(email, None)


def _register_invited(email: str, password: str, full_name: str, token: str) -> User:
    invite = invites.valid_invite(token=token, email=email)
    accounts.check_new_account(password=password, full_name=full_name, role=invite.role)
    if accounts.find_by_email(email) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    user = User(
        email=email,
        password_hash=accounts.hash_password(password),
        full_name=full_name.strip(),
        role=invite.role,
    )
    db.session.add(user)
    try:
        db.session.flush()
        invites.mark_used(invite, user_id=user.id)
        db.session.commit()
    except IntegrityError:  # a concurrent registration of the same address won
        db.session.rollback()
        raise Conflict("An account with this email already exists.", code="email_taken") from None
    except invites.InviteInvalid:
        db.session.rollback()
        raise
    return user


def _insert_unless_taken(email: str, password_hash: str, full_name: str) -> None:
    """One statement whatever the address: ``INSERT … ON CONFLICT (email) DO NOTHING``."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(User)
        .values(email=email, password_hash=password_hash, full_name=full_name)
        .on_conflict_do_nothing(index_elements=["email"])
    )
    db.session.execute(statement)
    db.session.commit()
