"""Job-finished events: when an OCR job ends, succeeded or failed (by the worker, the reaper or a
failed enqueue), one JSON event says so, so that a front-end or an email need not poll:

    {"type": "ocr.job.succeeded" | "ocr.job.failed", "job_id": "...", "media_id": "...",
     "status": "succeeded" | "failed", "error": {"code": "...", "message": "..."} | null,
     "candidates": 12, "finished_at": "2026-12-02T03:10:00.123456Z"}

It goes, after the transaction that ended the job has committed, to every sink configured:

- the log, always: one structured line `job event` with the event under `event`;
- SNS, when JOB_EVENTS_TOPIC_ARN is set (the template's JobEventsTopic): the JSON as the message,
  with `type` and `status` as message attributes (for subscription filter policies);
- a webhook, when JOB_EVENTS_WEBHOOK_URL is set (the embedded stack's `--events-url`): an HTTP POST
  of the JSON with Content-Type application/json, any 2xx is delivered.

An event is never a reason for a job to fail or run again: a sink that fails (unreachable, a non-2xx
answer, a refused publish) is logged as a warning and counted (metric JobEventsUnpublished, by sink);
the job stays as it ended. Delivery is at most once per ending: a worker that dies between its
commit and its publish sends none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from angebae import logs, metrics
from angebae.formats import json_default, rfc3339
from angebae.settings import Settings

log = logging.getLogger("angebae.jobs.events")

SUCCEEDED, FAILED = "ocr.job.succeeded", "ocr.job.failed"
# The columns an ended job's UPDATE ... RETURNING gives for its event (angebae.jobs.transitions).
EVENT_COLUMNS = "id, media_id, status, error_code, error_message, finished_at"


def job_finished(row: dict, candidates: int = 0) -> dict:
    """The event of a job that ended: `row` has EVENT_COLUMNS."""
    failed = row["status"] == "failed"
    return {
        "type": FAILED if failed else SUCCEEDED,
        "job_id": str(row["id"]),
        "media_id": str(row["media_id"]),
        "status": row["status"],
        "error": {"code": row["error_code"], "message": row["error_message"]} if failed else None,
        "candidates": candidates,
        "finished_at": rfc3339(row["finished_at"]),
    }


@dataclass
class Publisher:
    """Sends job events to the sinks the settings name. `sns` is a boto3 SNS client (made on first
    use when a topic is configured)."""

    settings: Settings
    sns: Any = None  # a boto3 SNS client
    sent: int = field(default=0, init=False)  # events delivered to every configured sink

    def jobs_finished(self, rows: Iterable[dict], candidates: int = 0) -> None:
        for row in rows:
            self.publish(job_finished(row, candidates))

    def publish(self, event: dict) -> None:
        body = json.dumps(event, default=json_default, separators=(",", ":"))
        logs.log_fields(log, logging.INFO, "job event", event=event)
        delivered = True
        if self.settings.job_events_topic_arn:
            delivered &= self._deliver("sns", event, lambda: self._publish_sns(event, body))
        if self.settings.job_events_webhook_url:
            delivered &= self._deliver(
                "webhook",
                event,
                lambda: _post(
                    self.settings.job_events_webhook_url, body, self.settings.job_events_timeout_seconds
                ),
            )
        self.sent += delivered

    def _publish_sns(self, event: dict, body: str) -> None:
        if self.sns is None:
            from angebae.aws import sns_client

            self.sns = sns_client()
        self.sns.publish(
            TopicArn=self.settings.job_events_topic_arn,
            Message=body,
            MessageAttributes={
                "type": {"DataType": "String", "StringValue": event["type"]},
                "status": {"DataType": "String", "StringValue": event["status"]},
            },
        )

    @staticmethod
    def _deliver(sink: str, event: dict, send) -> bool:
        try:
            send()
            return True
        except Exception as exc:  # whatever the sink did, the job stays as it ended
            logs.log_fields(
                log,
                logging.WARNING,
                "job event not delivered",
                sink=sink,
                job_id=event["job_id"],
                type=event["type"],
                error=f"{type(exc).__name__}: {exc}",
            )
            metrics.emit("JobEventsUnpublished", 1, sink=sink)
            return False


def _post(url: str, body: str, timeout: float) -> None:
    """POSTs the event; a non-2xx answer (urllib raises HTTPError for it) or no answer raises."""
    import urllib.request

    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "angebae-job-events/1"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only (settings)
        answer.read()
