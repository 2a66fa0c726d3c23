"""Job-finished events (issue 11, "Telling people"): a job that ends publishes one JSON event to the
SNS topic (here moto's, with an SQS queue subscribed) and to a webhook (a real HTTP server on
127.0.0.1); a sink that fails never fails or retries the job."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest
from angebae.db import Database
from angebae.jobs import api, events
from angebae.queue import QueueUnavailable
from angebae.settings import ConfigurationError, Settings
from job_events_support import Webhook, subscribed_topic
from ocr_support import make_admin, price_list_pdf, upload

EVENT_KEYS = {"type", "job_id", "media_id", "status", "error", "candidates", "finished_at"}


@pytest.fixture
def webhook():
    with Webhook() as hook:
        yield hook


@pytest.fixture
def topic(aws):
    return subscribed_topic(aws)


def _row(status: str, **kw) -> dict:
    return {"id": uuid.uuid4(), "media_id": uuid.uuid4(), "status": status, "error_code": None,
            "error_message": None, "finished_at": datetime(2026, 12, 2, 3, 4, 5, 678901, tzinfo=UTC), **kw}


def test_the_event_has_the_documented_shape_for_a_success_and_a_failure():
    ok = _row("succeeded")
    assert events.job_finished(ok, 7) == {
        "type": "ocr.job.succeeded", "job_id": str(ok["id"]), "media_id": str(ok["media_id"]),
        "status": "succeeded", "error": None, "candidates": 7, "finished_at": "2026-12-02T03:04:05.678901Z"}
    failed = events.job_finished(_row("failed", error_code="empty", error_message="the file is empty"))
    assert (failed["type"], failed["error"], failed["candidates"]) == (
        "ocr.job.failed", {"code": "empty", "message": "the file is empty"}, 0)


def test_a_published_event_reaches_the_topics_sqs_subscriber_and_the_webhook(aws, database_url, topic,
                                                                            webhook):
    arn, received = topic
    publisher = events.Publisher(Settings(database_url=database_url, job_events_topic_arn=arn,
                                          job_events_webhook_url=webhook.url))
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
    publisher = events.Publisher(Settings(database_url=database_url, job_events_topic_arn=missing,
                                          job_events_webhook_url=webhook.url))
    # WHEN an event is published THEN nothing raises, and each sink's failure is a warning
    with caplog.at_level(logging.WARNING, logger="angebae.jobs.events"):
        publisher.publish(events.job_finished(_row("succeeded")))
    failures = {r.fields["sink"] for r in caplog.records if r.getMessage() == "job event not delivered"}
    assert failures == {"sns", "webhook"} and len(webhook.requests) == 1 and publisher.sent == 0


def test_an_unreachable_webhook_is_given_up_within_the_timeout(database_url, caplog):
    from angebae_local.aws import free_port

    publisher = events.Publisher(Settings(database_url=database_url, job_events_timeout_seconds=1,
                                          job_events_webhook_url=f"http://127.0.0.1:{free_port()}/x"))
    with caplog.at_level(logging.WARNING, logger="angebae.jobs.events"):
        publisher.publish(events.job_finished(_row("failed", error_code="empty", error_message="e")))
    assert [r.fields["sink"] for r in caplog.records if r.getMessage() == "job event not delivered"] == \
        ["webhook"]


def test_the_event_is_always_logged_as_one_structured_line(database_url, caplog):
    with caplog.at_level(logging.INFO, logger="angebae.jobs.events"):
        events.Publisher(Settings(database_url=database_url)).publish(events.job_finished(_row("succeeded")))
    [line] = [r for r in caplog.records if r.getMessage() == "job event"]
    assert set(line.fields["event"]) == EVENT_KEYS


@pytest.mark.parametrize("value", ["ftp://example.com/x", "not a url"])
def test_a_webhook_url_that_is_not_http_stops_the_function_naming_the_variable(database_url, value):
    with pytest.raises(ConfigurationError, match="JOB_EVENTS_WEBHOOK_URL"):
        Settings.from_env({"DATABASE_URL": database_url, "JOB_EVENTS_WEBHOOK_URL": value})
    empty = Settings.from_env({"DATABASE_URL": database_url, "JOB_EVENTS_WEBHOOK_URL": "",
                               "JOB_EVENTS_TOPIC_ARN": ""})
    assert (empty.job_events_webhook_url, empty.job_events_topic_arn) == (None, None)


def test_a_job_whose_message_cannot_be_sent_ends_failed_with_an_event(aws, db, database_url, topic, webhook):
    # GIVEN a document, a queue that does not exist, and both sinks configured
    editor = make_admin(db, "editor")
    media = upload(database_url, aws, editor, price_list_pdf())
    db.execute("UPDATE media SET status = 'uploaded' WHERE id = %s", (media["id"],))
    arn, received = topic
    settings = Settings(database_url=database_url, ocr_queue_url=aws["queue_url"] + "-missing",
                        job_events_topic_arn=arn, job_events_webhook_url=webhook.url)
    # WHEN a run is asked for (as POST /ocr/jobs does)
    database = Database(database_url)
    try:
        with pytest.raises(QueueUnavailable):
            api.enqueue_job(database, aws["sqs"], settings, editor, media_id=media["id"], languages=None,
                            pages=None, installed=None)
    finally:
        database.close()
    # THEN the job failed enqueue_failed, and both sinks say so
    job = db.execute("SELECT * FROM ocr_jobs").fetchone()
    assert job["error_code"] == "enqueue_failed"
    [event] = webhook.events
    assert event == {"type": "ocr.job.failed", "job_id": str(job["id"]), "media_id": str(media["id"]),
                     "status": "failed", "error": {"code": "enqueue_failed",
                                                   "message": "The job could not be queued."},
                     "candidates": 0, "finished_at": event["finished_at"]}
    assert [d["event"] for d in received()] == [event]
