"""token check notifications: users and blocklist changes are announced on channel token_check

Every worker keeps the token checks it has made (app/services/token_checks); these triggers tell
every worker, in the transaction that makes the change, which checks no longer hold. They sit in
the database, the lowest common place: whatever changes a user row (a deactivation, a role
change, a password reset, a session-version bump by any service, a CLI command or an
administrator's SQL) or puts a token on the blocklist is announced, and only once it commits.

Payloads: ``user:<id>`` (a users row updated or deleted), ``jti:<jti>`` (a token revoked),
``all`` (users truncated). PostgreSQL only; SQLite (development) has no NOTIFY, and there the
gateway keeps no token checks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:40:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

CHANNEL = "token_check"

UPGRADE = [
    f"""
    CREATE FUNCTION token_check_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{CHANNEL}', 'user:' || OLD.id);
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION token_check_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{CHANNEL}', 'jti:' || NEW.jti);
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION token_check_users_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{CHANNEL}', 'all');
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER users_token_check AFTER UPDATE OR DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION token_check_user_changed()
    """,
    """
    CREATE TRIGGER users_truncated_token_check AFTER TRUNCATE ON users
        FOR EACH STATEMENT EXECUTE FUNCTION token_check_users_truncated()
    """,
    """
    CREATE TRIGGER token_blocklist_token_check AFTER INSERT ON token_blocklist
        FOR EACH ROW EXECUTE FUNCTION token_check_token_revoked()
    """,
]

DOWNGRADE = [
    "DROP TRIGGER IF EXISTS token_blocklist_token_check ON token_blocklist",
    "DROP TRIGGER IF EXISTS users_truncated_token_check ON users",
    "DROP TRIGGER IF EXISTS users_token_check ON users",
    "DROP FUNCTION IF EXISTS token_check_users_truncated()",
    "DROP FUNCTION IF EXISTS token_check_token_revoked()",
    "DROP FUNCTION IF EXISTS token_check_user_changed()",
]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DOWNGRADE:
        op.execute(statement)
