"""Recovery codes: ten single-use codes shown once at enrolment, for a lost phone.

Each code is 10 characters from an alphabet without look-alikes (about 49 bits), shown as
``xxxxx-xxxxx``; only its SHA-256 is stored (the codes are random, so a slow hash adds nothing
against a copy of the table, and the login throttle limits guessing).
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, func, select, update

from app.extensions import db
from app.models import RecoveryCode, User
from app.models.base import utcnow

COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_LENGTH = 10


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _digest(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def replace_codes(user: User) -> list[str]:
    """Replace ``user``'s recovery codes by ten new ones (in the transaction; not committed)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_digest(raw)))
    return codes


def use_code(user: User, code: str) -> bool:
    """Spend ``code`` if it is one of ``user``'s unused recovery codes (not committed)."""
    if len(_normalise(code)) != _LENGTH:
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def remaining(user: User) -> int:
    """Return how many unused recovery codes ``user`` has."""
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def delete_codes(user: User) -> None:
    """Delete every recovery code of ``user`` (in the transaction; not committed)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
