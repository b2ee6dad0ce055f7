"""Where CPU-bound work runs, so that it cannot stall a gevent worker's other requests.

The gateway is served by gunicorn's gevent worker (``gunicorn.conf.py``): every request of a worker
is a greenlet on one OS thread, and a greenlet that computes for 300 ms (decoding and re-encoding a
10 MB photo, an argon2id hash) keeps every other request of that worker waiting for those 300 ms,
``/healthy`` included. :func:`run_cpu_bound` runs such work in a small pool of native threads
(gevent's :class:`gevent.threadpool.ThreadPool`) and parks only the calling greenlet until it is
done. Pillow and argon2-cffi release the GIL while they decode, encode and hash, so the hub keeps
serving the worker's other greenlets meanwhile.

Outside a gevent-patched process (the ``flask`` CLI, scripts) the function is simply called.

Rules for what is passed in: plain data and files, no Flask context (``current_app``, ``request``,
``db.session`` belong to the calling greenlet), no sockets (gevent's sockets belong to the hub's
thread). Read the configuration before the call and pass the values.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Native threads per worker process for CPU-bound work. Two cores: two threads keep both busy
#: while the worker's own thread serves greenlets; more would only hold more decoded images in
#: memory at once (a 12 MP photo decodes to ~36 MB).
CPU_THREADS = 2

#: Niceness (Linux ``setpriority``, per thread) of the threads of :func:`run_at_low_priority`.
#: At 10 the kernel gives such a thread about a tenth of the CPU time of a thread at 0 when both
#: want the same core (CFS weights 110 vs 1024), so the worker's own thread, which serves every
#: greenlet, ``/healthy`` included, keeps a core while password hashes fill both.
LOW_PRIORITY_NICENESS = 10


def gevent_patched() -> bool:
    """Tell whether gevent has monkey-patched this process (``threading`` is gevent's)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


class _ProcessPool:
    """A gevent :class:`~gevent.threadpool.ThreadPool` of :data:`CPU_THREADS` native threads, made
    on first use in each process and again after a fork (a child must not share its parent's)."""

    def __init__(self) -> None:
        self._owner: tuple[int, Any] | None = None  # (pid, pool)

    def get(self) -> Any:
        """This process's pool."""
        owner = self._owner
        if owner is None or owner[0] != os.getpid():
            from gevent.threadpool import ThreadPool

            # No lock: greenlets of one hub do not preempt each other between check and set.
            owner = self._owner = (os.getpid(), ThreadPool(CPU_THREADS))
        return owner[1]


#: :func:`run_cpu_bound`'s threads (normal priority).
_pool = _ProcessPool()
#: :func:`run_at_low_priority`'s threads (each raises its niceness on its first task, for good).
_low_priority_pool = _ProcessPool()


def _lower_this_threads_priority() -> None:
    """Give the calling OS thread the niceness :data:`LOW_PRIORITY_NICENESS` (Linux: per thread;
    raising it needs no privilege). Elsewhere, or when refused, the thread keeps its priority."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < LOW_PRIORITY_NICENESS:
            os.setpriority(os.PRIO_PROCESS, 0, LOW_PRIORITY_NICENESS)
    except (AttributeError, OSError):
        pass


def _at_low_priority(function: Callable[..., T], args: tuple, kwargs: dict) -> T:
    _lower_this_threads_priority()
    return function(*args, **kwargs)


def run_at_low_priority(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Return ``function(*args, **kwargs)``, computed in a native thread of low CPU priority.

    For CPU work that a burst of anonymous requests can cause (password hashes): like
    :func:`run_cpu_bound`, but in a pool of its own whose threads run at
    :data:`LOW_PRIORITY_NICENESS` (threads argon2 starts inherit it), so that such work never
    takes the CPU from the worker's own thread. Measured (tests/test_throttling_served.py, 64
    concurrent anonymous logins): ``/healthy`` waited up to 0.5-1 s for the CPU behind the
    hashes at normal priority. A separate pool, because a thread's niceness cannot be lowered
    back without privilege: :func:`run_cpu_bound`'s image work keeps its normal priority.
    """
    if not gevent_patched():
        return function(*args, **kwargs)
    return _low_priority_pool.get().apply(_at_low_priority, (function, args, kwargs))


def run_cpu_bound(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Return ``function(*args, **kwargs)``, computed in a native thread under gevent.

    The calling greenlet waits; the worker's other greenlets keep running. Whatever
    ``function`` raises is raised here, with its traceback.
    """
    if not gevent_patched():
        return function(*args, **kwargs)
    return _pool.get().apply(function, args, kwargs)


def cache_redis_version_lookup() -> None:
    """Make redis-py look its own version up once per process, not once per new connection.

    redis-py (7.x) names itself to the server on every new connection and reads its version
    with ``importlib.metadata.version("redis")``, a scan of the installed packages' metadata:
    tens of milliseconds of CPU each time on these machines. Under gevent that is spent on the
    worker's one OS thread, so a burst of 32 logins opening their Redis connections at once kept
    every other request of the worker (``/healthy`` included) waiting for seconds
    (tests/test_throttling_served.py). The version cannot change while the process runs.
    """
    import functools

    import redis.utils

    lookup = redis.utils.get_lib_version
    if not hasattr(lookup, "cache_info"):
        redis.utils.get_lib_version = functools.cache(lookup)


def warm_up_worker(app: Any) -> None:
    """Do a worker's first-request work before it accepts connections (gunicorn post_worker_init).

    A worker's first requests import what Flask, SQLAlchemy, psycopg and redis import lazily,
    build the native thread pool, open the first database connection and initialise the
    dialect, build the S3 client: a few hundred milliseconds of CPU; and the first login with an
    unknown email computed a second password hash (the one such logins are checked against).
    Under gevent that CPU is spent on the worker's one OS thread, so the burst of requests a new
    worker receives (a restart under load after ``max_requests``) waited behind it, ``/healthy``
    too. Failures (database down) are ignored: the requests report them as usual.
    """
    run_cpu_bound(int)  # the native thread pool
    client = app.test_client()
    for path in ("/healthy", "/health"):  # Flask's request path, JSON; a pooled connection
        try:
            client.get(path)
        except Exception as exc:  # a warm-up never stops a worker
            app.logger.warning("warm-up of %s failed: %s", path, exc)
    try:  # the S3 client: botocore parses ~12 MB of JSON models (~0.2-0.5 s of CPU), which
        # otherwise blocked every request of the worker behind its first photo (seen with
        # gevent's blocking monitor during the side-by-side bench)
        from app.services.case_images import get_storage

        with app.app_context():
            storage = get_storage()
            getattr(storage, "client", None)
    except Exception as exc:
        app.logger.warning("warm-up of the image storage failed: %s", exc)
    try:  # the login throttle's store (Redis: its client, parser and Lua scripts are loaded)
        from app.services.rate_limits.login import auth_throttle

        with app.app_context():
            auth_throttle().store.count("warm-up")
    except Exception as exc:
        app.logger.warning("warm-up of the throttle's store failed: %s", exc)
    try:  # the hash an unknown email is checked against (else the first such login makes it)
        from app.services.accounts import prepare_password_checks

        with app.app_context():
            prepare_password_checks()
    except Exception as exc:
        app.logger.warning("warm-up of the password checks failed: %s", exc)
