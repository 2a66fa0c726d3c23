"""The OCR queue: job messages sent, a failed message's retry brought forward, the queue's depth.

Like `Storage` for the bucket, the one place that calls SQS: botocore errors are translated here into
`QueueUnavailable` (transient: the API answers 503, the worker's caller retries). The worker's own
batch (receive, delete, dead-letter) is the event source mapping's, never called from here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from angebae.errors import ServiceUnavailable


class QueueUnavailable(ServiceUnavailable):
    code, message = "queue_unavailable", "The OCR queue is unavailable; try again later."


class Queue:
    def __init__(self, sqs, url: str) -> None:
        self.sqs = sqs
        self.url = url

    @classmethod
    def of(cls, sqs, url: str | None) -> Queue | None:
        """The queue when there is a client and a URL (a worker without OCR_QUEUE_URL sends nothing)."""
        return cls(sqs, url) if sqs is not None and url else None

    def send_job(self, job_id) -> None:
        """The message that makes a worker run the job: `{"job_id": "..."}`."""
        with _translated():
            self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"job_id": str(job_id)}))

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """The received message comes back after `seconds` instead of the queue's visibility timeout."""
        with _translated():
            self.sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )

    def depth(self) -> int:
        """Messages waiting (SQS's approximate count): what /health shows."""
        with _translated():
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
            )
        return int(attrs["Attributes"].get("ApproximateNumberOfMessages", 0))


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        raise QueueUnavailable(f"The OCR queue answered {status} {code}; try again later.") from exc
    except BotoCoreError as exc:  # endpoint unreachable, timeouts, broken responses
        raise QueueUnavailable(f"The OCR queue is unreachable ({type(exc).__name__}).") from exc
