"""Uploaded media: the upload ticket (a media row and a presigned POST), reading and listing media.

The object key is made by the server, `uploads/<media-id>/<slug>`; the client's filename is kept as
metadata only and never reaches a path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
import uuid
from typing import Literal

from angebae import audit
from angebae.db import Database, one
from angebae.errors import AppError, Conflict, NotFound, UnsupportedMediaType, ValidationFailed
from angebae.formats import rfc3339
from angebae.ocr.document import JPEG, PNG, SUPPORTED_TYPES, TIFF, WEBP, normalize_type, sniff_type
from angebae.pagination import page, time_key_cursor
from angebae.settings import Settings
from angebae.storage import Storage

UPLOAD_PREFIX = "uploads/"
PURPOSES = ("document", "product_image")
# A product's media: its photos, and videos (stored and offered for download, never OCR'd).
VIDEO_TYPES = ("video/mp4", "video/webm", "video/quicktime")
PRODUCT_IMAGE_TYPES = (PNG, JPEG, WEBP, TIFF, *VIDEO_TYPES)
Purpose = Literal["document", "product_image"]
_VIDEO_ALIASES = {
    "video/x-m4v": "video/mp4",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "video/mov": "video/quicktime",
}


def sniff_media(head: bytes) -> str | None:
    """A document's or product image's type from its first bytes: sniff_type's, MP4/MOV (an ISO
    base media `ftyp` box: QuickTime's brand 'qt  ') and WebM (a Matroska EBML header)."""
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return sniff_type(head)


def canonical_type(declared: str | None) -> str | None:
    value = normalize_type(declared)
    return _VIDEO_ALIASES.get(value, value) if value is not None else None


DOWNLOAD_URL_TTL_SECONDS = 300
_SLUG_MAX = 80
_PUBLIC = (
    "id",
    "purpose",
    "filename",
    "declared_type",
    "declared_size",
    "size_bytes",
    "sniffed_type",
    "status",
    "error_code",
    "error_message",
    "created_at",
    "updated_at",
)


class UnsupportedFileType(UnsupportedMediaType):
    code = "unsupported_file_type"
    message = "Upload a PDF, PNG, JPEG, TIFF or WebP file."


class FileTooLarge(AppError):
    status, code = 413, "file_too_large"


def safe_slug(filename: str) -> str:
    """A key-safe name: the last path segment, ASCII letters, digits, '.', '-', '_'; else "file"."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    name = re.sub(r"[^a-z0-9._-]+", "-", name)
    name = re.sub(r"\.{2,}", ".", name)
    name = re.sub(r"-{2,}", "-", name).strip(".-_")[:_SLUG_MAX].strip(".-_")
    return name or "file"


def check_upload(
    settings: Settings, filename: str, content_type: str, size: int, purpose: Purpose = "document"
) -> str:
    """The canonical content type; 415 for a type outside the purpose's allowlist, 413/400 for the
    size, 400 for a filename with control characters (no real file has them; Postgres refuses NUL)."""
    if any(unicodedata.category(ch) == "Cc" for ch in filename):
        raise ValidationFailed(
            "The filename contains control characters.",
            details={"fields": [{"field": "filename", "problem": "control characters"}]},
        )
    canonical = canonical_type(content_type)
    allowed = PRODUCT_IMAGE_TYPES if purpose == "product_image" else SUPPORTED_TYPES
    if canonical is None or canonical not in allowed:
        if purpose == "product_image":
            raise UnsupportedFileType(
                f"{content_type!r} is not accepted as a product's media. Upload a "
                "PNG, JPEG, WebP or TIFF image, or an MP4, WebM or MOV video.",
                details={"allowed": list(PRODUCT_IMAGE_TYPES)},
            )
        raise UnsupportedFileType(
            f"{content_type!r} is not accepted. Upload a PDF, PNG, JPEG, TIFF or "
            "WebP file (videos: purpose product_image).",
            details={"allowed": list(SUPPORTED_TYPES)},
        )
    if size > settings.max_upload_bytes:
        raise FileTooLarge(
            f"The file has {size} bytes; the limit is {settings.max_upload_bytes} bytes.",
            details={"max_bytes": settings.max_upload_bytes},
        )
    if size < 1:
        raise ValidationFailed(
            "The file is empty; send a size of at least 1 byte.",
            details={"fields": [{"field": "size", "problem": "must be at least 1"}]},
        )
    return canonical


def create_upload(
    db: Database,
    storage: Storage,
    settings: Settings,
    admin: dict,
    *,
    filename: str,
    content_type: str,
    size: int,
    source_ip: str | None = None,
    purpose: Purpose = "document",
) -> dict:
    canonical = check_upload(settings, filename, content_type, size, purpose)
    media_id = uuid.uuid4()
    key = f"{UPLOAD_PREFIX}{media_id}/{safe_slug(filename)}"
    ticket = secrets.token_urlsafe(32)
    post = storage.presigned_post(key, canonical, size, settings.upload_url_ttl_seconds, ticket)
    with db.transaction() as conn:
        row = one(
            conn.execute(
                """INSERT INTO media (id, bucket, object_key, filename, declared_type, declared_size,
                                  uploaded_by, ticket_sha256, purpose)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *""",
                (
                    media_id,
                    storage.bucket,
                    key,
                    filename,
                    canonical,
                    size,
                    admin["id"],
                    ticket_digest(ticket),
                    purpose,
                ),
            )
        )
        audit.record(
            conn,
            action="media_upload_requested",
            entity="media",
            entity_id=media_id,
            actor=admin,
            after={"filename": filename, "type": canonical, "size": size, "purpose": purpose},
            source_ip=source_ip,
        )
    return {
        "media": public_media(row),
        "upload": {"url": post.url, "fields": post.fields, "expires_at": rfc3339(post.expires_at)},
    }


def ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def carries_ticket(media: dict, ticket: str | None) -> bool:
    """Whether an object's x-amz-meta-ticket is this media's (media made before tickets: any object)."""
    expected = media.get("ticket_sha256")
    return expected is None or (ticket is not None and hmac.compare_digest(ticket_digest(ticket), expected))


def public_media(row: dict) -> dict:
    return {k: row.get(k) for k in _PUBLIC}


def thumbnail_url(storage: Storage, row: dict) -> str | None:
    """A product image's thumbnail (made by the worker), presigned; None for others and videos."""
    key = row.get("thumbnail_key")
    return key and storage.presigned_view(key, DOWNLOAD_URL_TTL_SECONDS)


