"""angebae.queue.Queue against moto's SQS: the one place that calls SQS, its errors translated."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from angebae.errors import ServiceUnavailable
from angebae.queue import Queue, QueueUnavailable
from botocore.config import Config


def test_a_job_message_is_sent_counted_and_its_retry_brought_forward(aws):
    queue = Queue(aws["sqs"], aws["queue_url"])
    job_id = uuid.uuid4()
    queue.send_job(job_id)
    assert queue.depth() == 1
    [message] = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], VisibilityTimeout=600)["Messages"]
    assert json.loads(message["Body"]) == {"job_id": str(job_id)}
    assert queue.depth() == 0  # in flight: not counted as waiting
    queue.retry_in(message["ReceiptHandle"], 0)  # back at once instead of after 600 s
    [again] = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], WaitTimeSeconds=2)["Messages"]
    assert again["MessageId"] == message["MessageId"]


def test_a_missing_queue_is_queue_unavailable_a_transient_503(aws):
    queue = Queue(aws["sqs"], aws["queue_url"] + "-missing")
    for call in (lambda: queue.send_job(uuid.uuid4()), queue.depth):
        with pytest.raises(QueueUnavailable) as caught:
            call()
        assert isinstance(caught.value, ServiceUnavailable) and caught.value.transient
        assert (caught.value.status, caught.value.code) == (503, "queue_unavailable")


def test_an_unreachable_endpoint_is_queue_unavailable(aws):
    from angebae_local.aws import free_port

    sqs = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(QueueUnavailable, match="unreachable"):
        Queue(sqs, aws["queue_url"]).send_job(uuid.uuid4())


def test_no_client_or_no_url_is_no_queue(aws):
    assert Queue.of(None, aws["queue_url"]) is None and Queue.of(aws["sqs"], None) is None
    assert Queue.of(aws["sqs"], aws["queue_url"]).url == aws["queue_url"]
