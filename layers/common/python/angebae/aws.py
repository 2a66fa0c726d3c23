"""boto3 clients, built once per process. They reach AWS, LocalStack or moto through the standard
`AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_S3`/`_SQS`/`_SNS`) settings that boto3 reads itself."""

from __future__ import annotations

import functools


@functools.cache
def s3_client():
    import boto3  # ~0.4 s: only the functions that talk to AWS pay it
    from botocore.config import Config

    return boto3.client("s3", config=Config(signature_version="s3v4", retries={"mode": "standard"},
                                            connect_timeout=5, read_timeout=30))


@functools.cache
def sqs_client():
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", config=Config(retries={"mode": "standard"}, connect_timeout=5,
                                             read_timeout=30))


@functools.cache
def sns_client():
    """The job-finished events' topic (angebae.jobs.events): short timeouts, an event never waits long."""
    import boto3
    from botocore.config import Config

    return boto3.client("sns", config=Config(retries={"mode": "standard", "max_attempts": 2},
                                             connect_timeout=3, read_timeout=5))
