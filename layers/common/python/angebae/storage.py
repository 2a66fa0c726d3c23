"""The media bucket: presigned POST/GET for clients, HeadObject and bounded reads for the worker.

botocore errors are translated here: a missing object is `ObjectMissing` (a PermanentJobError: the job
fails); connection errors, throttling, 5xx and a missing bucket (a broken deployment, not a bad
document) are `StorageUnavailable` (transient: the API answers 503, SQS redelivers the job).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from angebae.errors import PermanentJobError, StorageUnavailable

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class ObjectMissing(PermanentJobError):
    """The worker's: a job whose object is gone fails `object_missing` (no API call reads objects)."""

    code, message = "object_missing", "The uploaded object does not exist in storage."


TICKET_METADATA = "ticket"  # x-amz-meta-ticket: the upload ticket's secret (angebae.catalog.media)


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str | None
    version_id: str | None
    content_type: str | None
    ticket: str | None = None  # the object's x-amz-meta-ticket


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict
    expires_at: datetime


class Storage:
    def __init__(self, s3, bucket: str | None = None) -> None:
        self.s3 = s3
        self.bucket = bucket

    def presigned_post(self, key: str, content_type: str, size: int, ttl: int, ticket: str) -> PresignedPost:
        """A POST policy that S3 enforces: this key only, this Content-Type, exactly `size` bytes, and
        the ticket's secret as the object's metadata (which the worker checks where the policy is not
        enforced)."""
        expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
        meta = f"x-amz-meta-{TICKET_METADATA}"
        with _translated():
            post = self.s3.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Fields={"Content-Type": content_type, meta: ticket},
                Conditions=[
                    {"Content-Type": content_type},
                    {meta: ticket},
                    ["content-length-range", size, size],
                ],
                ExpiresIn=ttl,
            )
        return PresignedPost(post["url"], post["fields"], expires_at)

    def presigned_get(
        self, bucket: str, key: str, ttl: int, download_name: str, version_id: str | None = None
    ) -> str:
        params = {
            "Bucket": bucket,
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{download_name}"',
            **_version(version_id),
        }
        with _translated():
            return self.s3.generate_presigned_url("get_object", ExpiresIn=ttl, Params=params)

    def presigned_view(self, key: str, ttl: int) -> str:
        """A link to show an object of this bucket inline (a page preview in an <img>)."""
        with _translated():
            return self.s3.generate_presigned_url(
                "get_object", ExpiresIn=ttl, Params={"Bucket": self.bucket, "Key": key}
            )

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """Writes an object of this bucket (the worker's page previews)."""
        with _translated(self.bucket, self.s3):
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def delete(self, bucket: str, keys: list[str]) -> None:
        """Deletes these keys (a delete marker in a versioned bucket), 1000 a request."""
        with _translated():
            for start in range(0, len(keys), 1000):
                answer = self.s3.delete_objects(
                    Bucket=bucket,
                    Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
                )
                if answer.get("Errors"):
                    error = answer["Errors"][0]
                    raise StorageUnavailable(
                        f"Storage refused to delete {error.get('Key')}: {error.get('Code')}."
                    )

    def check_bucket(self) -> None:
        """This bucket exists and answers (/health): StorageUnavailable otherwise."""
        with _translated():
            self.s3.head_bucket(Bucket=self.bucket)

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """The object (that version of it when given: a versioned bucket keeps what was replaced)."""
        with _translated(bucket, self.s3):
            head = self.s3.head_object(Bucket=bucket, Key=key, **_version(version_id))
        return ObjectInfo(
            head["ContentLength"],
            (head.get("ETag") or "").strip('"') or None,
            head.get("VersionId"),
            head.get("ContentType"),
            (head.get("Metadata") or {}).get(TICKET_METADATA),
        )

    def read(
        self,
        bucket: str,
        key: str,
        max_bytes: int,
        *,
        first: int | None = None,
        version_id: str | None = None,
    ) -> bytes:
        """The object's bytes (only the first `first` when given), never more than max_bytes."""
        wanted = min(first, max_bytes) if first else max_bytes
        with _translated(bucket, self.s3):
            body = self.s3.get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{wanted - 1}", **_version(version_id)
            )["Body"]
            try:
                return body.read(wanted)
            finally:
                body.close()


def _version(version_id: str | None) -> dict:
    return {"VersionId": version_id} if version_id else {}


@contextlib.contextmanager
def _translated(bucket: str | None = None, s3=None) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _MISSING_CODES and bucket and _bucket_exists(s3, bucket):
            raise ObjectMissing() from exc
        raise StorageUnavailable(f"Storage answered {status} {code}.") from exc
    except BotoCoreError as exc:  # endpoint unreachable, timeouts, broken responses
        raise StorageUnavailable(f"Storage is unreachable ({type(exc).__name__}).") from exc


def _bucket_exists(s3, bucket: str) -> bool:
    """A HEAD answers a bare 404 for a missing key and a missing bucket alike: tell them apart."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError:
        return False
