"""OCR jobs as the API sees them: enqueue a (re-)run, read one with its candidates, list them."""

from __future__ import annotations

import uuid

from angebae import audit, metrics
from angebae.db import Database
from angebae.errors import Conflict, NotFound, ValidationFailed
from angebae.jobs import events, previews, transitions
from angebae.models import INT4_MAX
from angebae.pagination import decode_cursor, page, time_key_cursor
from angebae.queue import Queue, QueueUnavailable
from angebae.review import candidates
from angebae.settings import Settings

STATUSES = ("queued", "processing", "succeeded", "failed")


def installed_languages() -> set[str] | None:
    """Tesseract languages on this machine, or None where no tessdata is present (an API function
    without the OCR layer): the worker then checks them and fails the job with a clear code."""
    import os

    from angebae.ocr.engine import tessdata_dir

    folder = tessdata_dir()
    if not folder or not os.path.isdir(folder):
        return None
    names = {f.removesuffix(".traineddata") for f in os.listdir(folder) if f.endswith(".traineddata")}
    return names - {"osd"}


def check_languages(languages: str, installed: set[str] | None) -> str:
    from angebae.ocr.engine import language_problem

    if problem := language_problem(languages, installed):
        reason, message = problem
        raise ValidationFailed(message, details={"fields": [{"field": "languages", "problem": reason}]})
    return languages


def enqueue_job(
    db: Database,
    sqs,
    settings: Settings,
    admin: dict,
    *,
    media_id: uuid.UUID,
    languages: str | None,
    pages: list[int] | None,
    installed: set[str] | None,
    source_ip: str | None = None,
) -> dict:
    queue_url = settings.require("ocr_queue_url")
    languages = check_languages(languages or settings.ocr_languages, installed)
    if pages is not None:
        pages = sorted(set(pages))
        if not pages or pages[0] < 1 or len(pages) > settings.max_pages:
            raise ValidationFailed(f"pages must list 1 to {settings.max_pages} positive page numbers.")
    with db.transaction() as conn:
        media = conn.execute(
            """SELECT id, status, purpose, coalesce(page_count, (
                       SELECT pages_total FROM ocr_jobs j WHERE j.media_id = m.id AND j.pages IS NULL
                       AND j.status = 'succeeded' ORDER BY j.created_at DESC LIMIT 1)) AS page_count
               FROM media m WHERE id = %s FOR SHARE""",
            (media_id,),
        ).fetchone()
        if media is None:
            raise NotFound("The media does not exist.")
        if media["status"] != "uploaded":
            raise Conflict(
                f"The media is {media['status']}; only an uploaded file can be read.",
                details={"media_status": media["status"]},
            )
        if media["purpose"] != "document":
            raise Conflict(
                "The media is a product image: only documents are read.",
                details={"purpose": media["purpose"]},
            )
        check_pages(pages, media["page_count"])
        job = transitions.create(
            conn, media_id, f"request:{uuid.uuid4()}", languages, pages=pages, requested_by=admin["id"]
        )
        audit.record(
            conn,
            action="ocr_job_requested",
            entity="ocr_job",
            entity_id=job["id"],
            actor=admin,
            after={"media_id": media_id, "languages": languages, "pages": pages},
            source_ip=source_ip,
        )
    # Sent after the commit: a worker never receives a job it cannot see yet.
    try:
        Queue(sqs, queue_url).send_job(job["id"])
    except QueueUnavailable as exc:
        with db.transaction() as conn:
            ended = transitions.fail_unsent(conn, job["id"])
        if ended:
            metrics.emit("JobsFailed", 1, code=ended["error_code"])
            events.Publisher(settings).jobs_finished([ended])
        raise QueueUnavailable() from exc
    return public_job(job)


def check_pages(pages: list[int] | None, page_count: int | None) -> None:
    """Pages outside the document are 400 when the request comes, not a failed job later. Until a
    worker has opened the document (page_count None) the worker checks them."""
    outside = [p for p in pages or () if page_count is not None and p > page_count]
    if outside:
        raise ValidationFailed(
            f"The document has {page_count} page(s); pages {', '.join(map(str, outside))} are outside it.",
            details={
                "fields": [{"field": "pages", "problem": "outside the document"}],
                "page_count": page_count,
                "outside": outside,
            },
        )


