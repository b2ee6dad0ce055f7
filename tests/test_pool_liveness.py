"""The database pool hands out live connections without a round trip per checkout
(app/services/pool_liveness.py): a connection the server ended while it sat in the pool is found
and replaced, so the next request still succeeds."""

from __future__ import annotations

import time

import psycopg

from app.extensions import db
from tests.conftest import ADMIN_URL


def _pooled_backend_pids(app, count: int = 3) -> set[int]:
    """Check out every connection idle in the app's pool, at least ``count``, at once; their
    server process ids. All of them: the pool hands connections out first in, first out, so a
    request after this gets one of these whatever the earlier tests left in the pool."""
    with app.app_context():
        count = max(count, db.engine.pool.checkedin())
        connections = [db.engine.raw_connection() for _ in range(count)]
        pids = {c.driver_connection.info.backend_pid for c in connections}
        for connection in connections:
            connection.close()  # back to the pool
    return pids


def _end_backends(pids: set[int]) -> None:
    """``pg_terminate_backend`` each pid and wait until the server has let all of them go."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),)
            ).fetchone()[0]
            if left == 0:
                return
            time.sleep(0.05)
    raise AssertionError(f"backends {pids} still there")


def _count_pings(app, monkeypatch) -> list[int]:
    with app.app_context():
        dialect = db.engine.dialect
    pings: list[int] = []
    real_ping = dialect.do_ping

    def counted(dbapi_connection):  # type: ignore[no-untyped-def]
        pings.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


def test_a_live_pooled_connection_is_handed_out_without_a_ping(app, client, monkeypatch):
    assert client.get("/health").status_code == 200
    _pooled_backend_pids(app)
    pings = _count_pings(app, monkeypatch)
    for _ in range(5):
        response = client.get("/health")
        assert response.get_json() == {"status": "healthy", "database": "connected"}
    assert pings == []


def test_requests_succeed_after_the_server_ended_the_pooled_connections(
    app, client, make_user, api_headers, monkeypatch
):
    user = make_user()
    headers = api_headers(user)
    assert client.get("/api/cases", headers=headers).status_code == 200
    pids = _pooled_backend_pids(app)
    pings = _count_pings(app, monkeypatch)
    _end_backends(pids)

    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "healthy", "database": "connected"}
    assert pings, "the ended connection was found by its socket and pinged"
    for _ in range(3):  # every pooled connection the server ended is replaced, none fails
        assert client.get("/api/cases", headers=headers).status_code == 200
    assert _pooled_backend_pids(app).isdisjoint(pids)


def test_an_ended_connection_is_replaced_inside_an_orm_request(app, client, make_user, api_headers):
    """The first query of a request's ORM session runs on a checked-out connection too."""
    user = make_user()
    headers = api_headers(user)
    assert client.get("/api/cases", headers=headers).status_code == 200
    _end_backends(_pooled_backend_pids(app))
    for _ in range(3):
        assert client.get("/api/cases", headers=headers).status_code == 200


def test_health_answers_for_the_database_not_for_one_dead_connection(app, client, monkeypatch):
    """A connection that dies between its checkout and its query (the server ended it just
    after the pool's check looked, or while it was in use): the readiness check tries once
    more on a new connection, and the database that answers is ready (was 503)."""
    from app.services import pool_liveness

    assert client.get("/health").status_code == 200
    pids = _pooled_backend_pids(app)
    real_check = pool_liveness.has_something_to_say
    looks = iter([False])  # the first checkout's look comes too early to see the end

    def _late(connection):  # type: ignore[no-untyped-def]
        seen = next(looks, None)
        return real_check(connection) if seen is None else seen

    monkeypatch.setattr(pool_liveness, "has_something_to_say", _late)
    _end_backends(pids)
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "healthy", "database": "connected"}


def test_failed_health_checks_give_their_connections_back_once(make_app, monkeypatch):
    """An invalidated connection goes back to the pool once: after many failed checks the pool
    still holds at most its size, and the next check succeeds."""
    app = make_app()
    client = app.test_client()
    assert client.get("/health").status_code == 200

    def refused(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise psycopg.errors.InsufficientPrivilege("no")

    monkeypatch.setattr(psycopg.Connection, "execute", refused)
    for _ in range(30):
        assert client.get("/health").status_code == 503
    monkeypatch.undo()
    with app.app_context():
        pool = db.engine.pool
        assert pool.checkedout() == 0
        assert pool.checkedin() <= pool.size()
    assert client.get("/health").status_code == 200
