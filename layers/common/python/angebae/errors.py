"""Typed domain errors, two families. The HTTP family (AppError) carries its HTTP status and a stable
code; `http.py` is the one place that turns them into responses. The worker's family (JobError, at the
end) says how a job's run ends: transient (tried again) or permanent (the job fails with its code).
AppErrors a job's run meets (DatabaseUnavailable, StorageUnavailable) count as transient by `transient`.
"""

from __future__ import annotations


class AppError(Exception):
    status = 500
    code = "internal_error"
    message = "An internal error occurred."
    transient = False

    default_headers: dict[str, str] = {}  # sent with every error of the class (WWW-Authenticate on 401)

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers = {**self.default_headers, **(headers or {})}

    def to_body(self) -> dict:
        error: dict = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(AppError):
    status, code, message = 400, "bad_request", "The request is not valid."


class InvalidJson(BadRequest):
    code, message = "invalid_json", "The request body is not valid JSON."


class ValidationFailed(BadRequest):
    code, message = "validation_error", "The request has invalid fields."


class Unauthorized(AppError):
    status, code, message = 401, "unauthorized", "Authentication is required."
    # RFC 9110 15.5.2: a 401 names the scheme that would be accepted (the cookie is the browsers' way
    # to carry the same token).
    default_headers = {"WWW-Authenticate": 'Bearer realm="angebae"'}


class InvalidCredentials(Unauthorized):
    code, message = "invalid_credentials", "The email or password is incorrect."


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "Your role does not allow this action."


class NotFound(AppError):
    status, code, message = 404, "not_found", "The resource does not exist."


class MethodNotAllowed(AppError):
    status, code, message = 405, "method_not_allowed", "The resource does not take this method."


class Conflict(AppError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class PreconditionFailed(AppError):
    status, code, message = 412, "precondition_failed", "The resource has changed since you read it."


class PreconditionRequired(AppError):
    status, code = 428, "precondition_required"
    message = "Send the ETag you read as an If-Match header (a change must name the version it replaces)."


class PayloadTooLarge(AppError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(AppError):
    status, code, message = 415, "unsupported_media_type", "Send the body as application/json."


class TooManyRequests(AppError):
    status, code, message = 429, "too_many_requests", "Too many attempts; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(
            message,
            headers={"Retry-After": str(max(1, int(retry_after)))},
            details={"retry_after": max(1, int(retry_after))},
        )


class ServiceUnavailable(AppError):
    status, code, message = 503, "service_unavailable", "A backing service is unavailable."
    transient = True


class DatabaseUnavailable(ServiceUnavailable):
    code, message = "database_unavailable", "The database is unavailable."


class StorageUnavailable(ServiceUnavailable):
    code, message = "storage_unavailable", "The object storage is unavailable."


# --- The worker's family: how a job's run ends, never an HTTP answer ----------------------------------


class JobError(Exception):
    """What stops an OCR job's run (angebae.jobs.runner). `code` is stable: a job that ends failed
    stores it as its error_code (README's failure codes). The subclass says what the worker does:
    a TransientJobError gives the job back and has its message delivered again, a PermanentJobError
    ends the job `failed` with its code at once."""

    code = "job_error"
    message = "The job could not run."
    transient = False

    def __init__(self, code: str | None = None, message: str | None = None) -> None:
        self.code, self.message = code or self.code, message or self.message
        super().__init__(f"{self.code}: {self.message}")


class TransientJobError(JobError):
    """Worth another delivery of the message: the job is given back (its lease released)."""

    code, message, transient = "job_transient", "The job could not run now; it will be tried again.", True


class PermanentJobError(JobError):
    """The document or its object cannot be read, whoever tries: the job ends `failed` with `code`
    (empty, too_large, type_mismatch, object_missing, bad_pdf, ...), and its message is deleted."""

    code, message = "job_failed", "The job cannot be run."


class JobBusy(TransientJobError):
    """Another worker holds a live lease on the job: the message should come back later."""

    code, message = "job_busy", "The job is being processed by another worker."


class LeaseLost(JobError):
    """Our lease expired and another worker took the job over: stop without writing more. Neither
    retried nor failed: the job is the other worker's now."""

    code, message = "lease_lost", "The job's lease was taken over by another worker."


def retry_worthy(exc: BaseException) -> bool:
    """Whether an error a job's run raised is an expected transient one (a backing service down: the
    message comes back, logged as a warning) rather than a bug (logged with its traceback). Either
    way, anything not permanent is delivered again."""
    return isinstance(exc, TransientJobError) or (isinstance(exc, AppError) and exc.transient)
