"""The identity migrations (invites, MFA) upgrade and downgrade with rows in the tables."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.conftest import ADMIN_URL


@pytest.fixture
def scratch_app(make_app):
    """An app on a database of its own (created empty, dropped afterwards)."""
    name = f"dermadetect_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    app = make_app(SQLALCHEMY_DATABASE_URI=f"{base}/{name}")
    yield app
    with app.app_context():
        db.engine.dispose()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def rows(sql: str) -> list:
    """Run ``sql`` and end the transaction (an open one would block the next migration)."""
    found = list(db.session.execute(text(sql)))
    db.session.commit()
    return found


def test_invites_upgrade_and_downgrade_with_rows(scratch_app):
    with scratch_app.app_context():
        upgrade(revision="0005")
        db.session.execute(
            text(
                "INSERT INTO users (email, password_hash, full_name, role, is_active, created_at,"
                " session_version) VALUES ('a@example.org', 'h', 'Dr. A', 'physician', true,"
                " now(), 1)"
            )
        )
        db.session.commit()
        upgrade(revision="0006")
        db.session.execute(
            text(
                "INSERT INTO invites (email, role, token_hash, created_at, expires_at, user_id)"
                " VALUES ('b@example.org', 'admin', :digest, now(), now(), 1)"
            ),
            {"digest": "0" * 64},
        )
        db.session.commit()
        assert rows("SELECT email FROM invites") == [("b@example.org",)]
        downgrade(revision="0005")
        assert rows("SELECT email FROM users") == [("a@example.org",)]
        assert rows("SELECT to_regclass('invites')") == [(None,)]
        upgrade()
        assert rows("SELECT email FROM users") == [("a@example.org",)]
        db.session.remove()


def test_mfa_upgrades_and_downgrades_with_rows(scratch_app):
    with scratch_app.app_context():
        upgrade(revision="0009")
        db.session.execute(
            text(
                "INSERT INTO users (email, password_hash, full_name, role, is_active, created_at,"
                " session_version) VALUES ('a@example.org', 'h', 'Dr. A', 'admin', true,"
                " now(), 3)"
            )
        )
        db.session.commit()
        upgrade(revision="0010")
        assert rows("SELECT email, mfa_secret, mfa_enabled_at FROM users") == [
            ("a@example.org", None, None)
        ]
        db.session.execute(
            text(
                "UPDATE users SET mfa_secret = 'JBSWY3DPEHPK3PXP', mfa_enabled_at = now(),"
                " mfa_last_step = 59000000"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)"
                " VALUES (1, :digest, now())"
            ),
            {"digest": "0" * 64},
        )
        db.session.commit()
        downgrade(revision="0009")
        assert rows("SELECT email, session_version FROM users") == [("a@example.org", 3)]
        assert rows("SELECT to_regclass('mfa_recovery_codes')") == [(None,)]
        upgrade()
        assert rows("SELECT email, mfa_enabled_at FROM users") == [("a@example.org", None)]
        db.session.remove()
