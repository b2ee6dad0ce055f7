"""TOTP secrets encrypted at rest (issue #13): Fernet keys from MFA_ENCRYPTION_KEY (or derived
from SECRET_KEY), rotation with MultiFernet, a clear 503 when no key opens a secret, the
production warning, and the migration that encrypts existing secrets (up and down, with rows)."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.models import User
from app.services.mfa import sealing
from config import ProductionConfig
from tests.conftest import STRONG_PASSWORD
from tests.test_migrations_identity import rows, scratch_app  # noqa: F401 - fixture

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored_secret(app, user) -> str:
    with app.app_context():
        return db.session.execute(
            text("SELECT mfa_secret FROM users WHERE id = :id"), {"id": user.id}
        ).scalar_one()


def mfa_login(client, user, code):
    token = client.post(
        "/api/auth/login", json={"email": user.email, "password": STRONG_PASSWORD}
    ).get_json()["mfa_token"]
    return client.post("/api/auth/mfa", json={"mfa_token": token, "code": code})


def test_the_database_holds_no_secret_in_clear(app, client, make_user, enrol):
    user = make_user()
    factor = enrol(user)
    stored = stored_secret(app, user)
    assert factor["secret"] not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token (version byte 0x80)
    with app.app_context():
        assert sealing.unseal(stored, app.config) == factor["secret"]
    assert mfa_login(client, user, next(factor["codes"])).status_code == 200


def test_a_new_key_first_keeps_old_secrets_readable_and_rotation_moves_them(
    app, client, make_user, enrol, monkeypatch
):
    monkeypatch.setitem(app.config, "MFA_ENCRYPTION_KEY", KEY_A)
    user = make_user()
    factor = enrol(user)
    assert Fernet(KEY_A).decrypt(stored_secret(app, user).encode()).decode() == factor["secret"]

    monkeypatch.setitem(app.config, "MFA_ENCRYPTION_KEY", f"{KEY_B},{KEY_A}")
    assert mfa_login(client, user, next(factor["codes"])).status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "mfa-rotate-key"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 TOTP secret with the first key." in result.output

    monkeypatch.setitem(app.config, "MFA_ENCRYPTION_KEY", KEY_B)  # the old key dropped
    assert Fernet(KEY_B).decrypt(stored_secret(app, user).encode()).decode() == factor["secret"]
    assert mfa_login(client, user, next(factor["codes"])).status_code == 200


def test_a_secret_no_key_opens_is_a_clear_503_not_a_500(app, client, make_user, enrol, monkeypatch):
    user = make_user()
    factor = enrol(user)  # sealed with the key derived from SECRET_KEY
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret-key-than-the-one-used")
    answer = mfa_login(client, user, next(factor["codes"]))
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "mfa_unavailable"
    result = app.test_cli_runner().invoke(args=["users", "mfa-rotate-key"])
    assert result.exit_code == 1 and "contact an administrator" in result.output


def test_a_malformed_key_stops_the_start(make_app):
    with pytest.raises(RuntimeError, match="MFA_ENCRYPTION_KEY must be Fernet keys"):
        make_app(MFA_ENCRYPTION_KEY="not-a-fernet-key")


class _Production(ProductionConfig):
    SECRET_KEY = "s" * 40
    JWT_SECRET_KEY = "j" * 40
    SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    STORAGE_BACKEND = "local"


class _ProductionWithKey(_Production):
    MFA_ENCRYPTION_KEY = KEY_A


def test_production_without_its_own_key_warns_at_start(caplog, tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    logger = logging.getLogger("app.services.mfa.sealing")
    logger.addHandler(caplog.handler)  # the app's logging setup does not propagate to root
    try:
        create_app(_ProductionWithKey)
        assert "MFA_ENCRYPTION_KEY is not set" not in caplog.text
        create_app(_Production)
        assert "MFA_ENCRYPTION_KEY is not set" in caplog.text
    finally:
        logger.removeHandler(caplog.handler)


def test_migration_encrypts_existing_secrets_and_decrypts_them_back(scratch_app):  # noqa: F811
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    with scratch_app.app_context():
        upgrade(revision="0013")
        db.session.execute(
            text(
                "INSERT INTO users (email, password_hash, full_name, role, is_active, created_at,"
                " session_version, mfa_secret, mfa_enabled_at) VALUES"
                " ('a@example.org', 'h', 'Dr. A', 'admin', true, now(), 1, :secret, now()),"
                " ('b@example.org', 'h', 'Dr. B', 'physician', true, now(), 1, NULL, NULL)"
            ),
            {"secret": secret},
        )
        db.session.commit()
        upgrade(revision="0014")
        (sealed,), (none,) = rows("SELECT mfa_secret FROM users ORDER BY email")
        assert none is None and secret not in sealed
        assert sealing.unseal(sealed, scratch_app.config) == secret
        user = db.session.scalar(db.select(User).where(User.email == "a@example.org"))
        assert sealing.read_secret(user) == secret
        db.session.remove()
        downgrade(revision="0013")
        assert rows("SELECT mfa_secret FROM users ORDER BY email") == [(secret,), (None,)]
        upgrade()
        db.session.remove()
