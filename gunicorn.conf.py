"""gunicorn settings for the gateway, read from the environment (documented in .env.example).

Why gevent (issue #15, measured in bench/README.md): the gateway spends its time waiting on the AI
Service, S3 and PostgreSQL, not on the CPU. Under gunicorn's gevent worker a request waiting on a
socket holds a greenlet (a few KB), not an OS thread, so a slow model cannot exhaust the worker:
with the AI at 2 s and 256 diagnoses in flight, ``/healthy`` and ``/api/users/me`` still answer
at once. The earlier gthread worker (2 x 16 threads) let a 2 s model push ``/healthy`` to seconds,
and the liveness probe would have restarted pods exactly when they were needed. CPU-bound work
(image decoding and re-encoding, password hashing) runs in a native thread pool
(:mod:`app.concurrency`), so it cannot stall the worker's other requests either.

The process is patched here, first thing: gunicorn reads this file in the master before it
imports ``wsgi`` (``preload_app``), so ``socket``, ``ssl``, ``threading``, ``time.sleep``,
``select`` and ``subprocess`` are gevent's before requests, urllib3, botocore, psycopg, redis or
SQLAlchemy take references to them (patching after they are imported breaks ssl). The workers are
forked from the patched master; gevent's worker patches again (a no-op) and re-initialises its hub.
"""

from gevent import monkey

monkey.patch_all()

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT') or '8080'}"
# gunicorn's gevent worker with fair turns between keep-alive connections and balanced accepts
# between the workers (app/worker.py says why, with the measurements).
worker_class = "app.worker.FairGeventWorker"
workers = _int("WEB_CONCURRENCY", 2)
# Two processes use the two cores; within each, requests are greenlets. Concurrent requests per
# worker: a request waiting on the AI costs a greenlet and its socket, and by Little's law the
# connections needed are arrival rate x time in the gateway (256 diagnoses waiting on a 2 s model
# fit in 2 x 1000). Memory is what bounds it: each in-flight diagnosis holds its image (up to
# MAX_IMAGE_BYTES), so pods x workers is what the HPA scales, not this number.
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)

# The slowest diagnosis: its AI calls are bounded together by the wall-clock AI_SERVICE_DEADLINE
# (every round and retry of one diagnosis, reading the answers included; app/services/ai_client),
# its photo's storage by S3_DEADLINE, plus the database and the intake. The gevent worker's
# heartbeat is a greenlet that runs whenever requests wait, so this timeout only kills a worker
# that is truly stuck (a greenlet computing without yielding, or the GIL held by a C extension);
# it stays above the slowest diagnosis so that switching to sync workers (killed mid-request)
# could not cut one short. Time spent waiting at the diagnosis door (app/services/admission.py)
# holds no worker, so it does not count.
_ai_deadline = float(os.environ.get("AI_SERVICE_DEADLINE") or "30")
_s3_deadline = float(os.environ.get("S3_DEADLINE") or "10")
timeout = int(max(60, _ai_deadline + _s3_deadline + 20))
# Seconds in-flight requests get after SIGTERM (a rolling update); Kubernetes'
# terminationGracePeriodSeconds must be longer, or the pod is killed mid-request.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Behind a load balancer, keep idle connections open longer than the balancer does, or it may
# send a request on a connection gunicorn is closing (a sporadic 502).
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Workers are not restarted after a number of requests unless the operator asks for it
# (GUNICORN_MAX_REQUESTS, with half of it as jitter). A worker told to restart stops accepting at
# once but exits only when its requests are done (diagnoses waiting at the door included: up to
# ~15 s with a slow model), its keep-alive connections are closed, and its replacement warms up
# (S3 client, a password hash) while the other worker carries everything: at the former default
# of 10000 a worker restarted every 3-8 s under the side-by-side bench's load, and each restart
# put seconds into that cell's tail. Memory does not need it: under gevent with the malloc tuning
# below a worker's RSS stays flat (the bench reports it after the 256-diagnosis load and again
# after the whole run, bench/README.md).
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 2
# Load the app once in the master and fork the workers from it: a worker (re)start is then a
# fork, not a fresh import of Flask, SQLAlchemy, boto3 and pydantic (about 1.3 s of CPU each
# time on these 2-core machines, which max_requests made happen every few seconds under load),
# and the workers share the imported code's pages. Safe because the master is patched by gevent
# before the import (top of this file) and create_app opens no connection and starts no thread or
# greenlet: the database pool, the AI session, the AI call pool, the CPU thread pool, the token
# check's listener and the S3 client are made on first use in each worker (each checks the pid).
preload_app = True


