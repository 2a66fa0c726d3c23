"""Job-finished events (issue 11, "Telling people"): a job that ends publishes one JSON event to the
SNS topic (here moto's, with an SQS queue subscribed) and to a webhook (a real HTTP server on
127.0.0.1); a sink that fails never fails or retries the job."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
from angebae.db import Database
from angebae.formats import rfc3339
from angebae.jobs import api, events
from angebae.queue import QueueUnavailable
from angebae.settings import ConfigurationError, Settings
from job_events_support import Webhook, subscribed_topic
from ocr_support import make_admin, price_list_pdf, s3_message, sqs_record, upload, worker_settings

EVENT_KEYS = {"type", "job_id", "media_id", "status", "error", "candidates", "finished_at"}


@pytest.fixture
def webhook():
    with Webhook() as hook:
        yield hook


@pytest.fixture
def topic(aws):
    return subscribed_topic(aws)


def _row(status: str, **kw) -> dict:
    return {
        "id": uuid.uuid4(),
        "media_id": uuid.uuid4(),
        "status": status,
        "error_code": None,
        "error_message": None,
        "finished_at": datetime(2026, 12, 2, 3, 4, 5, 678901, tzinfo=UTC),
        **kw,
    }


def test_the_event_has_the_documented_shape_for_a_success_and_a_failure():
    ok = _row("succeeded")
    assert events.job_finished(ok, 7) == {
        "type": "ocr.job.succeeded",
        "job_id": str(ok["id"]),
        "media_id": str(ok["media_id"]),
        "status": "succeeded",
        "error": None,
        "candidates": 7,
        "finished_at": "2026-12-02T03:04:05.678901Z",
    }
    failed = events.job_finished(_row("failed", error_code="empty", error_message="the file is empty"))
    assert (failed["type"], failed["error"], failed["candidates"]) == (
        "ocr.job.failed",
        {"code": "empty", "message": "the file is empty"},
        0,
    )


def test_a_published_event_reaches_the_topics_sqs_subscriber_and_the_webhook(
    aws, database_url, topic, webhook
):
    arn, received = topic
    publisher = events.Publisher(
        Settings(database_url=database_url, job_events_topic_arn=arn, job_events_webhook_url=webhook.url)
    )
    publisher.jobs_finished([_row("succeeded")], candidates=3)
    [delivered] = received()
    assert delivered["event"]["type"] == "ocr.job.succeeded" and delivered["event"]["candidates"] == 3
    # the type and the status are message attributes too, for subscription filter policies
    assert delivered["attributes"] == {"type": "ocr.job.succeeded", "status": "succeeded"}
    [posted] = webhook.requests
    assert posted["path"] == "/hooks/jobs" and posted["content_type"] == "application/json"
    assert posted["json"] == delivered["event"] and set(posted["json"]) == EVENT_KEYS
    assert publisher.sent == 1


def test_a_sink_that_fails_is_logged_and_never_raises(aws, database_url, webhook, caplog):
    # GIVEN a webhook that answers 500 and a topic that does not exist
    webhook.status = 500
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    publisher = events.Publisher(
        Settings(database_url=database_url, job_events_topic_arn=missing, job_events_webhook_url=webhook.url)
    )
    # WHEN an event is published THEN nothing raises, and each sink's failure is a warning
    with caplog.at_level(logging.WARNING, logger="angebae.jobs.events"):
        publisher.publish(events.job_finished(_row("succeeded")))
    failures = {r.fields["sink"] for r in caplog.records if r.getMessage() == "job event not delivered"}
    assert failures == {"sns", "webhook"} and len(webhook.requests) == 1 and publisher.sent == 0


def test_an_unreachable_webhook_is_given_up_within_the_timeout(database_url, caplog):
    from angebae_local.aws import free_port

    publisher = events.Publisher(
        Settings(
            database_url=database_url,
            job_events_timeout_seconds=1,
            job_events_webhook_url=f"http://127.0.0.1:{free_port()}/x",
        )
    )
    with caplog.at_level(logging.WARNING, logger="angebae.jobs.events"):
        publisher.publish(events.job_finished(_row("failed", error_code="empty", error_message="e")))
    assert [r.fields["sink"] for r in caplog.records if r.getMessage() == "job event not delivered"] == [
        "webhook"
    ]


def test_the_event_is_always_logged_as_one_structured_line(database_url, caplog):
    with caplog.at_level(logging.INFO, logger="angebae.jobs.events"):
        events.Publisher(Settings(database_url=database_url)).publish(events.job_finished(_row("succeeded")))
    [line] = [r for r in caplog.records if r.getMessage() == "job event"]
    assert set(line.fields["event"]) == EVENT_KEYS


@pytest.mark.parametrize("value", ["ftp://example.com/x", "not a url"])
def test_a_webhook_url_that_is_not_http_stops_the_function_naming_the_variable(database_url, value):
    with pytest.raises(ConfigurationError, match="JOB_EVENTS_WEBHOOK_URL"):
        Settings.from_env({"DATABASE_URL": database_url, "JOB_EVENTS_WEBHOOK_URL": value})
    empty = Settings.from_env(
        {"DATABASE_URL": database_url, "JOB_EVENTS_WEBHOOK_URL": "", "JOB_EVENTS_TOPIC_ARN": ""}
    )
    assert (empty.job_events_webhook_url, empty.job_events_topic_arn) == (None, None)


def test_a_job_whose_message_cannot_be_sent_ends_failed_with_an_event(aws, db, database_url, topic, webhook):
    # GIVEN a document, a queue that does not exist, and both sinks configured
    editor = make_admin(db, "editor")
    media = upload(database_url, aws, editor, price_list_pdf())
    db.execute("UPDATE media SET status = 'uploaded' WHERE id = %s", (media["id"],))
    arn, received = topic
    settings = Settings(
        database_url=database_url,
        ocr_queue_url=aws["queue_url"] + "-missing",
        job_events_topic_arn=arn,
        job_events_webhook_url=webhook.url,
    )
    # WHEN a run is asked for (as POST /ocr/jobs does)
    database = Database(database_url)
    try:
        with pytest.raises(QueueUnavailable):
            api.enqueue_job(
                database,
                aws["sqs"],
                settings,
                editor,
                media_id=media["id"],
                languages=None,
                pages=None,
                installed=None,
            )
    finally:
        database.close()
    # THEN the job failed enqueue_failed, and both sinks say so
    job = db.execute("SELECT * FROM ocr_jobs").fetchone()
    assert job["error_code"] == "enqueue_failed"
    [event] = webhook.events
    assert event == {
        "type": "ocr.job.failed",
        "job_id": str(job["id"]),
        "media_id": str(media["id"]),
        "status": "failed",
        "error": {"code": "enqueue_failed", "message": "The job could not be queued."},
        "candidates": 0,
        "finished_at": event["finished_at"],
    }
    assert [d["event"] for d in received()] == [event]


# the worker and the reaper: every job that ends says so once


def _run_batch(aws, database_url, records, **settings):
    from angebae.jobs.worker import process_batch

    database = Database(database_url)
    try:
        return process_batch(
            records,
            db=database,
            s3=aws["s3"],
            sqs=aws["sqs"],
            settings=worker_settings(aws, database_url, **settings),
        )
    finally:
        database.close()


def _notification(media) -> dict:
    return sqs_record(s3_message(media["bucket"], media["object_key"]))


def test_a_succeeded_and_a_failed_job_reach_the_topics_subscriber_and_the_webhook(
    aws, db, database_url, topic, webhook
):
    # GIVEN a readable price list and an empty file, uploaded
    editor = make_admin(db, "editor")
    good = upload(database_url, aws, editor, price_list_pdf())
    empty = upload(database_url, aws, editor, b"", size=1)
    arn, received = topic
    # WHEN the worker runs both
    result = _run_batch(
        aws,
        database_url,
        [_notification(good), _notification(empty)],
        job_events_topic_arn=arn,
        job_events_webhook_url=webhook.url,
    )
    assert result == {"batchItemFailures": []}
    # THEN each job's event says how it ended, on SNS (through SQS) and on the webhook alike
    jobs = {j["media_id"]: j for j in db.execute("SELECT * FROM ocr_jobs").fetchall()}
    found = db.execute(
        "SELECT count(*) AS n FROM product_candidates WHERE job_id = %s", (jobs[good["id"]]["id"],)
    ).fetchone()["n"]
    by_media = {e["media_id"]: e for e in webhook.events}
    assert len(webhook.events) == 2 and found > 0
    assert by_media[str(good["id"])] == {
        "type": "ocr.job.succeeded",
        "job_id": str(jobs[good["id"]]["id"]),
        "media_id": str(good["id"]),
        "status": "succeeded",
        "error": None,
        "candidates": found,
        "finished_at": rfc3339(jobs[good["id"]]["finished_at"]),
    }
    failed = by_media[str(empty["id"])]
    assert (failed["type"], failed["status"], failed["candidates"]) == ("ocr.job.failed", "failed", 0)
    assert failed["error"] == {"code": "empty", "message": jobs[empty["id"]]["error_message"]}
    delivered = received()
    assert sorted((d["event"]["job_id"], d["attributes"]["type"]) for d in delivered) == sorted(
        (e["job_id"], e["type"]) for e in webhook.events
    )
    assert {d["event"]["job_id"]: d["event"] for d in delivered} == {e["job_id"]: e for e in webhook.events}
    # AND a second delivery of the same notifications ends nothing again: no second event
    _run_batch(
        aws, database_url, [_notification(good)], job_events_topic_arn=arn, job_events_webhook_url=webhook.url
    )
    assert len(webhook.events) == 2 and received() == []


def _metric(stdout: str, name: str) -> list[dict]:
    """The EMF lines (angebae.metrics) that carry `name`."""
    return [
        doc
        for doc in (json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"'))
        if name in doc
    ]


def test_a_job_the_reaper_fails_publishes_its_event(aws, db, database_url, topic, webhook, capsys):
    from angebae.jobs.worker import reap_stale_jobs

    media = upload(database_url, aws, make_admin(db, "editor"), price_list_pdf())
    job = db.execute(
        """INSERT INTO ocr_jobs (media_id, source_key, status, attempts, lease_owner, lease_expires_at)
           VALUES (%s, 'request:dead', 'processing', 5, 'dead-worker', now() - interval '1 second')
           RETURNING *""",
        (media["id"],),
    ).fetchone()
    arn, received = topic
    database = Database(database_url)
    try:
        settings = worker_settings(
            aws, database_url, job_events_topic_arn=arn, job_events_webhook_url=webhook.url
        )
        result = reap_stale_jobs(database, settings, sqs=aws["sqs"])
    finally:
        database.close()
    assert result["failed"] == [job["id"]]
    [event] = webhook.events
    assert (event["job_id"], event["type"], event["error"]["code"]) == (
        str(job["id"]),
        "ocr.job.failed",
        "lease_expired",
    )
    assert [d["event"] for d in received()] == [event]
    [counted] = _metric(capsys.readouterr().out, "JobsFailed")  # counted by its code, as the worker's are
    assert (counted["code"], counted["JobsFailed"]) == ("lease_expired", [1.0])


def test_sinks_that_fail_never_fail_or_retry_the_job(aws, db, database_url, webhook, capsys):
    # GIVEN a webhook answering 503 and a topic that does not exist
    webhook.status = 503
    media = upload(database_url, aws, make_admin(db, "editor"), price_list_pdf())
    # WHEN the worker runs the job
    result = _run_batch(
        aws,
        database_url,
        [_notification(media)],
        job_events_webhook_url=webhook.url,
        job_events_topic_arn="arn:aws:sns:us-east-1:123456789012:no-such-topic",
    )
    # THEN the job succeeded, its message is acknowledged (not redelivered), and the webhook was tried
    assert result == {"batchItemFailures": []}
    job = db.execute("SELECT * FROM ocr_jobs WHERE media_id = %s", (media["id"],)).fetchone()
    assert (job["status"], job["attempts"], job["error_code"]) == ("succeeded", 1, None)
    assert [e["job_id"] for e in webhook.events] == [str(job["id"])]
    unpublished = _metric(capsys.readouterr().out, "JobEventsUnpublished")
    assert sorted(m["sink"] for m in unpublished) == ["sns", "webhook"]
