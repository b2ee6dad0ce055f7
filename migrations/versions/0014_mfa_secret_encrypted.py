"""users.mfa_secret encrypted at rest (a Fernet token of the TOTP secret, MFA_ENCRYPTION_KEY)

The column is widened from 64 to 255 characters (a token of a 32-character secret is 140) and
every secret already stored is encrypted with the first key of ``MFA_ENCRYPTION_KEY`` (or the
key derived from ``SECRET_KEY`` when it is unset: app/services/mfa/sealing.py), so existing
enrolments keep working. Run it with the settings the gateway uses.

Downgrade decrypts them back into the 64-character column (it fails, changing nothing, when a
secret opens with no configured key).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:00:00

"""

from alembic import op
import sqlalchemy as sa
from flask import current_app

from app.services.mfa.sealing import seal, unseal

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_users = sa.table("users", sa.column("id", sa.Integer), sa.column("mfa_secret", sa.String))


def _convert(change) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_users.c.id, _users.c.mfa_secret).where(_users.c.mfa_secret.is_not(None))
    ).all()
    for user_id, value in rows:
        connection.execute(
            _users.update().where(_users.c.id == user_id).values(mfa_secret=change(value))
        )


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "mfa_secret", existing_type=sa.String(length=64), type_=sa.String(length=255)
        )
    _convert(lambda secret: seal(secret, current_app.config))


def downgrade():
    _convert(lambda token: unseal(token, current_app.config))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "mfa_secret", existing_type=sa.String(length=255), type_=sa.String(length=64)
        )
