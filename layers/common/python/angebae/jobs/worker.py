"""The OCR worker's SQS batch: one function per record, partial batch failures for the rest.

Messages are S3 ObjectCreated notifications (one job per object version, made idempotently) or
`{"job_id": ...}` from POST /ocr/jobs. `s3:TestEvent`, malformed bodies and unknown keys are logged
and acknowledged. Permanent failures are recorded on the job and acknowledged; transient ones are
reported in `batchItemFailures` so SQS redelivers them, until the last receive marks the job failed
and leaves the message for SQS to move to the dead-letter queue (where the alarm sees it).
"""

from __future__ import annotations

import json
import logging
import uuid
from urllib.parse import unquote_plus

from angebae import logs, metrics
from angebae.catalog.media import UPLOAD_PREFIX
from angebae.db import Database
from angebae.errors import JobBusy, retry_worthy
from angebae.jobs import events, transitions
from angebae.jobs.runner import JobRunner
from angebae.queue import Queue
from angebae.settings import Settings
from angebae.storage import Storage

log = logging.getLogger("angebae.jobs.worker")


class DeadLetter(Exception):
    """The job is failed `retries_exhausted`; its message stays for SQS to dead-letter."""


def process_batch(
    records: list[dict], *, db: Database, s3, sqs=None, settings: Settings, owner: str | None = None
) -> dict:
    runner = JobRunner(db, Storage(s3, settings.media_bucket), settings, owner or f"worker-{uuid.uuid4()}")
    try:
        housekeeping(db, settings, sqs=sqs)
    except Exception:  # housekeeping: never a reason to fail the batch itself
        log.warning("could not reap stale jobs", exc_info=True)
    failures = []
    for record in records:
        with logs.bind(message_id=record.get("messageId")):  # on every line about this message
            if not process_record(record, runner):
                failures.append({"itemIdentifier": record["messageId"]})
                _retry_sooner(record, sqs, settings)
    return {"batchItemFailures": failures}


_MAX_VISIBILITY_SECONDS = 43200  # SQS's limit


def _retry_sooner(record: dict, sqs, settings: Settings) -> None:
    """A failed message comes back after the queue's visibility timeout, sized for the longest job
    (6x the worker's timeout: 90 min). A database blip deserves a sooner retry: back off
    exponentially from RETRY_BASE_SECONDS instead; the DLQ still takes it after MAX_RECEIVE_COUNT."""
    queue = Queue.of(sqs, settings.ocr_queue_url)
    if queue is None or not settings.retry_base_seconds:
        return
    attempt = int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    delay = min(settings.retry_base_seconds * 4 ** (attempt - 1), _MAX_VISIBILITY_SECONDS)
    try:
        queue.retry_in(record["receiptHandle"], delay)
    except Exception:  # the queue's own timeout still brings the message back
        log.warning("could not shorten the retry delay of %s", record.get("messageId"), exc_info=True)


