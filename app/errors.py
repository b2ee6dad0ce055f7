"""Domain exceptions, raised by services and mapped to HTTP in ``app.error_handlers``.

Every error carries a snake_case ``code``, a human ``message`` and a ``details`` dict; the
HTTP status lives on the class so that one handler can serve the JSON API and the portal alike.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every expected failure: ``status`` (HTTP), ``code``, ``message``, ``details``."""

    status: int = 400
    code: str = "bad_request"
    message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        if status is not None:
            self.status = status
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """Return the public error body ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(AppError):
    """400: the request itself is malformed (bad JSON, body not an object)."""

    status = 400
    code = "bad_request"


class Unauthorized(AppError):
    """401: missing, malformed, expired or revoked credentials."""

    status = 401
    code = "unauthorized"
    message = "Authentication is required."


class PermissionDenied(AppError):
    """403: the caller is known but may not do this."""

    status = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class NotFound(AppError):
    """404: no such resource, or one the caller may not know exists."""

    status = 404
    code = "not_found"
    message = "The requested resource was not found."


class Conflict(AppError):
    """409: the resource already exists or is in a conflicting state."""

    status = 409
    code = "conflict"


class AnsweredMeanwhile(Conflict):
    """409: an answer was posted for the anamnesis as it was when its question was shown, and
    the anamnesis changed since (another window, another client); nothing was saved.
    ``details``: the field name → its current answer (``None``: not answered)."""

    code = "answered_meanwhile"


class PreconditionFailed(AppError):
    """412: the request's ``If-Match`` names a version of the resource that is no longer
    current (RFC 9110 §13.1.1); nothing was changed. ``details["etag"]``: the current one."""

    status = 412
    code = "precondition_failed"
    message = "The case changed since you read it; read it again and retry."


class ConsentRequired(Conflict):
    """409: ``CONSENT_POLICY=enforced`` and the case's patient has not consented to this step
    (``details``: ``scope``, the decision recorded or ``None``, ``case_id`` when there is one)."""

    code = "consent_required"
    message = "The patient's consent for this step is not recorded."


class PayloadTooLarge(AppError):
    """413: the body or uploaded file exceeds the configured limit."""

    status = 413
    code = "payload_too_large"
    message = "The uploaded content is too large."


class UnsupportedMediaType(AppError):
    """415: wrong content type, or a file of a type we do not accept."""

    status = 415
    code = "unsupported_media_type"


class ValidationFailed(AppError):
    """422: the body parsed but a field is invalid; ``details`` maps field name → message."""

    status = 422
    code = "validation_failed"
    message = "Request validation failed."

    def __init__(self, fields: dict[str, str] | None = None, message: str | None = None, **kw: Any):
        super().__init__(message, details=kw.pop("details", None) or dict(fields or {}), **kw)


class UpstreamUnavailable(AppError):
    """502/503: a dependency (AI Service, storage) could not be reached or failed."""

    status = 502
    code = "upstream_unavailable"
    message = "A dependency is unavailable."


class UpstreamTimeout(AppError):
    """504: a dependency did not answer in time."""

    status = 504
    code = "upstream_timeout"
    message = "A dependency did not answer in time."


class DatabaseUnavailable(UpstreamUnavailable):
    """503: the database cannot be reached (or dropped the connection); nothing was saved."""

    status = 503
    code = "database_unavailable"
    message = "The service is unavailable: nothing was saved. Please try again in a moment."
    retry_after = 5


class StorageUnavailable(UpstreamUnavailable):
    """503: the object store (S3 or the local folder) failed or could not be reached."""

    status = 503
    code = "storage_unavailable"
    message = "Image storage is unavailable; nothing was stored. Please try again."


class UnsupportedImageType(UnsupportedMediaType):
    """415: the upload decodes as none of the accepted image types (JPEG, PNG, HEIC/HEIF)."""

    code = "unsupported_image_type"
    message = "The file is not a JPEG, PNG or HEIC photo; please upload a photo in one of these."


class InvalidImage(AppError):
    """422: an image of an accepted type that cannot be used; the subclasses name the reason."""

    status = 422
    code = "invalid_image"
    message = "The image cannot be used; please upload another photo."


class ImageEmpty(InvalidImage):
    """422: the uploaded file has no content (0 bytes)."""

    code = "image_empty"
    message = "The uploaded file is empty; please choose the photo again."


class ImageTooLarge(InvalidImage):
    """422: more pixels than the configured limit (decided from the header, before decoding)."""

    code = "image_too_large"
    message = "The image has too many pixels; please upload a smaller photo."


class ImageTooSmall(InvalidImage):
    """422: a side is shorter than the configured minimum."""

    code = "image_too_small"
    message = "The image is too small; please take a closer photo."


class ImageCorrupt(InvalidImage):
    """422: the file claims an accepted type but is truncated or damaged."""

    code = "image_corrupt"
    message = "The image file is damaged or incomplete; please upload it again."


class AIServiceError(AppError):
    """Base of every failure of a call to the AI Service (see ../shared/ai-service-contract.md).

    Catch this to treat any AI failure alike (e.g. "the diagnosis did not complete"); the
    subclasses carry the contract's status and code.
    """

    status = 502
    code = "ai_service_error"
    message = "The AI Service call failed."


class AIServiceUnavailable(AIServiceError, UpstreamUnavailable):
    """502: the AI Service could not be reached, answered 5xx after the retries, or refused us."""

    status = 502
    code = "ai_service_unavailable"
    message = "The AI Service is unavailable; please try again shortly."


class AIServiceTimeout(AIServiceError, UpstreamTimeout):
    """504: the AI Service accepted the call but did not answer within the read timeout."""

    status = 504
    code = "ai_service_timeout"
    message = "The AI Service did not answer in time; please try again."


class AIRejectedInput(AIServiceError):
    """422: the AI Service refused the input (400/422); ``details["detail"]`` is its reason."""

    status = 422
    code = "ai_rejected_input"
    message = "The AI Service rejected the input."


class AIBadResponse(AIServiceError):
    """502: the AI Service answered 2xx with a body that is not JSON or not the contract's model."""

    status = 502
    code = "ai_bad_response"
    message = "The AI Service returned an invalid response."
