"""The embedded stack's S3 store (infra/angebae_local/s3store.py) on a real moto server: every object
version and delete marker saved to disk comes back with its version id, ETag, bytes and metadata, and
restoring sends no S3 event (the jobs of those files must not run again)."""

from __future__ import annotations

import json
import uuid

import boto3
from angebae_local.s3store import S3Store


def _clients(endpoint: str):
    kw = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    return boto3.client("s3", **kw), boto3.client("sqs", **kw)


def _versions(s3, bucket: str) -> list[tuple]:
    answer = s3.list_object_versions(Bucket=bucket)
    versions = [(v["Key"], v["VersionId"], v["ETag"], v["IsLatest"]) for v in answer.get("Versions", [])]
    markers = [(m["Key"], m["VersionId"], "marker", m["IsLatest"]) for m in answer.get("DeleteMarkers", [])]
    return sorted(versions + markers)


def _empty(s3, bucket: str) -> None:
    answer = s3.list_object_versions(Bucket=bucket)
    for v in answer.get("Versions", []) + answer.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])


def test_saved_versions_and_delete_markers_come_back_without_an_event(moto_endpoint, tmp_path):
    s3, sqs = _clients(moto_endpoint)
    bucket = f"media-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(
        Bucket=bucket,
        Key="uploads/a.pdf",
        Body=b"%PDF first",
        ContentType="application/pdf",
        Metadata={"ticket": "t-1"},
    )
    s3.put_object(Bucket=bucket, Key="uploads/a.pdf", Body=b"%PDF second", ContentType="application/pdf")
    s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"deleted later")
    s3.delete_object(Bucket=bucket, Key="gone.txt")
    before = _versions(s3, bucket)
    first = s3.list_object_versions(Bucket=bucket, Prefix="uploads/")["Versions"][-1]["VersionId"]

    store = S3Store(tmp_path / "s3")
    assert store.save() is True
    assert store.save() is False  # nothing changed: nothing written
    saved = [e for e in json.loads((tmp_path / "s3" / "manifest.json").read_text()) if e["bucket"] == bucket]
    assert len(saved) == 4 and sum(bool(e.get("delete_marker")) for e in saved) == 1
    blobs = {e["sha256"] for e in saved if "sha256" in e}
    assert len(blobs) == 3 and all((tmp_path / "s3" / "objects" / b).is_file() for b in blobs)

    _empty(s3, bucket)  # as a restarted moto: the bucket is there, its objects are not
    sqs.purge_queue(QueueUrl=queue)
    assert _versions(s3, bucket) == []
    restored = S3Store(tmp_path / "s3").restore()

    assert restored >= 3
    assert _versions(s3, bucket) == before
    old = s3.get_object(Bucket=bucket, Key="uploads/a.pdf", VersionId=first)
    assert old["Body"].read() == b"%PDF first"
    assert old["ContentType"] == "application/pdf" and old["Metadata"] == {"ticket": "t-1"}
    assert s3.get_object(Bucket=bucket, Key="uploads/a.pdf")["Body"].read() == b"%PDF second"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="gone.txt")  # still deleted
    events = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert events.get("Messages", []) == []
