"""The one place that talks to the AI Service (wire contract: ../shared/ai-service-contract.md).

:class:`AIClient` wraps a pooled ``requests.Session`` and returns pydantic models of the
contract's responses; every failure is raised as an :class:`app.errors.AIServiceError`:

========================================================  =====  ==========================
what happened                                             HTTP   error
========================================================  =====  ==========================
connection refused/reset, DNS, connect timeout, 5xx       502    ``ai_service_unavailable``
(502/503/504 and connection errors only after retries)
401/403 from the service (our service token is wrong)     502    ``ai_service_unavailable``
no answer within the read timeout, or not all of it by     504    ``ai_service_timeout``
the call's deadline
400/413/422 from the service                              422    ``ai_rejected_input``
2xx whose body is not JSON or not the contract's model    502    ``ai_bad_response``
an answer over ``AI_MAX_RESPONSE_BYTES``                  502    ``ai_bad_response``
========================================================  =====  ==========================

Every call has a wall-clock deadline (``AI_SERVICE_DEADLINE``, 30 s; the questionnaire
``AI_QUESTIONNAIRE_DEADLINE``, 10 s) covering its tries, back-off and the reading of the answer,
which is read within that deadline and a byte budget (``app.services.bounded_read``). A caller
that makes several calls for one job (the diagnosis pipeline) passes one ``deadline_at`` to all.

Retries use tenacity rather than urllib3's ``Retry``: urllib3 retries inside one ``send`` with
the same per-attempt timeout, so it cannot bound the total time by a deadline, cannot add jitter
to its back-off, and cannot be told that a 502/503/504 on a POST is safe to repeat (the contract
makes every call a pure function of its body). tenacity gives exactly "up to N more tries,
exponential back-off with jitter, only on these failures, never past the deadline" declaratively.

Cost per call is kept small because the API answers ``next_question`` on this path: the session
and its connection pool live for the whole process (keep-alive, so no TCP handshake and no DNS
lookup per call), the retry policy is built once, and ``trust_env`` is off so that requests does
not look up proxy variables and ``~/.netrc`` on every call (the AI Service is an internal
dependency reached directly; set ``AI_SERVICE_URL`` to wherever it lives).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

import requests
from flask import Flask, current_app
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from app.errors import AIBadResponse, AIRejectedInput, AIServiceTimeout, AIServiceUnavailable
from app.observability import current_request_id
from app.services.answer_cache import AnswerCache, WaitedTooLong, body_key
from app.services.bounded_read import DeadlinePassed, ResponseTooLarge, read_body

log = logging.getLogger(__name__)

#: Key of the cached client in ``app.extensions``.
EXTENSION_KEY = "ai_client"
#: Path prefix of every contract endpoint below ``AI_SERVICE_URL``.
API_PREFIX = "/api/v1"
#: Statuses that mean "try again": bad gateway, not ready (model loading), gateway timeout.
RETRY_STATUSES = frozenset({502, 503, 504})
#: Statuses that mean "your input is wrong": the service's ``detail`` goes to the caller.
REJECTED_STATUSES = frozenset({400, 413, 422})
#: Connections kept per host and worker: as many as AI calls in flight at once (the diagnosis
#: pool's ``AI_MAX_PARALLEL_CALLS``), or calls beyond it would each open and drop a connection.
POOL_MAXSIZE = 256
#: Back-off between tries, seconds: ``multiplier * 2**n + uniform(0, jitter)``, at most ``max``.
BACKOFF_MULTIPLIER = 0.1
BACKOFF_JITTER = 0.1
BACKOFF_MAX = 2.0
#: Smallest timeout given to a try that starts close to the deadline, seconds.
MIN_ATTEMPT_TIMEOUT = 0.05
#: Image bytes base64-encoded per piece of a streamed body (a multiple of 3, so no piece but the
#: last is padded): 192 KiB in, 256 KiB on the wire.
BASE64_PIECE_BYTES = 3 * 64 * 1024

Severity = Literal["high", "medium", "low"]
Urgency = Literal["low", "medium", "high", "emergency"]

# --- models of the contract's responses ------------------------------------------------------


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields ignored (the service grows)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
    )


class _SnakeWire(BaseModel):
    """A model whose wire names are snake_case (as the production service sends them)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AIHealth(_SnakeWire):
    """``GET /api/v1/health``: ``{"status": "healthy", "model_version": "reference-1.0"}``."""

    status: str
    model_version: str | None = None


