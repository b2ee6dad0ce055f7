"""Retries of S3 calls within a total time budget (``S3_DEADLINE``).

botocore's own retries repeat a call with the same per-try timeouts whatever time is left, so a
hung store held a request for 3 tries x 30 s. Here botocore makes one try per call and
:func:`call_within` repeats it only while a whole further try (connect + read timeout + back-off)
still fits before the deadline: a hung store answers ``StorageUnavailable`` within the budget.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Tries of one call at most (the first and two retries), as botocore's standard mode.
MAX_ATTEMPTS = 3
#: Back-off before a retry, seconds: uniform(0, BACKOFF_BASE * 2**(try - 1)).
BACKOFF_BASE = 0.2
#: Error codes of S3 that mean "try again" (besides any 5xx).
RETRY_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed"}
)


def retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is worth another try: no connection, a timeout, a dropped connection, a
    5xx or a throttling answer (never a 4xx such as a missing object or bucket)."""
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or exc.response.get("Error", {}).get("Code") in RETRY_CODES
    return False


def call_within(
    call: Callable[[], T],
    *,
    deadline_at: float,
    attempt_seconds: float,
    rewind: Callable[[], None] | None = None,
) -> T:
    """Run ``call`` and retry it on :func:`retryable` failures while a whole try
    (``attempt_seconds``: its connect plus read timeout) and the back-off still end before
    ``deadline_at`` (``time.monotonic()``); ``rewind`` runs before each retry (seek a body back).

    Raises:
        whatever the last try raised (botocore's exceptions).
    """
    attempt = 1
    while True:
        try:
            return call()
        except (BotoConnectionError, HTTPClientError, ClientError) as exc:
            pause = random.uniform(0, BACKOFF_BASE * 2 ** (attempt - 1))  # noqa: S311 - jitter
            late = time.monotonic() + pause + attempt_seconds > deadline_at
            if attempt >= MAX_ATTEMPTS or late or not retryable(exc):
                raise
            log.info("S3 try %d failed (%s); retrying in %.2f s", attempt, exc, pause)
            time.sleep(pause)
            attempt += 1
            if rewind is not None:
                rewind()
