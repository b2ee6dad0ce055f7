"""The gunicorn worker the gateway is served by: gevent, fair between connections (issue #15).

gunicorn's own gevent worker (``gunicorn.workers.ggevent.GeventWorker``) serves every connection of
a worker process as a greenlet on one OS thread. A greenlet runs until it waits on a socket, and a
keep-alive client that sends its next request as soon as it has the answer (a partner's batch job,
a load balancer's pooled connection, ``wrk``) finds its next request already in the socket buffer:
the greenlet serves it without ever handing the thread back. Measured on this 2-core machine with
32 keep-alive connections and requests of 1 ms of CPU (``bench/README.md``, "Fair turns"): at any
moment a third of the connections had not even been accepted yet (gevent accepts one connection
per turn of the event loop, and a turn lasted hundreds of milliseconds), ``/api/users/me`` answered
in 1 ms at the median and after 3-6 s for the unlucky connections, and at random one worker held
most of the connections while the other idled (half the throughput for the whole run).

:class:`FairGeventWorker` changes two things and nothing else:

1. **Fair turns.** Before each request a connection's greenlet lets the event loop run what else is
   ready (other connections' requests, accepts, answers from the AI Service and PostgreSQL):
   ``gevent.idle()``, bounded by :data:`TURN_WAIT_S` so that under a flood of events a request
   waits at most that long for its turn.
2. **Balanced accepts.** After accepting a connection a worker stops accepting for a moment that
   grows with the connections it already serves (:data:`ACCEPT_PAUSE_PER_CONNECTION_S`, at most
   :data:`ACCEPT_PAUSE_MAX_S`), so the less busy worker takes the next one. Both workers listen on
   the one socket gunicorn's master opened; the kernel wakes both for every new connection.

Measured after the change (same machine, same minute): every connection accepted within the first
second, 16/16 or 15/17 connections per worker instead of 13/11 with 8 still waiting, and the
``/api/users/me`` p99 at 32 connections 35 ms instead of 2.5 s; with 256 diagnoses waiting on a
2 s AI, ``/healthy`` kept its p99 (the turn wait is bounded).
"""

from __future__ import annotations

from typing import Any

import gevent
from gevent.server import StreamServer
from gunicorn.workers import ggevent

#: Longest time (seconds) a request waits for the event loop to run everything else that is ready
#: before it is served. The wait ends sooner as soon as the loop has nothing else to do.
TURN_WAIT_S = 0.005
#: Pause (seconds) of a worker's accepting after each accepted connection, per connection the
#: worker already serves.
ACCEPT_PAUSE_PER_CONNECTION_S = 0.00002
#: Upper bound (seconds) of that pause (reached at 100 connections).
ACCEPT_PAUSE_MAX_S = 0.002


class BalancedStreamServer(StreamServer):
    """gevent's ``StreamServer`` that pauses accepting after each connection, longer when busier.

    The pause is ``connections served × ACCEPT_PAUSE_PER_CONNECTION_S`` (bounded by
    ``ACCEPT_PAUSE_MAX_S``); meanwhile the other workers, listening on the same socket, accept.
    """

    def do_handle(self, *args: Any) -> None:
        """Start serving the accepted connection, then pause accepting (see the class)."""
        super().do_handle(*args)
        if self.pool is None or self._watcher is None:
            return
        serving = self.pool.size - self.pool.free_count()
        pause = min(serving * ACCEPT_PAUSE_PER_CONNECTION_S, ACCEPT_PAUSE_MAX_S)
        if pause > 0:
            self.stop_accepting()
            self._timer = self.loop.timer(pause)
            self._timer.start(self._start_accepting_if_started)


class FairGeventWorker(ggevent.GeventWorker):
    """gunicorn's gevent worker with fair turns and balanced accepts (module docstring).

    Named in ``gunicorn.conf.py`` (``worker_class = "app.worker.FairGeventWorker"``).
    """

    def init_process(self) -> None:
        """Serve the listening sockets with :class:`BalancedStreamServer` (this process only)."""
        # GeventWorker.run builds its servers from the module's StreamServer name; the worker
        # process is forked from the master, so this replaces it in this worker alone.
        ggevent.StreamServer = BalancedStreamServer
        super().init_process()

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> None:
        """Let the event loop run what else is ready (at most ``TURN_WAIT_S``), then serve."""
        with gevent.Timeout(TURN_WAIT_S, False):
            gevent.idle()
        super().handle_request(listener_name, req, sock, addr)