class Progress(_Wire):
    """How far the questionnaire is: questions answered of an estimated total."""

    answered: int = Field(ge=0)
    estimated_total: int = Field(ge=0)


QuestionType = Literal["camera", "bool", "radio", "checkbox", "number", "text"]


class NextQuestion(_Wire):
    """The next questionnaire question, or the end (``isComplete``).

    When ``isComplete`` is true the other strings may be empty (``questionType`` too); otherwise
    ``questionId``, ``fieldName`` and ``questionType`` are set, and ``radio``/``checkbox``
    questions have ``options``.
    """

    question_id: str = Field(description="stable id of the question, e.g. symptom_duration")
    question_text: str = Field(description="text shown to the physician")
    question_type: QuestionType | Literal[""] = Field(description="which widget to show")
    field_name: str = Field(description="anamnesis key under which the answer goes")
    options: list[str] = Field(default_factory=list, description="choices for radio/checkbox")
    is_complete: bool = Field(description="true: no more questions; go to image and diagnosis")
    min: int | float | None = Field(default=None, description="lower bound for number")
    max: int | float | None = Field(default=None, description="upper bound for number")
    unit: str | None = Field(default=None, description="unit for number, e.g. years, mm")
    required: bool = Field(default=True, description="whether the question may be skipped")
    help_text: str | None = Field(default=None, description="short clinical hint")
    progress: Progress | None = None

    @model_validator(mode="after")
    def _askable(self) -> NextQuestion:
        if self.is_complete:
            return self
        if not (self.question_id and self.field_name and self.question_type):
            raise ValueError("an open question needs questionId, fieldName and questionType")
        if self.question_type in ("radio", "checkbox") and not self.options:
            raise ValueError(f"a {self.question_type} question needs options")
        return self


class ImageFeedback(_Wire):
    """Image quality per aspect, each 0–1 (higher is better)."""

    blur: float = Field(ge=0, le=1)
    lighting: float = Field(ge=0, le=1)
    framing: float = Field(ge=0, le=1)


class ImageValidity(_Wire):
    """Whether the photo is usable for a diagnosis, with the reasons when it is not."""

    is_valid: bool
    score: float = Field(ge=0, le=1, description="overall quality 0–1")
    issues: list[str] = Field(default_factory=list, description='e.g. "Image is too blurry"')
    feedback: ImageFeedback | None = None


class Diagnosis(_SnakeWire):
    """One entry of the differential."""

    disease: str = Field(min_length=1)
    probability: float = Field(ge=0, le=1)
    confidence: Severity
    icd10: str | None = Field(default=None, description="ICD-10 code, e.g. C43.9")


class PredictionMetadata(_SnakeWire):
    """Which model answered and how long it took (snake_case on the wire)."""

    model_version: str
    inference_time_ms: float | None = None


class EvidenceItem(_SnakeWire):
    """One entry of a one-sided differential (photo alone or answers alone)."""

    disease: str = Field(min_length=1)
    probability: float = Field(ge=0, le=1)
    icd10: str | None = None


class Evidence(_SnakeWire):
    """What drove the result: the differential from the photo alone and from the answers alone
    (top 5 each; optional in the contract, absent from services that cannot separate them)."""

    image_only: list[EvidenceItem] = Field(default_factory=list, max_length=50)
    anamnesis_only: list[EvidenceItem] = Field(default_factory=list, max_length=50)


class DiagnosisPrediction(_SnakeWire):
    """The ranked differential (most probable first) and how far to trust its top entry.

    ``tier``: ``confident`` (top ≥ 0.815), ``possible`` (≥ 0.444) or ``refer``, as the
    production service decides it; ``highlight_count`` top entries should be highlighted.
    """

    diagnoses: list[Diagnosis]
    metadata: PredictionMetadata
    tier: Literal["confident", "possible", "refer"]
    confidence: float = Field(ge=0, le=1, description="the top probability")
    refer_to_specialist: bool
    highlight_count: int = Field(ge=0)
    evidence: Evidence | None = None


