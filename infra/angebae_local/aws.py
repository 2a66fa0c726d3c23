"""S3, SQS and SNS for the local stack: moto's server (or any endpoint), resources as the template says."""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .template import STACK_NAME, Template

log = logging.getLogger("angebae.local.aws")

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class PortInUse(RuntimeError):
    pass


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise PortInUse(f"port {port} on {host} is already in use") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """moto's threaded server on 127.0.0.1:port (port 0 picks a free one)."""

    def __init__(self, port: int = 4566) -> None:
        from moto.server import ThreadedMotoServer

        port = port or free_port()
        check_port_free(port)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = f"http://127.0.0.1:{port}"

    def start(self) -> MotoServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


def client(service: str, endpoint: str, region: str) -> Any:
    # boto3-stubs type client() per literal service name; this one takes any name the stack uses.
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 2}, read_timeout=30),
    )


@dataclass
class QueueInfo:
    logical_id: str
    name: str
    url: str
    arn: str
    visibility_timeout: int
    dlq_url: str | None = None
    max_receive_count: int | None = None


@dataclass
class Provisioned:
    endpoint: str
    region: str
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> name
    queues: dict[str, QueueInfo] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> ARN


def provision(template: Template, endpoint: str, region: str, visibility: int | None = None) -> Provisioned:
    """Create the template's queues (with redrive) and buckets (with notifications); idempotent.
    `visibility` replaces every queue's VisibilityTimeout (short ones for retry and chaos tests).

    Fills `template.local.resources` so Ref/GetAtt of these resources resolve locally.
    """
    out = Provisioned(endpoint, region)
    sqs = client("sqs", endpoint, region)
    s3 = client("s3", endpoint, region)
    queues = template.of_type("AWS::SQS::Queue")
    # Dead-letter queues first: the others' RedrivePolicy refers to their ARN.
    for qid in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {})):
        out.queues[qid] = _create_queue(template, sqs, qid, queues[qid].get("Properties", {}), visibility)
        by_arn = {q.arn: q for q in out.queues.values()}
        info = out.queues[qid]
        if info.dlq_url is None and (redrive := queues[qid].get("Properties", {}).get("RedrivePolicy")):
            info.dlq_url = by_arn[template.resolve(redrive["deadLetterTargetArn"])].url
    for bid, res in template.of_type("AWS::S3::Bucket").items():
        out.buckets[bid] = _create_bucket(template, s3, bid, res.get("Properties", {}))
    sns = client("sns", endpoint, region)
    for tid in template.of_type("AWS::SNS::Topic"):
        out.topics[tid] = _create_topic(template, sns, tid)
    return out


def _create_topic(template: Template, sns, tid: str) -> str:
    """A topic as the template names it (its Ref is the ARN): the job events' topic, which the worker
    publishes to on the embedded stack too; nothing subscribes locally unless a test does."""
    name = f"{STACK_NAME}-{tid}"
    arn = sns.create_topic(Name=name)["TopicArn"]  # idempotent: the same ARN on every start
    template.local.resources[tid] = {"Ref": arn, "TopicArn": arn, "TopicName": name}
    log.info("topic %s: %s", tid, arn)
    return arn


def _create_queue(template: Template, sqs, qid: str, props: dict, visibility: int | None = None) -> QueueInfo:
    name = template.resolve(props.get("QueueName")) or f"{STACK_NAME}-{qid}"
    seconds = visibility if visibility is not None else template.resolve(props.get("VisibilityTimeout", 30))
    attrs = {"VisibilityTimeout": str(seconds)}
    if "MessageRetentionPeriod" in props:
        attrs["MessageRetentionPeriod"] = str(template.resolve(props["MessageRetentionPeriod"]))
    max_receive = None
    if redrive := props.get("RedrivePolicy"):
        max_receive = int(template.resolve(redrive["maxReceiveCount"]))
        attrs["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": template.resolve(redrive["deadLetterTargetArn"]),
                "maxReceiveCount": max_receive,
            }
        )
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attrs)  # also updates a queue that already existed
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    template.local.resources[qid] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
    log.info("queue %s: %s", qid, url)
    return QueueInfo(qid, name, url, arn, int(attrs["VisibilityTimeout"]), max_receive_count=max_receive)


def _create_bucket(template: Template, s3, bid: str, props: dict) -> str:
    name = template.resolve(props.get("BucketName")) or f"{STACK_NAME}-{bid.lower()}"
    try:
        if template.local.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": template.local.region}
            )
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    template.local.resources[bid] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}", "DomainName": name}
    if versioning := props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": template.resolve(versioning["Status"])}
        )
    if cors := props.get("CorsConfiguration"):
        rules = [
            {
                "AllowedMethods": template.resolve(r["AllowedMethods"]),
                "AllowedOrigins": template.resolve(r["AllowedOrigins"]),
                "AllowedHeaders": template.resolve(r.get("AllowedHeaders", [])),
                "MaxAgeSeconds": int(template.resolve(r.get("MaxAge", 0))),
            }
            for r in cors["CorsRules"]
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    queue_configs = []
    for qc in props.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
        cfg = {"QueueArn": template.resolve(qc["Queue"]), "Events": [qc["Event"]]}
        rules = qc.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        if rules:
            cfg["Filter"] = {
                "Key": {
                    "FilterRules": [{"Name": r["Name"], "Value": template.resolve(r["Value"])} for r in rules]
                }
            }
        queue_configs.append(cfg)
    if queue_configs:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": queue_configs}
        )
    log.info("bucket %s: %s (%d notification(s))", bid, name, len(queue_configs))
    return name