def process_record(record: dict, runner: JobRunner) -> bool:
    """True when the message may be deleted, False to have SQS deliver it again."""
    message_id = record.get("messageId")
    attempt = int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    last = attempt >= runner.settings.max_receive_count
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        body = None
    try:
        if isinstance(body, dict) and body.get("Event") == "s3:TestEvent":
            _note("ignored s3:TestEvent", message_id)
        elif isinstance(body, dict) and isinstance(body.get("Records"), list):
            for s3_record in body["Records"]:
                _handle_object(s3_record, runner, message_id, last)
        elif isinstance(body, dict) and (job_id := _as_uuid(body.get("job_id"))):
            _run(runner, job_id, message_id, last)
        else:
            _note("ignored a malformed message", message_id)
        return True
    except DeadLetter:  # logged by _run with the job, left for SQS to dead-letter
        return False
    except Exception as exc:  # anything not recorded as permanent is worth another delivery
        level = logging.WARNING if retry_worthy(exc) else logging.ERROR
        log.log(
            level,
            "message will be redelivered",
            exc_info=level == logging.ERROR,
            extra={
                "fields": {
                    "message_id": message_id,
                    "outcome": "redelivered",
                    "attempt": attempt,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            },
        )
        return False


def _handle_object(s3_record: dict, runner: JobRunner, message_id: str | None, last: bool) -> None:
    try:
        bucket = s3_record["s3"]["bucket"]["name"]
        obj = s3_record["s3"]["object"]
        if not (isinstance(bucket, str) and isinstance(obj["key"], str)):
            raise TypeError("bucket and key must be strings")
        key = unquote_plus(obj["key"])
    except (KeyError, TypeError):
        _note("ignored a malformed S3 record", message_id)
        return
    if not str(s3_record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
        _note("ignored a non-creation S3 event", message_id, key=key)
        return
    if not key.startswith(UPLOAD_PREFIX):
        _note("ignored an object outside uploads/", message_id, key=key)
        return
    etag = str(obj.get("eTag") or obj.get("etag") or "").strip('"')
    version = str(obj.get("versionId") or etag or "unversioned")
    with runner.db.transaction() as conn:
        media = conn.execute("SELECT id, bucket, purpose FROM media WHERE object_key = %s", (key,)).fetchone()
        if media is None or media["bucket"] != bucket:
            _note("ignored an object with no media row", message_id, bucket=bucket, key=key)
            return
    if media["purpose"] == "product_image":  # checked and stored, never OCR'd: no job
        with logs.bind(media_id=media["id"]):
            outcome = runner.check_product_media(media["id"], obj.get("versionId") or None)
        logs.log_fields(log, logging.INFO, "message handled", message_id=message_id, outcome=outcome)
        return
    with runner.db.transaction() as conn:
        # One job per object version: a second delivery of the same notification finds the first.
        job = transitions.create_once(
            conn,
            media["id"],
            f"s3://{bucket}/{key}@{version}",
            runner.settings.ocr_languages,
            source_version=obj.get("versionId") or None,
        )
    with logs.bind(media_id=media["id"], job_id=job["id"]):
        _run(runner, job["id"], message_id, last)


def _run(runner: JobRunner, job_id: uuid.UUID, message_id: str | None, last: bool) -> None:
    try:
        outcome = runner.run(job_id)
    except JobBusy:
        if not last:
            raise
        outcome = "busy_elsewhere"  # its lease holder finishes it, or the reaper takes it up
    except Exception as exc:
        if not last:
            raise
        runner.fail(
            job_id,
            "retries_exhausted",
            f"gave up after {runner.settings.max_receive_count} attempts; last error: {exc}",
            any_owner=True,
        )
        logs.log_fields(
            log,
            logging.WARNING,
            "message left for the dead-letter queue",
            message_id=message_id,
            job_id=job_id,
            outcome="retries_exhausted",
            error=f"{type(exc).__name__}: {exc}",
        )
        raise DeadLetter(f"job {job_id}: retries exhausted") from exc
    logs.log_fields(
        log, logging.INFO, "message handled", message_id=message_id, job_id=job_id, outcome=outcome
    )


def housekeeping(db: Database, settings: Settings, *, sqs=None) -> dict:
    """Stale jobs reaped, abandoned uploads expired: before each batch, and on a schedule (the
    ocr_reaper function) so that nothing waits for the next message. The ids come back as text."""
    reaped = reap_stale_jobs(db, settings, sqs=sqs)
    return {
        "failed": [str(i) for i in reaped["failed"]],
        "requeued": [str(i) for i in reaped["requeued"]],
        "expired_uploads": expire_abandoned_uploads(db, settings),
    }


def reap_stale_jobs(db: Database, settings: Settings, *, sqs=None) -> dict:
    """Jobs left `processing` past their lease (their worker died): those out of attempts are failed;
    the others go back to `queued` with a new message when the worker may send one, otherwise the
    next delivery of their own message takes them up. Jobs left `queued` past
    `queued_resend_seconds` lost their message: they get a new one (or fail when out of attempts)."""
    queue = Queue.of(sqs, settings.ocr_queue_url)
    with db.transaction() as conn:
        reaped = transitions.reap(
            conn, settings.max_receive_count, resend_seconds=settings.queued_resend_seconds if queue else None
        )
        if queue is not None:  # inside the transaction: a failed send leaves the jobs as they were
            for job_id in reaped.requeued:
                queue.send_job(job_id)
    failed = [r["id"] for r in reaped.failed]
    if failed or reaped.requeued:
        logs.log_fields(log, logging.WARNING, "reaped stale jobs", failed=failed, requeued=reaped.requeued)
    for row in reaped.failed:
        metrics.emit("JobsFailed", 1, code=row["error_code"])
    events.Publisher(settings).jobs_finished(reaped.failed)  # after the commit: the ends are final
    return {"failed": failed, "requeued": reaped.requeued}


def expire_abandoned_uploads(db: Database, settings: Settings) -> int:
    """Media whose presigned POST expired an hour ago without an object are marked rejected, so no
    upload stays `pending` forever. (A late object still arrives: its notification updates the row.)"""
    with db.transaction() as conn:
        rows = conn.execute(
            """UPDATE media SET status = 'rejected', error_code = 'upload_expired', updated_at = now(),
                      error_message = 'No file arrived before the upload link expired.'
               WHERE id IN (SELECT id FROM media WHERE status = 'pending'
                            AND created_at < now() - make_interval(secs => %s + 3600)
                            LIMIT 100 FOR UPDATE SKIP LOCKED)
               RETURNING id""",
            (settings.upload_url_ttl_seconds,),
        ).fetchall()
    if rows:
        logs.log_fields(log, logging.INFO, "expired abandoned uploads", media=[r["id"] for r in rows])
    return len(rows)


def _as_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _note(message: str, message_id: str | None, **fields) -> None:
    logs.log_fields(log, logging.WARNING, message, message_id=message_id, **fields)