class Flag(_Wire):
    """One red flag; ``rule`` and ``source`` (optional) name the rule that fired and its origin."""

    type: str = Field(description="e.g. rapid_growth, bleeding, changing_pigmented_lesion")
    severity: Severity
    description: str
    rule: str | None = Field(default=None, description="e.g. Glasgow 7-point checklist")
    source: str | None = Field(default=None, description="published source of the rule")
    urgency: Urgency | None = None


class RedFlags(_Wire):
    """The red flags found in the anamnesis (and differential), with the overall urgency."""

    has_red_flags: bool
    flags: list[Flag] = Field(default_factory=list)
    urgency: Urgency
    recommendation: str


class Triage(_Wire):
    """How soon the patient should be seen, and why."""

    priority: Literal["routine", "soon", "urgent", "emergency"]
    urgency_score: float = Field(ge=0, le=10)
    estimated_wait_time: str = Field(description='e.g. "24 hours"')
    recommended_action: str = Field(description="code, e.g. physician_review_within_24h")
    reasoning: list[str] = Field(default_factory=list)


M = TypeVar("M", bound=BaseModel)
#: An image as the client sends it: the stored (EXIF-stripped) bytes and their MIME type.
ImagePart = tuple[bytes, str]


# --- the client --------------------------------------------------------------------------------


