"""A pooled PostgreSQL connection is checked for life without a round trip to the server.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout: one extra round trip per
pooled connection a request takes (``/health`` made two, its own ``SELECT 1`` and the ping). It is
there for one case: the server ended the connection while it sat in the pool (a PostgreSQL
restart, ``pg_terminate_backend``, an idle timeout). PostgreSQL then sends a FATAL message and
closes the socket, so the client's socket turns readable while no query is under way; a healthy
idle connection has nothing to read. So on checkout :func:`check_on_checkout` asks the kernel
(``poll`` with a zero timeout: one system call, no I/O) and pings only a connection whose socket
has something to say. A dead one is then found by that ping, and every connection of the pool
older than it is replaced (``InvalidatePoolError``: after a restart all of them are dead), as
``pool_pre_ping`` does.

What neither approach catches early: a server that vanished without closing its sockets (a host
lost with its network); the first query then fails after the TCP timeout, with ``pool_pre_ping``
too.
"""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError

try:  # under gevent the select module is patched; a zero-timeout poll never needs the hub
    from gevent.monkey import get_original

    _poll = get_original("select", "poll")
except ImportError:  # pragma: no cover - gevent is a dependency; kept for a bare interpreter
    _poll = select.poll

_TROUBLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


def has_something_to_say(dbapi_connection: Any) -> bool:
    """Whether the idle psycopg connection may be dead: it is closed or broken, or its socket is
    readable (the server wrote to it, or closed it) or in error. ``False``: nothing arrived."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    try:
        fd = dbapi_connection.pgconn.socket
    except Exception:  # psycopg.OperationalError: libpq has no socket, the connection is gone
        return True
    poller = _poll()
    poller.register(fd, _TROUBLE)
    return bool(poller.poll(0))


def check_on_checkout(engine: Engine) -> None:
    """Make ``engine``'s pool check each connection it hands out with :func:`has_something_to_say`
    and ping (``SELECT 1``) only one that may be dead; a dead one invalidates the pool and the
    checkout gets a new connection (psycopg engines only: the check reads psycopg's socket)."""
    if engine.dialect.driver != "psycopg":
        return
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not has_something_to_say(dbapi_connection):
            return
        if dbapi_connection.closed or dbapi_connection.broken:
            raise InvalidatePoolError()
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise InvalidatePoolError() from error
            raise
