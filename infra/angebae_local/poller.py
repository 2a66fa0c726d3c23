"""Event source mapping for `Type: SQS` events: long-poll, invoke with real batches, delete successes.

Semantics follow Lambda: a handler exception leaves the whole batch for redelivery after the
visibility timeout; with ReportBatchItemFailures only the reported ids stay (an unknown id fails the
whole batch). The SQS server applies RedrivePolicy; when it does not (ApproximateReceiveCount past
maxReceiveCount), the poller moves the message to the dead-letter queue itself. Like Lambda's, the
mapping keeps `concurrency` batches in flight at once (one receive-invoke-delete loop each): one
slow document does not hold back every other message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import QueueInfo
from .runner import InvokeResult

log = logging.getLogger("angebae.local.poller")


def to_lambda_record(msg: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attrs = {
        k: msg.get("Attributes", {})[k]
        for k in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "MessageGroupId",
            "MessageDeduplicationId",
            "SequenceNumber",
        )
        if k in msg.get("Attributes", {})
    }
    msg_attrs = {
        name: {
            "stringValue": a.get("StringValue"),
            "binaryValue": a.get("BinaryValue"),
            "stringListValues": a.get("StringListValues", []),
            "binaryListValues": a.get("BinaryListValues", []),
            "dataType": a["DataType"],
        }
        for name, a in (msg.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": msg["MessageId"],
        "receiptHandle": msg["ReceiptHandle"],
        "body": msg["Body"],
        "attributes": attrs,
        "messageAttributes": msg_attrs,
        "md5OfBody": msg.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_ids(outcome: InvokeResult, batch_ids: set[str], report_failures: bool) -> set[str]:
    """Which messages of the batch stay in the queue after this invocation."""
    if not outcome.ok:
        return set(batch_ids)
    if not report_failures or not isinstance(outcome.result, dict):
        return set()
    items = outcome.result.get("batchItemFailures") or []
    ids = {i.get("itemIdentifier") if isinstance(i, dict) else None for i in items}
    if None in ids or "" in ids or not ids <= batch_ids:
        log.warning("invalid batchItemFailures %r: the whole batch fails", items)
        return set(batch_ids)
    return ids  # type: ignore[return-value]


class SqsPoller:
    def __init__(
        self,
        sqs,
        queue: QueueInfo,
        invoke: Callable[[dict[str, Any]], InvokeResult],
        *,
        batch_size: int = 10,
        report_failures: bool = False,
        region: str = "us-east-1",
        wait_seconds: int = 2,
        name: str = "poller",
        concurrency: int = 1,
    ) -> None:
        self.sqs, self.queue, self.invoke = sqs, queue, invoke
        self.batch_size, self.report_failures = batch_size, report_failures
        self.region, self.wait_seconds, self.name = region, wait_seconds, name
        self.concurrency = max(1, concurrency)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> SqsPoller:
        for n in range(self.concurrency):
            name = self.name if self.concurrency == 1 else f"{self.name}#{n + 1}"
            self._threads.append(threading.Thread(target=self._run, daemon=True, name=name))
            self._threads[-1].start()
        return self

    def alive(self) -> int:
        """How many of its loops are running."""
        return sum(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self.poll_once()
                backoff = 1.0
            except (BotoCoreError, ClientError) as exc:
                log.warning("%s: polling %s failed: %s", self.name, self.queue.name, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)
            except Exception:  # anything else (a function that cannot start...) must not end the mapping
                log.exception(
                    "%s: unexpected error polling %s; the batch is left for redelivery",
                    self.name,
                    self.queue.name,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)

    def poll_once(self) -> int:
        """One receive + invoke + delete cycle; returns the number of messages handed to the function."""
        resp = self.sqs.receive_message(
            QueueUrl=self.queue.url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = [m for m in resp.get("Messages", []) if not self._redrive_if_exhausted(m)]
        if not messages:
            return 0
        records = [to_lambda_record(m, self.queue.arn, self.region) for m in messages]
        outcome = self.invoke({"Records": records})
        if not outcome.ok:
            log.warning(
                "%s: batch of %d failed (%s): left for redelivery",
                self.name,
                len(records),
                (outcome.error or {}).get("errorType"),
            )
        keep = failed_ids(outcome, {r["messageId"] for r in records}, self.report_failures)
        done = [r for r in records if r["messageId"] not in keep]
        for i in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": r["receiptHandle"]}
                    for n, r in enumerate(done[i : i + 10])
                ],
            )
        log.info("%s: batch of %d: %d done, %d left for retry", self.name, len(records), len(done), len(keep))
        return len(records)

    def _redrive_if_exhausted(self, msg: dict[str, Any]) -> bool:
        q = self.queue
        count = int(msg.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        if not q.dlq_url or not q.max_receive_count or count <= q.max_receive_count:
            return False
        self.sqs.send_message(QueueUrl=q.dlq_url, MessageBody=msg["Body"])
        self.sqs.delete_message(QueueUrl=q.url, ReceiptHandle=msg["ReceiptHandle"])
        log.warning(
            "%s: message %s moved to the dead-letter queue after %d receives",
            self.name,
            msg["MessageId"],
            count,
        )
        return True