def _tune_malloc(arenas: int = 2, mmap_threshold: int = 128 * 1024) -> None:
    """Tune glibc malloc in this process (so in the forked workers) to give memory back.

    - ``M_ARENA_MAX`` (``MALLOC_ARENA_MAX``) 2: glibc gives each thread that contends for the
      heap its own arena, up to 8 per core, and keeps what those arenas freed; with 16 request
      threads and the AI thread pool a worker's RSS grew with load. Python allocates under the
      GIL, so two arenas cost no throughput.
    - ``M_MMAP_THRESHOLD`` (``MALLOC_MMAP_THRESHOLD_``) fixed at 128 KiB: blocks this size or
      larger (photos, their base64 pieces, request and response bodies) get their own mapping
      and go back to the OS when freed. glibc's default threshold grows to the largest block
      freed so far, after which such buffers are carved from the arenas and, freed in another
      order than taken, stay resident: 16 threads doing diagnoses grew a process by ~65 MB
      that way, against ~12 MB with the fixed threshold (bench/README.md). The cost is an mmap
      and munmap per large buffer, a few per diagnosis.

    An operator's explicit environment setting wins. No effect (and no error) outside glibc.
    """
    import ctypes
    import ctypes.util

    options = (  # (mallopt parameter from glibc's malloc.h, value, set by the operator?)
        (-8, arenas, "MALLOC_ARENA_MAX" in os.environ),  # M_ARENA_MAX
        (-3, mmap_threshold, "MALLOC_MMAP_THRESHOLD_" in os.environ),  # M_MMAP_THRESHOLD
    )
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        for parameter, value, set_by_operator in options:
            if not set_by_operator:
                libc.mallopt(parameter, value)
    except (OSError, AttributeError):
        pass


_tune_malloc()

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
# Request id as echoed by the app on the response, so access lines match app log lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s ua="%(a)s"'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# The heartbeat touches a file per worker every second; on a disk-backed /tmp (container overlay
# filesystems) that can block a worker. /dev/shm is memory, and stays writable when the root
# filesystem is read-only (Kubernetes readOnlyRootFilesystem).
_SHM = "/dev/shm"  # noqa: S108 - gunicorn makes its heartbeat file there with mkstemp
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (
    _SHM if os.path.isdir(_SHM) and os.access(_SHM, os.W_OK) else None
)

# gunicorn's control socket defaults to one path per user: several gateways on one machine
# (tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True


def pre_fork(server, worker):  # type: ignore[no-untyped-def]
    """Freeze the master's objects (``gc.freeze``) right before a worker is forked.

    With preload_app the workers start as copies of the master; a page stays shared until
    someone writes to it, and the garbage collector writes to every object it examines (its
    bookkeeping lives in the object header), so each worker's first collections copied most of
    the imported code and data. Frozen objects are left alone by the collector. Measured with the
    32-connection diagnosis soak: private memory per worker 82-84 MB without, 57-65 MB with;
    PSS 93-95 -> 74-83 MB. VmRSS is unchanged (it counts shared pages too). The gc module's
    documentation describes gc.freeze for exactly this: processes that fork without exec.
    """
    import gc

    gc.freeze()


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Warm the worker up before it accepts connections (``app.concurrency.warm_up_worker``)."""
    from app.concurrency import warm_up_worker

    warm_up_worker(worker.wsgi)


def when_ready(server):  # type: ignore[no-untyped-def]
    """Warn at start-up when several workers would each keep their own throttle counts.

    The login throttle (app/services/rate_limits/) counts in ``RATELIMIT_STORAGE_URI``; with
    ``memory://`` every worker counts alone, so N workers allow N times the configured limits.
    """
    if server.cfg.workers < 2:
        return
    try:
        config = server.app.wsgi().config
    except Exception:  # the app failed to load: gunicorn reports that itself
        return
    if config.get("RATELIMIT_ENABLED") and config["RATELIMIT_STORAGE_URI"].startswith("memory"):
        server.log.warning(
            "%d workers count login attempts separately (RATELIMIT_STORAGE_URI=memory://): "
            "every throttle limit is multiplied by %d. Set RATELIMIT_STORAGE_URI=redis://… "
            "so that they share the counts.",
            server.cfg.workers,
            server.cfg.workers,
        )


# Request line and header limits (issue 14): gunicorn's own maximum request line (8190 bytes;
# 0 would mean unlimited), headers up to 16 KB (long JWTs and cookies); what gunicorn still
# refuses is answered in the API's JSON error shape, not an HTML page (app/server_errors.py).
limit_request_line = 8190
limit_request_field_size = 16384

from app.server_errors import answer_in_json

answer_in_json()
