"""``flask users``: create, invite, list, set roles, deactivate / activate, reset passwords, MFA.

Passwords are never taken as an option value (they would land in shell history and ``ps``):
they are prompted twice without echo, or read as one line from stdin with ``--password-stdin``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import AppGroup

from app.cli.common import fails_cleanly
from app.models import Role, User
from app.services import accounts, mfa
from app.services.registration import invites

ROLES = [role.value for role in Role]

users = AppGroup(
    "users",
    help="Manage accounts: create, invite, list, set roles, deactivate/activate, reset passwords.",
)

_email_option = click.option(
    "--email", required=True, help="The account's email address (any letter case)."
)
_password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password as one line from standard input instead of prompting (for scripts).",
)


def _valid_email(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise click.BadParameter(str(error)) from None
    return value


def _read_password(*, from_stdin: bool) -> str:
    """Return a new password: one line of stdin, or typed twice at hidden prompts.

    At the prompts, a weak password is refused before it has to be repeated.
    """
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("--password-stdin read an empty line; nothing was changed.")
        return password
    password = click.prompt("Password", hide_input=True)
    if (why := accounts.password_problem(password)) is not None:
        raise click.ClickException(f"{why} Nothing was changed.")
    repeated = click.prompt("Repeat the password", hide_input=True)
    if repeated != password:
        raise click.ClickException("The two passwords do not match; nothing was changed.")
    return password


def _require_known(email: str) -> None:
    if accounts.find_by_email(email) is None:
        raise click.ClickException(f"No user with email {accounts.normalize_email(email)}.")


@users.command("create", short_help="Create an account (password prompted, or from stdin).")
@click.option(
    "--email", required=True, callback=_valid_email, help="Email address; it is the login name."
)
@click.option("--name", "full_name", required=True, help="Full name, e.g. 'Dr. Ada Lovelace'.")
@click.option(
    "--role",
    type=click.Choice(ROLES, case_sensitive=False),
    default=Role.PHYSICIAN.value,
    show_default=True,
    help="physician: own cases; admin: everything.",
)
@_password_stdin_option
@fails_cleanly
def create_user(email: str, full_name: str, role: str, password_stdin: bool) -> None:
    """Create an account; the password is prompted twice (hidden) or read from stdin.

    \b
    Examples:
      flask users create --email ada@example.org --name "Dr. Ada Lovelace" --role admin
      printf '%s\\n' "$PASSWORD" | flask users create --email ... --name ... --password-stdin
    """
    if accounts.find_by_email(email) is not None:  # say so before asking for a password
        raise click.ClickException(
            f"An account with email {accounts.normalize_email(email)} already exists."
        )
    password = _read_password(from_stdin=password_stdin)
    user = accounts.create_user(
        email=email, password=password, full_name=full_name, role=role.lower()
    )
    click.echo(
        f"Created {user.role} {user.full_name} <{user.email}> (id {user.id}); they can log in now."
    )


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    if moment.tzinfo is not None:  # PostgreSQL answers in the session's time zone
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")  # naive (SQLite) values are stored as UTC


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def _as_json(user: User) -> dict[str, object]:
    from app.blueprints.auth.schemas import UserOut  # the API's representation of a user

    return UserOut.model_validate(user).model_dump(mode="json")


@users.command("list")
@click.option("--role", type=click.Choice(ROLES, case_sensitive=False), help="Only this role.")
@click.option("--inactive", is_flag=True, help="Only deactivated accounts.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_users(role: str | None, inactive: bool, as_json: bool) -> None:
    """List accounts ordered by email, as a table or as JSON."""
    found = accounts.list_users(role=role.lower() if role else None, inactive_only=inactive)
    if as_json:
        click.echo(json.dumps([_as_json(user) for user in found], indent=2))
        return
    if not found:
        filtered = role or inactive
        click.echo(
            "No users match these filters."
            if filtered
            else "No users yet; create one with `flask users create`."
        )
        return
    header = ["ID", "EMAIL", "NAME", "ROLE", "STATUS", "CREATED", "LAST LOGIN"]
    rows = [
        [
            str(user.id),
            user.email,
            user.full_name,
            user.role,
            "active" if user.is_active else "inactive",
            _when(user.created_at),
            _when(user.last_login_at),
        ]
        for user in found
    ]
    click.echo(_table(rows, header))
    click.echo(f"\n{len(found)} user{'s' if len(found) != 1 else ''}.")


@users.command("set-role")
@_email_option
@click.option(
    "--role",
    type=click.Choice(ROLES, case_sensitive=False),
    required=True,
    help="physician: own cases; admin: everything.",
)
@fails_cleanly
def set_role(email: str, role: str) -> None:
    """Give an account the physician or the admin role."""
    before = accounts.find_by_email(email)
    previous = before.role if before is not None else None
    change = accounts.set_role(email=email, role=role.lower())
    if change.changed:
        click.echo(f"{change.user.email} is now {change.user.role} (was {previous}).")
    else:
        click.echo(f"{change.user.email} already has the role {change.user.role}; nothing changed.")


@users.command("deactivate", short_help="Stop an account from logging in; revokes its tokens.")
@_email_option
@fails_cleanly
def deactivate(email: str) -> None:
    """Stop an account from logging in and revoke every token and session it holds."""
    change = accounts.set_active(email=email, active=False)
    if change.changed:
        click.echo(
            f"Deactivated {change.user.email}: they can no longer log in, and every access "
            "token, refresh token and portal session they held is revoked."
        )
    else:
        click.echo(
            f"{change.user.email} was already inactive; it cannot log in and holds no valid token."
        )


@users.command("activate")
@_email_option
@fails_cleanly
def activate(email: str) -> None:
    """Let a deactivated account log in again."""
    change = accounts.set_active(email=email, active=True)
    if change.changed:
        click.echo(
            f"Activated {change.user.email}: they can log in again "
            "(tokens issued before the deactivation stay revoked)."
        )
    else:
        click.echo(f"{change.user.email} is already active; nothing changed.")


@users.command("reset-password", short_help="Set a new password; revokes all tokens.")
@_email_option
@_password_stdin_option
@fails_cleanly
def reset_password(email: str, password_stdin: bool) -> None:
    """Set a new password (prompted twice, hidden, or read from stdin); revokes all tokens.

    \b
    Examples:
      flask users reset-password --email ada@example.org
      printf '%s\\n' "$PASSWORD" | flask users reset-password --email ... --password-stdin
    """
    _require_known(email)  # say so before asking for a password
    password = _read_password(from_stdin=password_stdin)
    user = accounts.reset_password(email=email, password=password)
    click.echo(
        f"Password of {user.email} reset; every token and portal session they held is revoked, "
        "so they log in again with the new password."
    )


@users.command(
    "invite", short_help="Make a single-use invitation to register (REGISTRATION=invite)."
)
@click.option(
    "--email", required=True, callback=_valid_email, help="The address the invitation is for."
)
@click.option(
    "--role",
    type=click.Choice(ROLES, case_sensitive=False),
    default=Role.PHYSICIAN.value,
    show_default=True,
    help="The role the new account gets.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 90),
    default=invites.DEFAULT_DAYS,
    show_default=True,
    help="Days the invitation stays valid.",
)
@fails_cleanly
def invite(email: str, role: str, days: int) -> None:
    """Make a single-use invitation for one address; print its token (shown only this once).

    \b
    The invited person registers in the portal at /register?invite=<token>, or with the token:
      POST /api/auth/register {"email": ..., "password": ..., "full_name": ..., "invite_token": ...}
    Example:
      flask users invite --email ada@example.org --role physician --days 7
    """
    if accounts.find_by_email(email) is not None:
        raise click.ClickException(
            f"An account with email {accounts.normalize_email(email)} already exists."
        )
    issued = invites.create_invite(email=email, role=role.lower(), days=days)
    click.echo(
        f"Invitation for {issued.invite.email} ({issued.invite.role}), valid until "
        f"{_when(issued.invite.expires_at)}, usable once. Send the portal link "
        f"<portal>/register?invite=<token> or the token itself (for the API):\n{issued.token}"
    )


@users.command("mfa-reset", short_help="Turn a user's second factor off (lost phone).")
@_email_option
@fails_cleanly
def mfa_reset(email: str) -> None:
    """Turn off two-factor authentication for an account whose phone and recovery codes are lost.

    Deletes the TOTP secret and the recovery codes and ends every session and token of the
    account. If MFA_REQUIRED_FOR applies to it, its next portal login asks to set MFA up again.
    """
    user = mfa.reset(email=email)
    click.echo(
        f"Two-factor authentication of {user.email} is off; every session and token it held is "
        "revoked. They can set it up again in the portal (Two-factor)."
    )


@users.command(
    "mfa-rotate-key", short_help="Re-encrypt every TOTP secret with the first MFA_ENCRYPTION_KEY."
)
@fails_cleanly
def mfa_rotate_key() -> None:
    """Re-encrypt every stored TOTP secret with the first key of MFA_ENCRYPTION_KEY.

    \b
    Rotating the key:
      1. generate a key (cryptography's Fernet.generate_key()):
         python -c 'from cryptography.fernet import Fernet as F; print(F.generate_key().decode())'
      2. MFA_ENCRYPTION_KEY=<new>,<old>  (every key decrypts, the first encrypts); restart
      3. flask users mfa-rotate-key
      4. MFA_ENCRYPTION_KEY=<new>; restart
    Without MFA_ENCRYPTION_KEY the key is derived from SECRET_KEY; it is always tried last, so
    step 2 can start from there. Fails, changing nothing, when a secret opens with no key.
    """
    count = mfa.rotate_secrets()
    click.echo(f"Re-encrypted {count} TOTP secret{'' if count == 1 else 's'} with the first key.")
