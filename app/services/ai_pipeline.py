"""The AI pipeline of one image: image quality, prediction and red flags, then triage.

Started as soon as the photo and the anamnesis are known (:class:`PendingPipeline`), so that the
caller can store the case and the image while the AI works; see :mod:`app.services.diagnosis`
for the order that keeps what the physician sent safe.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flask import current_app

from app.errors import AppError
from app.services.ai_client import (
    AIClient,
    DiagnosisPrediction,
    ImageValidity,
    RedFlags,
    Triage,
)


class ImageRejected(AppError):
    """422: the AI Service judged the photo unusable; ``details`` carries its feedback."""

    status = 422
    code = "image_rejected"
    message = (
        "The photo is not good enough for an analysis. Please take another one "
        "(or accept the low quality explicitly)."
    )


@dataclass(frozen=True)
class PipelineResult:
    """Everything the AI returned for one image: all four parts, never fewer."""

    validity: ImageValidity
    prediction: DiagnosisPrediction
    red_flags: RedFlags
    triage: Triage


_executor_lock = threading.Lock()
_executor: tuple[int, ThreadPoolExecutor] | None = None


def _pool() -> ThreadPoolExecutor:
    """The process's pool for concurrent AI calls (made on first use, again after a fork)."""
    global _executor  # noqa: PLW0603 - one pool per process
    current = _executor
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _executor_lock:
        if _executor is None or _executor[0] != os.getpid():
            # Under gevent a pool "thread" is a greenlet waiting on a socket: 256 cost ~1 MB and
            # let ~85 diagnoses per worker run their three concurrent calls without queueing.
            workers = int(current_app.config.get("AI_MAX_PARALLEL_CALLS", 256))
            _executor = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="ai-call"))
        return _executor[1]


def _discard(future: Future[Any]) -> None:
    """Let a speculative call finish in the background; its result or error is dropped."""
    future.add_done_callback(lambda done: done.exception())


class PendingPipeline:
    """The AI pipeline of one image, started: its first round is in flight.

    Constructing it starts image quality on the process's AI pool (with ``speculative``:
    prediction and red flags too; without, they start once the image is known to be usable or
    low quality was accepted). :meth:`result` waits for the first round and asks for triage;
    :meth:`discard` abandons the calls (they finish in the background, results dropped).
    Starting the AI early lets the caller store the case and the image while the AI works.
    """

    def __init__(
        self,
        client: AIClient,
        *,
        anamnesis: Mapping[str, Any],
        image: bytes,
        content_type: str,
        accept_low_quality: bool,
        speculative: bool,
        request_id: str | None,
    ) -> None:
        self._client = client
        self._anamnesis = anamnesis
        self._image = image
        self._content_type = content_type
        self._accept_low_quality = accept_low_quality
        self._request_id = request_id
        self._pool = _pool()
        # One deadline for the whole pipeline (every round of calls), not one per call.
        self._deadline_at = time.monotonic() + client.deadline
        self._quality: Future[ImageValidity] = self._pool.submit(
            client.validate_image,
            image,
            content_type,
            request_id=request_id,
            deadline_at=self._deadline_at,
        )
        self._prediction: Future[DiagnosisPrediction] | None = None
        self._flags: Future[RedFlags] | None = None
        if speculative:
            self._start_prediction_and_flags()

    @property
    def anamnesis(self) -> dict[str, Any]:
        """The anamnesis exactly as sent to the AI (a copy)."""
        return dict(self._anamnesis)

    def _start_prediction_and_flags(self) -> None:
        self._prediction = self._pool.submit(
            self._client.predict,
            self._anamnesis,
            [(self._image, self._content_type)],
            request_id=self._request_id,
            deadline_at=self._deadline_at,
        )
        self._flags = self._pool.submit(
            self._client.red_flags,
            self._anamnesis,
            request_id=self._request_id,
            deadline_at=self._deadline_at,
        )

    def discard(self) -> None:
        """Abandon the calls in flight: they finish in the background; results are dropped."""
        for future in (self._quality, self._prediction, self._flags):
            if future is not None:
                _discard(future)

    def result(self) -> PipelineResult:
        """Wait for quality, prediction and red flags, then ask for triage.

        Raises:
            ImageRejected: the photo is unusable and low quality was not accepted (``details``:
                ``image_validity``); prediction and red flags, if started, are discarded.
            AIServiceError: any call failed (unavailable, timeout, rejected input, bad response).
        """
        try:
            validity = self._quality.result()
            if not validity.is_valid and not self._accept_low_quality:
                raise ImageRejected(
                    details={"image_validity": validity.model_dump(mode="json", by_alias=True)}
                )
            if self._prediction is None or self._flags is None:
                self._start_prediction_and_flags()
            assert self._prediction is not None and self._flags is not None
            predicted = self._prediction.result()
            red_flags = self._flags.result()
        except BaseException:
            self.discard()
            raise
        triage = self._client.triage(
            self._anamnesis,
            predicted.diagnoses,
            red_flags,
            request_id=self._request_id,
            deadline_at=self._deadline_at,
        )
        return PipelineResult(validity, predicted, red_flags, triage)
