"""``flask tokens purge``: expired blocklist entries, remember-me tokens and old portal sessions go;
everything still in force stays and still works."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import PortalSession, RememberToken, TokenBlocklist
from app.models.base import utcnow
from app.services import sessions
from app.services.sessions.keys import digest
from app.services.sessions.remember import redeem_remember_token


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_purge_deletes_only_what_can_no_longer_log_anybody_in(app: Flask, make_user) -> None:
    user = make_user()
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    now = utcnow()
    with app.app_context():
        db.session.add_all(
            [
                TokenBlocklist(jti="old", token_type="access", user_id=user.id,
                               expires_at=now - timedelta(minutes=1)),
                TokenBlocklist(jti="live", token_type="refresh", user_id=user.id,
                               expires_at=now + timedelta(days=1)),
                RememberToken(token_hash=digest("old-token"), user_id=user.id,
                              expires_at=now - timedelta(seconds=1)),
                RememberToken(token_hash=digest("live-token"), user_id=user.id,
                              expires_at=now + timedelta(days=3)),
                PortalSession(key_hash=digest("old-session"), user_id=user.id,
                              created_at=now - lifetime - timedelta(minutes=1),
                              last_seen_at=now - lifetime),
                PortalSession(key_hash=digest("old-locked"), user_id=user.id,
                              created_at=now - lifetime - timedelta(hours=2),
                              last_seen_at=now - lifetime - timedelta(hours=1),
                              locked_at=now - lifetime),
                PortalSession(key_hash=digest("live-session"), user_id=user.id,
                              created_at=now - timedelta(minutes=5), last_seen_at=now),
            ]
        )  # fmt: skip
        db.session.commit()

    result = app.test_cli_runner().invoke(args=["tokens", "purge"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "Deleted 1 expired blocklist entries, 1 expired remember-me tokens and "
        "2 portal sessions past their lifetime."
    )
    with app.app_context():
        assert db.session.scalars(select(TokenBlocklist.jti)).all() == ["live"]
        assert count(RememberToken) == 1
        assert db.session.scalars(select(PortalSession.key_hash)).all() == [digest("live-session")]
        # What is still in force still works.
        assert sessions.resume_portal_session("live-session", user_id=user.get_id()) is not None
        assert redeem_remember_token("live-token") is not None


def test_purge_with_nothing_to_delete_says_so_and_succeeds(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["tokens", "purge"])

    assert result.exit_code == 0, result.output
    assert "Deleted 0 expired blocklist entries, 0 expired remember-me tokens and 0 portal" in (
        result.output
    )
