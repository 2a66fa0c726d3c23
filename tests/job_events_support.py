"""Receivers of job-finished events for tests: a real HTTP server on 127.0.0.1 (the webhook), and an
SQS queue subscribed to an SNS topic on the moto server (the AWS way)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Webhook:
    """Collects what is POSTed to `url`, answering `status` (settable while it runs)."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.requests: list[dict] = []
        received = self.requests
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "json": json.loads(body),
                    }
                )
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/jobs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def events(self) -> list[dict]:
        return [r["json"] for r in self.requests]

    def wait(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events


def subscribed_topic(aws: dict) -> tuple[str, callable]:
    """A new SNS topic with a new SQS queue subscribed to it; returns the topic's ARN and a function
    that receives the events delivered so far (SNS envelopes unwrapped, attributes kept)."""
    import boto3

    sns, sqs = boto3.client("sns"), aws["sqs"]
    suffix = uuid.uuid4().hex[:10]
    topic = sns.create_topic(Name=f"job-events-{suffix}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"job-events-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def received(wait: float = 1) -> list[dict]:
        out = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=int(wait)
            ).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                out.append(
                    {
                        "event": json.loads(envelope["Message"]),
                        "attributes": {
                            k: v["Value"] for k, v in (envelope.get("MessageAttributes") or {}).items()
                        },
                    }
                )
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return topic, received