class _RetryableStatus(Exception):
    """A 502/503/504 answer, raised inside a try so that tenacity repeats it."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class AIClient:
    """HTTP client of the AI Service; safe to share between the threads of one process.

    Args:
        base_url: ``AI_SERVICE_URL``, e.g. ``http://127.0.0.1:8090`` (``/api/v1`` is appended).
        connect_timeout: seconds to establish a connection (per try).
        read_timeout: seconds to wait for the next bytes of an answer (per socket read).
        deadline: seconds a call may take in all (tries, back-off, reading the answer); default
            ``read_timeout``.
        questionnaire_deadline: the same for ``next_question`` and ``health``; default
            ``deadline``.
        max_response_bytes: the largest answer accepted; a larger one is ``AIBadResponse``.
        question_cache_seconds: how long an answer of ``next_question`` is reused for the same
            anamnesis (``AI_QUESTION_CACHE_SECONDS``); 0 (the default here) asks every time.
        question_cache_entries: answers of ``next_question`` kept at most
            (``AI_QUESTION_CACHE_ENTRIES``), the least recently used dropped first.
        clock: monotonic seconds for the answers' time to live (tests pass their own).
        token: ``AI_SERVICE_TOKEN``; when non-empty sent as ``Authorization: Bearer <token>``.
        retries: how many more tries after the first, on connection errors and 502/503/504 only.

    The ``requests.Session`` is created on first use in each process (a worker forked after the
    client was built gets its own pool, never the parent's sockets).
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
        token: str = "",
        retries: int = 2,
        deadline: float | None = None,
        questionnaire_deadline: float | None = None,
        max_response_bytes: int = 2 * 1024 * 1024,
        question_cache_seconds: float = 0,
        question_cache_entries: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.deadline = float(self.read_timeout if deadline is None else deadline)
        self.questionnaire_deadline = float(
            self.deadline if questionnaire_deadline is None else questionnaire_deadline
        )
        self.max_response_bytes = int(max_response_bytes)
        self.retries = max(0, int(retries))
        self._token = token
        self._api = self.base_url + API_PREFIX
        self._session: requests.Session | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        #: The answers of ``next_question`` (``None``: not cached); see :meth:`next_question`.
        self.question_cache: AnswerCache[NextQuestion] | None = None
        if question_cache_seconds > 0:
            self.question_cache = AnswerCache(
                question_cache_seconds, question_cache_entries, copy=_copy_model, clock=clock
            )
        #: The model version the service's last prediction reported (``metadata.model_version``).
        self.model_version: str | None = None
        self._retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1) | _stop_at_deadline,
            wait=wait_exponential_jitter(
                multiplier=BACKOFF_MULTIPLIER, jitter=BACKOFF_JITTER, max=BACKOFF_MAX
            ),
            retry=retry_if_exception_type((_RetryableStatus, requests.ConnectionError)),
            before_sleep=_log_retry,
            reraise=True,
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AIClient:
        """Build a client from the ``AI_SERVICE_*`` settings of a Flask config."""
        return cls(
            config["AI_SERVICE_URL"],
            connect_timeout=config["AI_SERVICE_CONNECT_TIMEOUT"],
            read_timeout=config["AI_SERVICE_TIMEOUT"],
            token=config["AI_SERVICE_TOKEN"],
            retries=config["AI_SERVICE_RETRIES"],
            deadline=config["AI_SERVICE_DEADLINE"],
            questionnaire_deadline=config["AI_QUESTIONNAIRE_DEADLINE"],
            max_response_bytes=config["AI_MAX_RESPONSE_BYTES"],
            question_cache_seconds=config["AI_QUESTION_CACHE_SECONDS"],
            question_cache_entries=config["AI_QUESTION_CACHE_ENTRIES"],
        )

    def __repr__(self) -> str:
        return (
            f"AIClient({self.base_url!r}, read_timeout={self.read_timeout}, retries={self.retries})"
        )

    # -- the contract's endpoints ---------------------------------------------------------------

    def health(self, *, request_id: str | None = None) -> AIHealth:
        """``GET /health``: the service is up and its model loaded.

        Raises:
            AIServiceUnavailable, AIServiceTimeout, AIBadResponse (as every method).
        """
        return self._call(
            "GET",
            "/health",
            None,
            AIHealth,
            request_id,
            deadline_at=self._at(self.questionnaire_deadline),
        )

    def next_question(
        self, anamnesis: Mapping[str, Any], *, request_id: str | None = None
    ) -> NextQuestion:
        """The next questionnaire question for the answers so far (``{}`` starts it).

        ``anamnesis`` must already have the contract's shape (see ``validate_anamnesis``).

        With ``question_cache`` on, an answer the service gave for the same anamnesis (the same
        canonical JSON sent to the same URL) within ``question_cache_seconds`` is returned
        without asking (the contract makes every call a pure function of its body), and callers
        asking for the same anamnesis while it is being asked wait for that one call. Each
        caller gets its own copy. Failures are never kept: a caller that waited gets the error
        of the call it waited for (a copy), the next caller asks again.

        Raises:
            AIRejectedInput: 422, the service refused the anamnesis (its ``detail`` in details).
            AIServiceUnavailable: 502; AIServiceTimeout: 504; AIBadResponse: 502.
        """
        body = {"anamnesis": dict(anamnesis)}
        deadline_at = self._at(self.questionnaire_deadline)

        def ask() -> NextQuestion:
            return self._call(
                "POST",
                "/questionnaire/next",
                body,
                NextQuestion,
                request_id,
                deadline_at=deadline_at,
            )

        cache = self.question_cache
        key = body_key(self._api + "/questionnaire/next", body) if cache is not None else None
        if cache is None or key is None:
            return ask()
        try:
            return cache.get(key, ask, wait_seconds=deadline_at - time.monotonic())
        except WaitedTooLong:  # the call waited for overran this caller's deadline
            raise AIServiceTimeout(
                details={"timeout_seconds": round(self.questionnaire_deadline, 1)}
            ) from None

    def validate_image(
        self,
        data: bytes,
        content_type: str,
        *,
        request_id: str | None = None,
        deadline_at: float | None = None,
    ) -> ImageValidity:
        """Image quality of a stored, metadata-free photo (``data``: its bytes, sent as base64).

        ``deadline_at`` (a ``time.monotonic()`` value, as for every diagnosis call) bounds the
        call; default: ``deadline`` seconds from now.

        Raises:
            AIRejectedInput, AIServiceUnavailable, AIServiceTimeout, AIBadResponse.
        """
        return self._call(
            "POST",
            "/image_quality/validate",
            _image_json(data, content_type),
            ImageValidity,
            request_id,
            deadline_at=deadline_at or self._at(self.deadline),
        )

    def predict(
        self,
        anamnesis: Mapping[str, Any],
        images: Sequence[ImagePart],
        *,
        request_id: str | None = None,
        deadline_at: float | None = None,
    ) -> DiagnosisPrediction:
        """The ranked differential for the anamnesis and photos (``[(bytes, content_type)]``).

        Raises:
            AIRejectedInput, AIServiceUnavailable, AIServiceTimeout, AIBadResponse.
        """
        body = {
            "anamnesis": dict(anamnesis),
            "images": [_image_json(data, content_type) for data, content_type in images],
            "tta": False,
        }
        prediction = self._call(
            "POST",
            "/diagnosis/predict",
            body,
            DiagnosisPrediction,
            request_id,
            deadline_at=deadline_at or self._at(self.deadline),
        )
        self._note_model_version(prediction.metadata.model_version)
        return prediction

    def _note_model_version(self, version: str) -> None:
        """Remember the model the service reported; when it is another than the one before (the
        AI Service was upgraded), forget the cached next questions: the questionnaire belongs to
        the model, and the new one may ask otherwise (the cache's time to live alone would serve
        the old model's questions for up to ``AI_QUESTION_CACHE_SECONDS``)."""
        previous, self.model_version = self.model_version, version
        if previous is not None and previous != version and self.question_cache is not None:
            self.question_cache.clear()
            log.info("AI model %s -> %s: cached next questions forgotten", previous, version)

    def red_flags(
        self,
        anamnesis: Mapping[str, Any],
        diagnoses: Sequence[Diagnosis | Mapping[str, Any]] | None = None,
        *,
        request_id: str | None = None,
        deadline_at: float | None = None,
    ) -> RedFlags:
        """The red flags of the anamnesis, sharpened by the differential when one is given.

        Raises:
            AIRejectedInput, AIServiceUnavailable, AIServiceTimeout, AIBadResponse.
        """
        body: dict[str, Any] = {"anamnesis": dict(anamnesis)}
        if diagnoses is not None:
            body["diagnoses"] = [_jsonable(d) for d in diagnoses]
        return self._call(
            "POST",
            "/diagnosis/red_flags",
            body,
            RedFlags,
            request_id,
            deadline_at=deadline_at or self._at(self.deadline),
        )

    def triage(
        self,
        anamnesis: Mapping[str, Any],
        diagnoses: Sequence[Diagnosis | Mapping[str, Any]],
        red_flags: RedFlags | Mapping[str, Any],
        *,
        request_id: str | None = None,
        deadline_at: float | None = None,
    ) -> Triage:
        """Priority and time window from the red-flag urgency and the top diagnosis.

        Raises:
            AIRejectedInput, AIServiceUnavailable, AIServiceTimeout, AIBadResponse.
        """
        body = {
            "anamnesis": dict(anamnesis),
            "diagnoses": [_jsonable(d) for d in diagnoses],
            "redFlags": _jsonable(red_flags),
        }
        return self._call(
            "POST",
            "/diagnosis/triage",
            body,
            Triage,
            request_id,
            deadline_at=deadline_at or self._at(self.deadline),
        )

    @staticmethod
    def _at(seconds: float) -> float:
        """The ``time.monotonic()`` value ``seconds`` from now: a call's deadline."""
        return time.monotonic() + seconds

    def close(self) -> None:
        """Close the pooled connections of this process (a later call opens new ones)."""
        with self._lock:
            if self._session is not None and self._pid == os.getpid():
                self._session.close()
            self._session = None

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """This process's pooled session, created on first use (and again after a fork)."""
        session = self._session
        if session is not None and self._pid == os.getpid():
            return session
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                self._session = self._new_session()
                self._pid = os.getpid()
            return self._session

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no proxy/netrc lookups per call (see the module docstring)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # identity: the byte budget counts what the service sent, never a decompressed bomb.
        session.headers.update(
            {
                "User-Agent": "dermadetect-gateway",
                "Accept": "application/json",
                "Accept-Encoding": "identity",
            }
        )
        if self._token:
            session.headers["Authorization"] = f"Bearer {self._token}"
        return session

    def _call(
        self,
        method: str,
        endpoint: str,
        body: dict[str, Any] | None,
        model: type[M],
        request_id: str | None,
        *,
        deadline_at: float,
    ) -> M:
        request_id = request_id or current_request_id() or uuid.uuid4().hex
        started = time.monotonic()
        try:
            payload = _JsonBody(body) if body is not None else None
            response = self._retrying(
                self._attempt, method, endpoint, payload, request_id, deadline_at
            )
        except _RetryableStatus as exc:
            self._log_failure(endpoint, exc.response.status_code, started, request_id)
            raise AIServiceUnavailable(
                details={"status": exc.response.status_code, "attempts": self._attempts()}
            ) from None
        except requests.ConnectionError as exc:  # refused, reset, DNS, connect timeout
            self._log_failure(endpoint, type(exc).__name__, started, request_id)
            raise AIServiceUnavailable(
                "The AI Service cannot be reached; please try again shortly.",
                details={"attempts": self._attempts()},
            ) from None
        except (requests.Timeout, DeadlinePassed) as exc:
            self._log_failure(endpoint, type(exc).__name__, started, request_id)
            # What ran out: the time this call had left of its deadline, or the read timeout.
            budget = deadline_at - started
            limit = budget if isinstance(exc, DeadlinePassed) else min(self.read_timeout, budget)
            raise AIServiceTimeout(details={"timeout_seconds": round(limit, 1)}) from None
        except ResponseTooLarge as exc:
            self._log_failure(endpoint, "answer too large", started, request_id)
            raise AIBadResponse(
                "The AI Service's answer is larger than allowed (AI_MAX_RESPONSE_BYTES).",
                details={"max_bytes": exc.max_bytes},
            ) from None
        except requests.RequestException as exc:  # invalid URL, too many redirects, …
            self._log_failure(endpoint, type(exc).__name__, started, request_id)
            raise AIServiceUnavailable(details={"reason": type(exc).__name__}) from None

        status = response.status_code
        if log.isEnabledFor(logging.INFO):
            log.info(
                "AI %s -> %d in %.1f ms (request %s)",
                endpoint,
                status,
                (time.monotonic() - started) * 1000,
                request_id,
            )
        if status >= 300:
            raise _status_error(response)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise _bad_response(endpoint, exc) from None

    def _attempt(
        self,
        method: str,
        endpoint: str,
        body: _JsonBody | None,
        request_id: str,
        deadline_at: float,
    ) -> requests.Response:
        """One try, its answer read whole (by the deadline, within the byte budget); a
        502/503/504 is raised as ``_RetryableStatus`` for tenacity to repeat."""
        remaining = max(deadline_at - time.monotonic(), MIN_ATTEMPT_TIMEOUT)
        headers = {"X-Request-ID": request_id}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = self.session.request(
            method,
            self._api + endpoint,
            data=body,
            headers=headers,
            timeout=(min(self.connect_timeout, remaining), min(self.read_timeout, remaining)),
            allow_redirects=False,  # the contract has no redirects; a 3xx means a wrong URL
            stream=True,  # the body is read below, by the deadline and within the budget
        )
        if response.status_code in RETRY_STATUSES:
            response.close()
            raise _RetryableStatus(response)
        read_body(
            response,
            deadline_at=deadline_at,
            read_timeout=self.read_timeout,
            max_bytes=self.max_response_bytes,
        )
        return response

    def _attempts(self) -> int:
        return int(self._retrying.statistics.get("attempt_number", 1))

    @staticmethod
    def _log_failure(endpoint: str, outcome: object, started: float, request_id: str) -> None:
        log.warning(
            "AI %s failed (%s) after %.1f ms (request %s)",
            endpoint,
            outcome,
            (time.monotonic() - started) * 1000,
            request_id,
        )


