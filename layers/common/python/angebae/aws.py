"""boto3 clients, built once per process. They reach AWS, LocalStack or moto through the standard
`AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_S3`/`_SQS`/`_SNS`) settings that boto3 reads itself."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the stubs (boto3-stubs, [dev]); nothing imports boto3 before a client is asked for
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient


@functools.cache
def s3_client() -> S3Client:
    import boto3  # ~0.4 s: only the functions that talk to AWS pay it
    from botocore.config import Config

    return boto3.client(
        "s3",
        config=Config(
            signature_version="s3v4", retries={"mode": "standard"}, connect_timeout=5, read_timeout=30
        ),
    )


@functools.cache
def sqs_client() -> SQSClient:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs", config=Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=30)
    )


@functools.cache
def sns_client() -> SNSClient:
    """The job-finished events' topic (angebae.jobs.events): short timeouts, an event never waits long."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sns",
        config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=5),
    )