class MediaInUse(Conflict):
    code, message = "media_in_use", "Products use this media; remove it from their images first."


def download_url(storage: Storage, row: dict) -> str | None:
    """A presigned link to the media's checked file; None unless it was checked (a pending one may
    not exist, a rejected one lied): the version that was checked, not what the key holds since."""
    if row["status"] != "uploaded":
        return None
    return storage.presigned_get(
        row["bucket"],
        row["object_key"],
        DOWNLOAD_URL_TTL_SECONDS,
        row["object_key"].rsplit("/", 1)[-1],
        row["version_id"],
    )


def delete_media(db: Database, storage: Storage, media_id: uuid.UUID, actor: dict) -> None:
    """The media's file, its page previews and its row (its jobs, pages and candidates with it), in
    one transaction, audited; 409 media_in_use while a product lists it among its images. In a
    versioned bucket the file's versions expire as replaced ones do."""
    with db.transaction() as conn:
        row = conn.execute("SELECT * FROM media WHERE id = %s FOR UPDATE", (media_id,)).fetchone()
        if row is None:
            raise NotFound("The media does not exist.")
        users = conn.execute(
            """SELECT p.id, p.name FROM product_media pm JOIN products p ON p.id = pm.product_id
               WHERE pm.media_id = %s ORDER BY p.name LIMIT 20""",
            (media_id,),
        ).fetchall()
        if users:
            raise MediaInUse(details={"products": [{"id": str(p["id"]), "name": p["name"]} for p in users]})
        previews = [
            k
            for r in conn.execute(
                """SELECT preview_key, thumbnail_key FROM ocr_pages pg JOIN ocr_jobs j ON j.id = pg.job_id
               WHERE j.media_id = %s""",
                (media_id,),
            )
            for k in (r["preview_key"], r["thumbnail_key"])
            if k
        ]
        previews += [row["thumbnail_key"]] if row["thumbnail_key"] else []
        jobs = one(conn.execute("SELECT count(*) AS n FROM ocr_jobs WHERE media_id = %s", (media_id,)))
        conn.execute("DELETE FROM media WHERE id = %s", (media_id,))
        audit.record(
            conn,
            action="delete",
            entity="media",
            entity_id=media_id,
            actor=actor,
            before={**public_media(row), "object_key": row["object_key"], "jobs": jobs["n"]},
        )
        # Last, still inside the transaction: storage refusing leaves the row (503), never a row
        # whose file is gone.
        storage.delete(row["bucket"], [row["object_key"]])
        if previews and storage.bucket:  # previews are the media bucket's (angebae.jobs.previews)
            storage.delete(storage.bucket, previews)


def get_media(db: Database, storage: Storage, media_id: uuid.UUID) -> dict:
    with db.transaction() as conn:
        row = conn.execute("SELECT * FROM media WHERE id = %s", (media_id,)).fetchone()
        if row is None:
            raise NotFound("The media does not exist.")
        jobs = conn.execute(
            """SELECT id, status, languages, pages, pages_done, pages_total, candidates_source,
                      warnings, error_code, error_message, created_at, started_at, finished_at
               FROM ocr_jobs WHERE media_id = %s ORDER BY created_at DESC, id DESC LIMIT 50""",
            (media_id,),
        ).fetchall()
    body = public_media(row)
    body["download_url"] = download_url(storage, row)
    body["thumbnail_url"] = thumbnail_url(storage, row)
    body["jobs"] = jobs
    return body


def list_media(db: Database, *, limit: int, cursor: str | None, storage: Storage) -> dict:
    """Newest first, keyset-paginated, each with its presigned download_url (None unless checked)."""
    at, after_id = time_key_cursor(cursor)
    with db.transaction() as conn:
        rows = conn.execute(
            """SELECT * FROM media
               WHERE %(at)s::timestamptz IS NULL OR (created_at, id) < (%(at)s::timestamptz, %(id)s::uuid)
               ORDER BY created_at DESC, id DESC LIMIT %(n)s""",
            {"at": at, "id": after_id, "n": limit + 1},
        ).fetchall()
    return page(
        [
            {
                **public_media(r),
                "download_url": download_url(storage, r),
                "thumbnail_url": thumbnail_url(storage, r),
            }
            for r in rows
        ],
        limit,
        lambda r: [r["created_at"], r["id"]],
    )
