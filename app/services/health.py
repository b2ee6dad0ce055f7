"""Readiness checks of the gateway's own dependencies."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Flask
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")


def _ping(app: Flask) -> None:
    with app.app_context():
        try:
            db.session.execute(text("SELECT 1"))
        finally:
            db.session.remove()


def database_ok(app: Flask, timeout: float) -> bool:
    """Whether ``SELECT 1`` succeeds within ``timeout`` seconds (never raises)."""
    future = _pool.submit(_ping, app)
    try:
        future.result(timeout=timeout)
    except FutureTimeout:
        log.warning("database health check timed out after %.1fs", timeout)
        return False
    except Exception as error:
        log.warning("database health check failed: %s", error.__class__.__name__)
        return False
    return True
