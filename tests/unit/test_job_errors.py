"""The worker's error family (errors.JobError): transient or permanent, each with a stable code, apart
from the API's HTTP family."""

from __future__ import annotations

from angebae.errors import (
    AppError,
    DatabaseUnavailable,
    JobBusy,
    JobError,
    LeaseLost,
    NotFound,
    PermanentJobError,
    StorageUnavailable,
    TransientJobError,
    retry_worthy,
)
from angebae.queue import QueueUnavailable
from angebae.storage import ObjectMissing


def test_each_worker_error_has_a_stable_code_and_says_whether_it_is_retried():
    assert (JobBusy().code, JobBusy().transient) == ("job_busy", True)
    assert (ObjectMissing().code, ObjectMissing().transient) == ("object_missing", False)
    assert LeaseLost().code == "lease_lost" and not LeaseLost().transient
    failed = PermanentJobError("type_mismatch", "declared as image/png but the content is application/pdf")
    assert (failed.code, failed.message, str(failed)) == (
        "type_mismatch",
        failed.message,
        f"type_mismatch: {failed.message}",
    )


def test_the_worker_family_borrows_no_http_class():
    for error in (JobBusy, ObjectMissing, LeaseLost, PermanentJobError, TransientJobError):
        assert issubclass(error, JobError) and not issubclass(error, AppError), error
        assert not hasattr(error, "status"), error
    assert issubclass(ObjectMissing, PermanentJobError) and issubclass(JobBusy, TransientJobError)


def test_a_backing_service_down_is_retry_worthy_a_bug_or_an_api_error_is_not():
    for exc in (JobBusy(), DatabaseUnavailable(), StorageUnavailable(), QueueUnavailable()):
        assert retry_worthy(exc), exc
    for exc in (ValueError("bug"), NotFound(), ObjectMissing(), LeaseLost()):
        assert not retry_worthy(exc), exc