def get_ai_client(app: Flask | None = None) -> AIClient:
    """Return the app's :class:`AIClient`, built from its config on first use and then cached.

    ``app`` defaults to ``current_app``; pass it explicitly from threads without an app context.
    """
    if app is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.extensions.get(EXTENSION_KEY)
    if client is None:
        client = app.extensions.setdefault(EXTENSION_KEY, AIClient.from_config(app.config))
    return client


# --- helpers -----------------------------------------------------------------------------------


class InlineImage:
    """Image bytes that a :class:`_JsonBody` sends as a base64 JSON string, piece by piece."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def encoded_length(self) -> int:
        """Bytes of its JSON string on the wire: the base64 text and its two quotes."""
        return 4 * ((len(self.data) + 2) // 3) + 2

    def pieces(self) -> Iterator[bytes]:
        """The JSON string: a quote, the base64 text in pieces, a quote."""
        yield b'"'
        view = memoryview(self.data)
        for start in range(0, len(view), BASE64_PIECE_BYTES):
            yield base64.b64encode(view[start : start + BASE64_PIECE_BYTES])
        yield b'"'


class _JsonBody:
    """A JSON request body whose :class:`InlineImage` values are base64-encoded while it is sent.

    ``json=`` would hold an image three more times at once (its base64, the JSON text, the
    encoded bytes: about 4x the image per call, 8x for the concurrent quality and prediction
    calls of a diagnosis). Here only the image's own bytes are held: the JSON around the images
    is encoded once, the base64 is made in 256 KiB pieces as the socket takes them. ``len()``
    is exact, so requests sends ``Content-Length`` (not chunked); every ``iter()`` starts over,
    so a retried call sends the same body again.
    """

    def __init__(self, body: Mapping[str, Any]) -> None:
        images: dict[str, InlineImage] = {}

        def mark(value: object) -> str:
            if not isinstance(value, InlineImage):
                raise TypeError(f"{type(value).__name__} is not JSON serialisable")
            marker = f"inline-image-{uuid.uuid4().hex}"
            images[marker] = value
            return marker

        text = json.dumps(body, default=mark, allow_nan=False).encode()
        self._parts: list[bytes | InlineImage] = []
        for marker, image in images.items():
            head, _, text = text.partition(f'"{marker}"'.encode())
            self._parts += [head, image]
        self._parts.append(text)
        self._length = sum(
            part.encoded_length if isinstance(part, InlineImage) else len(part)
            for part in self._parts
        )

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, InlineImage):
                yield from part.pieces()
            elif part:
                yield part


def _image_json(data: bytes, content_type: str) -> dict[str, Any]:
    return {"imageData": InlineImage(data), "contentType": content_type}


def _copy_model(model: M) -> M:
    """A copy of ``model`` sharing nothing mutable with it (lists, nested models)."""
    return model.model_copy(deep=True)


def _jsonable(value: BaseModel | Mapping[str, Any]) -> Any:
    """A model as the service expects it on the wire (its aliases, no nulls); a mapping as is."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dict(value)