def public_job(row: dict) -> dict:
    def seconds(start, end):
        return round((end - start).total_seconds(), 3) if start and end else None

    return {
        "id": row["id"],
        "media_id": row["media_id"],
        "status": row["status"],
        "languages": row["languages"],
        "pages": row["pages"],
        "attempts": row["attempts"],
        "progress": {"pages_done": row["pages_done"], "pages_total": row["pages_total"]},
        "source": row["candidates_source"],  # "xml" (embedded e-invoice), "layout"; None until succeeded
        # [{"page"?, "code", "message"}]: e.g. a page that prints prices but gave no product
        "warnings": row["warnings"],
        "timings": {
            "created_at": row["created_at"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
            "queued_seconds": seconds(row["created_at"], row["started_at"]),
            "run_seconds": seconds(row["started_at"], row["finished_at"]),
        },
        "error": {"code": row["error_code"], "message": row["error_message"]} if row["error_code"] else None,
    }


# Where words and bboxes are: the page's own coordinate system, said in every page answer.
COORDINATES = (
    "points (1/72 inch) from the page's top-left corner, x to the right, y down; a PDF's "
    "own points, an image's pixels x 72 / its dpi (96 when the file names none); width and "
    "height are the page's size in the same units"
)


class PageNotFound(NotFound):
    code, message = "page_not_found", "The job has not read that page."


def _page_source(page: dict, job: dict) -> str:
    if job["candidates_source"] == "xml":
        return "xml"
    return "text_layer" if page["source"] == "text" else "ocr"


def _page_summary(storage, page: dict, job: dict) -> dict:
    links = previews.links(storage, page)
    return {
        "page": page["page_number"],
        "source": _page_source(page, job),
        "words_from": "text_layer" if page["source"] == "text" else "ocr",
        "width": page["width"],
        "height": page["height"],
        "mean_confidence": round(page["mean_confidence"], 4),
        "preview_url": links["preview"],
        "thumbnail_url": links["thumbnail"],
    }


_PAGE_COLUMNS = "page_number, source, width, height, mean_confidence, preview_key, thumbnail_key"


def get_job(db: Database, job_id: uuid.UUID, *, limit: int, cursor: str | None, storage=None) -> dict:
    """The job, the pages it read (sizes, source, confidence, preview links) and a page of its
    candidates, each with its page's preview and thumbnail links."""
    with db.transaction() as conn:
        row = conn.execute("SELECT * FROM ocr_jobs WHERE id = %s", (job_id,)).fetchone()
        if row is None:
            raise NotFound("The OCR job does not exist.")
        pages = conn.execute(
            f"SELECT {_PAGE_COLUMNS} FROM ocr_pages WHERE job_id = %s ORDER BY page_number", (job_id,)
        ).fetchall()
    read = [_page_summary(storage, p, row) for p in pages] if storage else []
    by_page = {p["page"]: p for p in read}
    candidates = list_candidates(db, job_id, limit=limit, cursor=cursor)
    for item in candidates["items"]:
        page = by_page.get(item["page_number"], {})
        item["preview_url"], item["thumbnail_url"] = page.get("preview_url"), page.get("thumbnail_url")
    return {**public_job(row), "pages_read": read, "coordinates": COORDINATES, "candidates": candidates}


def get_page(db: Database, storage, job_id: uuid.UUID, number: int) -> dict:
    """GET /ocr/jobs/{id}/pages/{n}: what the worker read on that page (source, mean confidence,
    size, text, words with their boxes) and its preview links."""
    with db.transaction() as conn:
        job = conn.execute("SELECT id, candidates_source FROM ocr_jobs WHERE id = %s", (job_id,)).fetchone()
        if job is None:
            raise NotFound("The OCR job does not exist.")
        page = conn.execute(
            f"SELECT {_PAGE_COLUMNS}, text, words FROM ocr_pages WHERE job_id = %s AND page_number = %s",
            (job_id, number),
        ).fetchone()
    if page is None:
        raise PageNotFound(details={"page": number})
    return {
        "job_id": job_id,
        **_page_summary(storage, page, job),
        "coordinates": COORDINATES,
        "text": page["text"],
        "words": page["words"],
    }


def list_candidates(db: Database, job_id: uuid.UUID, *, limit: int, cursor: str | None) -> dict:
    page_no, position = decode_cursor(cursor, _int4, _int4) or (None, None)
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM ocr_jobs WHERE id = %s", (job_id,)).fetchone() is None:
            raise NotFound("The OCR job does not exist.")
        rows = conn.execute(
            f"""SELECT {candidates.COLUMNS} FROM product_candidates
                WHERE job_id = %(job)s
                  AND (%(page)s::int IS NULL OR (page_number, position) > (%(page)s::int, %(pos)s::int))
                ORDER BY page_number, position LIMIT %(n)s""",
            {"job": job_id, "page": page_no, "pos": position, "n": limit + 1},
        ).fetchall()
        result = page(rows, limit, lambda r: [r["page_number"], r["position"]])
        result["items"] = candidates.with_proposals(conn, result["items"])
    return result


def _int4(value) -> int:
    if type(value) is not int or not -INT4_MAX <= value <= INT4_MAX:
        raise ValueError("not an int4")
    return value


def list_jobs(
    db: Database, *, status: str | None, media_id: uuid.UUID | None, limit: int, cursor: str | None
) -> dict:
    at, after_id = time_key_cursor(cursor)
    with db.transaction() as conn:
        rows = conn.execute(
            """SELECT * FROM ocr_jobs
               WHERE (%(status)s::text IS NULL OR status = %(status)s)
                 AND (%(media)s::uuid IS NULL OR media_id = %(media)s)
                 AND (%(at)s::timestamptz IS NULL OR (created_at, id) < (%(at)s::timestamptz, %(id)s::uuid))
               ORDER BY created_at DESC, id DESC LIMIT %(n)s""",
            {"status": status, "media": media_id, "at": at, "id": after_id, "n": limit + 1},
        ).fetchall()
    result = page(rows, limit, lambda r: [r["created_at"], r["id"]])
    result["items"] = [public_job(r) for r in result["items"]]
    return result