def _service_detail(response: requests.Response) -> Any:
    """The service's ``detail`` (``{"detail": ...}``), else the start of its body text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return body


def _status_error(response: requests.Response) -> AIRejectedInput | AIServiceUnavailable:
    status = response.status_code
    if status in REJECTED_STATUSES:
        return AIRejectedInput(details={"status": status, "detail": _service_detail(response)})
    if status in (401, 403):
        return AIServiceUnavailable(
            "The AI Service refused the gateway's credentials; check AI_SERVICE_TOKEN.",
            details={"status": status},
        )
    # 5xx other than 502/503/504 (not retried), 404 (wrong AI_SERVICE_URL?), 429, …
    return AIServiceUnavailable(details={"status": status})


def _bad_response(endpoint: str, exc: ValidationError) -> AIBadResponse:
    errors = exc.errors(include_url=False, include_input=False)
    if any(error["type"] == "json_invalid" for error in errors):
        log.warning("AI %s answered with a body that is not JSON", endpoint)
        return AIBadResponse("The AI Service answered with a body that is not JSON.")
    fields = {".".join(map(str, e["loc"])) or "body": e["msg"] for e in errors[:10]}
    log.warning("AI %s answered with an invalid body: %s", endpoint, fields)
    return AIBadResponse(details={"fields": fields})


def _stop_at_deadline(state: RetryCallState) -> bool:
    """Stop retrying when the back-off would end past the call's deadline (``args[4]``)."""
    return time.monotonic() + (state.upcoming_sleep or 0.0) >= state.args[4]


def _log_retry(state: RetryCallState) -> None:
    outcome = state.outcome.exception() if state.outcome else None
    log.warning(
        "AI %s try %d failed (%s); retrying in %.2f s (request %s)",
        state.args[1],
        state.attempt_number,
        outcome,
        state.upcoming_sleep,
        state.args[3],
    )
