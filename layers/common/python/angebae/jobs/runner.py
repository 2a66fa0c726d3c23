"""Running one OCR job under a lease: check the object, read its pages, store the candidates.

A job is taken with a lease (`claim`); while a worker holds a live lease nobody else runs the job.
Each finished page is stored at once and renews the lease, so progress shows and a worker that dies
is resumed by the next one from the pages already stored. Permanent problems (the document, the
object: a PermanentJobError) end the job `failed` with a code; anything else releases the lease and
propagates, for the caller to have the message redelivered. Every change of the job's row is a named
transition (angebae.jobs.transitions); a job that ends publishes its event (angebae.jobs.events).
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from angebae import logs, metrics
from angebae.db import Database
from angebae.errors import AppError, JobBusy, LeaseLost, PermanentJobError
from angebae.jobs import events, previews, transitions
from angebae.settings import Settings
from angebae.storage import ObjectMissing, Storage

log = logging.getLogger("angebae.jobs.worker")

SNIFF_BYTES = 2048


@dataclass
class JobRunner:
    db: Database
    storage: Storage
    settings: Settings
    owner: str

    @functools.cached_property
    def publisher(self) -> events.Publisher:
        """Where the job-finished events go: the settings' sinks."""
        return events.Publisher(self.settings)

    # --- the lease (the transitions are angebae.jobs.transitions') ----------------------------------

    def claim(self, job_id) -> dict | None:
        with self.db.transaction() as conn:
            return transitions.claim(conn, job_id, self.owner, self.settings.job_lease_seconds)

    def release(self, job_id) -> None:
        """Give the job back at once (best effort: when the database is down the lease just expires)."""
        try:
            with self.db.transaction() as conn:
                transitions.release(conn, job_id, self.owner)
        except AppError:
            log.warning("could not release the lease of job %s", job_id)

    def fail(self, job_id, code: str, message: str, *, any_owner: bool = False) -> bool:
        """End the job `failed` unless it already ended, or (any_owner) another live lease holds it."""
        with self.db.transaction() as conn:
            row = transitions.fail(conn, job_id, self.owner, code, message, any_owner=any_owner)
        logs.log_fields(
            log,
            logging.WARNING,
            "job failed",
            job_id=job_id,
            code=code,
            detail=message,
            recorded=row is not None,
        )
        if row is not None:
            metrics.emit("JobsFailed", 1, code=code)
            self.publisher.jobs_finished([row])
        return row is not None

    # --- a run -------------------------------------------------------------------------------------

    def run(self, job_id) -> str:
        """Runs the job if it can be taken: "done", "failed", "already_finished", "unknown", "lost".

        Raises JobBusy while another worker holds it, and transient errors (after releasing it): a
        PermanentJobError ends the job failed with its code, LeaseLost stops it without a write.
        """
        job = self.claim(job_id)
        if job is None:
            with self.db.transaction() as conn:
                row = conn.execute("SELECT status FROM ocr_jobs WHERE id = %s", (job_id,)).fetchone()
            if row is None:
                return "unknown"
            if row["status"] in ("succeeded", "failed"):
                return "already_finished"
            raise JobBusy()
        with logs.bind(job_id=job["id"], media_id=job["media_id"]):  # on every line of the run
            metrics.emit("JobsStarted", 1)
            try:
                self._process(job)
                return "done"
            except PermanentJobError as exc:
                self.fail(job["id"], exc.code, exc.message)
                return "failed"
            except LeaseLost:
                log.warning("lease on job %s was taken over; stopping", job["id"])
                return "lost"
            except BaseException:
                self.release(job["id"])
                raise

    def _process(self, job: dict) -> None:
        from angebae.ocr.document import DocumentError

        started = time.perf_counter()
        media = self._media(job["media_id"])
        mime, data = self._fetch_checked(
            media,
            job["source_version"] or media["version_id"],
            from_upload=job["source_key"].startswith("s3://"),
        )
        try:
            total = self._read_pages(job, data, mime)
        except DocumentError as exc:
            raise PermanentJobError(exc.code, exc.message) from None
        previews.store(self.db.transaction, self.storage, job, data, mime)  # never fails the job
        self._finish(job, data, total, time.perf_counter() - started)

    def _fetch_checked(
        self, media: dict, version: str | None, *, from_upload: bool = False
    ) -> tuple[str, bytes]:
        """The object's sniffed type and bytes (that version of it), after HeadObject, its upload
        ticket, its size against the declared one and a magic-byte check; the media row records what
        was found. Emulators ignore POST policies: nothing is trusted unchecked."""
        from angebae.catalog.media import canonical_type, carries_ticket, sniff_media

        bucket, key, limit = media["bucket"], media["object_key"], self.settings.max_upload_bytes
        try:
            info = self.storage.head(bucket, key, version)
        except ObjectMissing:
            self._record_media(media, None, None, "object_missing", "The uploaded object does not exist.")
            raise PermanentJobError(
                "object_missing", f"the object {key} does not exist in {bucket}"
            ) from None
        if not carries_ticket(media, info.ticket):
            self._refuse_forged(media)
            raise PermanentJobError(
                "ticket_mismatch",
                "the object was not uploaded with this media's upload "
                "ticket (a form sent to another media's key): it is not read",
            )
        self._refuse_another_file(media, info, from_upload)
        sniffed = None
        if info.size == 0:
            problem = ("empty", "the file is empty (0 bytes)")
        elif info.size > limit:
            problem = ("too_large", f"the file has {info.size} bytes; the limit is {limit}")
        elif media["declared_size"] and info.size != media["declared_size"]:
            problem = (
                "size_mismatch",
                f"the file has {info.size} bytes; the upload declared {media['declared_size']}",
            )
        else:
            sniffed = sniff_media(
                self.storage.read(bucket, key, limit, first=SNIFF_BYTES, version_id=info.version_id)
            )
            declared = canonical_type(media["declared_type"])
            if sniffed is None:
                problem = (
                    "unsupported_type",
                    "the content is not a PDF, PNG, JPEG, TIFF or WebP file"
                    + (" or an MP4, WebM or MOV video" if media["purpose"] == "product_image" else ""),
                )
            elif sniffed != declared:
                problem = ("type_mismatch", f"declared as {declared} but the content is {sniffed}")
            else:
                problem = None
        self._record_media(media, info, sniffed, *(problem or (None, None)))
        if problem:
            raise PermanentJobError(*problem)
        assert sniffed is not None  # every path without a sniffed type set a problem
        if sniffed.startswith("video/"):
            return sniffed, b""  # stored and offered for download, never read here
        return sniffed, self.storage.read(bucket, key, limit, version_id=info.version_id)

    def _media(self, media_id) -> dict:
        with self.db.transaction() as conn:
            media = conn.execute("SELECT * FROM media WHERE id = %s", (media_id,)).fetchone()
        if media is None:  # deleted (with its jobs) after the message was sent
            raise PermanentJobError("media_missing", "the media was deleted")
        return media

    def check_product_media(self, media_id, version: str | None) -> str:
        """A product image or video (no OCR job): its object checked as a document's is (ticket, one
        file per ticket, size, magic bytes), the media row updated, and an image's thumbnail made.
        Returns "stored" or the code of what was refused (the media row says why)."""
        try:
            media = self._media(media_id)
            mime, data = self._fetch_checked(media, version or media["version_id"], from_upload=True)
        except PermanentJobError as exc:
            logs.log_fields(log, logging.WARNING, "product media refused", media_id=media_id, code=exc.code)
            return exc.code
        if data and media["thumbnail_key"] is None:
            previews.store_media_thumbnail(self.db.transaction, self.storage, media_id, data, mime)
        return "stored"

    def _refuse_another_file(self, media: dict, info, from_upload: bool) -> None:
        """One media is one file: once an object was checked, another one at its key (a second POST
        with the same upload ticket, within its lifetime) is refused, not read as the same media.
        With versions the checked version stays the media's; without, it is gone (see _refuse_forged)."""
        checked = media["status"] == "uploaded" and media["etag"] is not None
        if not checked or (info.etag, info.version_id) == (media["etag"], media["version_id"]):
            return
        self._refuse_forged(media)
        if from_upload:
            raise PermanentJobError(
                "ticket_used",
                "this media's upload ticket was already used for another file: one "
                "media is one file; ask for a new upload ticket (POST /media/uploads)",
            )
        raise PermanentJobError(
            "object_replaced", "the media's file was replaced since it was checked; upload it again"
        )

    def _refuse_forged(self, media: dict) -> None:
        """An object without this media's ticket never touches its row, with one exception: when the
        bucket keeps no versions (version_id NULL) the checked object it replaced is gone, so the
        media stops being offered for download. Pending media stay pending: their owner's upload
        still comes. With versioning the checked version stays what the media serves and reads."""
        if media["status"] != "uploaded" or media["version_id"] is not None:
            return
        with self.db.transaction() as conn:
            conn.execute(
                """UPDATE media SET status = 'rejected', error_code = 'object_replaced', updated_at = now(),
                          error_message = 'The file was replaced by one not sent with its upload ticket; '
                                          'upload it again.'
                   WHERE id = %s AND status = 'uploaded'""",
                (media["id"],),
            )

    def _record_media(self, media: dict, info, sniffed: str | None, code: str | None, message: str | None):
        with self.db.transaction() as conn:
            conn.execute(
                """UPDATE media SET size_bytes = %s, sniffed_type = %s, etag = %s, version_id = %s,
                          status = %s, error_code = %s, error_message = %s, updated_at = now()
                   WHERE id = %s""",
                (
                    info and info.size,
                    sniffed,
                    info and info.etag,
                    info and info.version_id,
                    "rejected" if code else "uploaded",
                    code,
                    message,
                    media["id"],
                ),
            )

    def _read_pages(self, job: dict, data: bytes, mime: str) -> int:
        from angebae.ocr.document import Limits
        from angebae.ocr.pipeline import read_document

        s = self.settings
        with self.db.transaction() as conn:
            done = {
                r["page_number"]
                for r in conn.execute("SELECT page_number FROM ocr_pages WHERE job_id = %s", (job["id"],))
            }
        if done:
            logs.log_fields(log, logging.INFO, "resuming job", job_id=job["id"], pages_stored=len(done))
        total = 0

        def opened(page_count: int) -> None:
            nonlocal total
            total = len(set(job["pages"])) if job["pages"] else page_count
            with self.db.transaction() as conn:
                self._renew(conn, job["id"], pages_total=total)
                # What POST /ocr/jobs checks a re-run's pages against.
                conn.execute("UPDATE media SET page_count = %s WHERE id = %s", (page_count, job["media_id"]))

        for _ in read_document(
            data,
            declared_type=mime,
            languages=job["languages"],
            pages=job["pages"],
            limits=Limits.from_settings(s),
            workers=s.ocr_workers,
            skip_pages=frozenset(done),
            psm=s.ocr_psm,
            on_open=opened,
            on_page=lambda page: self._store_page(job["id"], page),
        ):
            pass
        return total

    def _renew(self, conn, job_id, pages_total: int | None = None) -> None:
        if not transitions.renew(conn, job_id, self.owner, self.settings.job_lease_seconds, pages_total):
            raise LeaseLost()

    def _store_page(self, job_id, page) -> None:
        # PostgreSQL text and jsonb refuse NUL, which some PDF text layers carry.
        words = [
            {
                "text": text,
                "x0": round(w.x0, 2),
                "y0": round(w.y0, 2),
                "x1": round(w.x1, 2),
                "y1": round(w.y1, 2),
                "confidence": round(w.confidence, 4),
                "block": w.block,
                "line": w.line,
            }
            for w in page.words
            if (text := w.text.replace("\x00", ""))
        ]
        with self.db.transaction() as conn:
            conn.execute(
                """INSERT INTO ocr_pages (job_id, page_number, source, width, height, mean_confidence,
                                          words, text, seconds)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (job_id, page_number) DO NOTHING""",
                (
                    job_id,
                    page.number,
                    page.source,
                    page.width,
                    page.height,
                    page.mean_confidence,
                    Jsonb(words),
                    " ".join(w["text"] for w in words),
                    page.seconds,
                ),
            )
            self._renew(conn, job_id)

    def _stored_pages(self, job_id) -> list:
        from angebae.ocr.types import Page, Word

        with self.db.transaction() as conn:
            rows = conn.execute(
                """SELECT page_number, source, width, height, words, seconds FROM ocr_pages
                   WHERE job_id = %s ORDER BY page_number""",
                (job_id,),
            ).fetchall()
        return [
            Page(
                r["page_number"],
                r["width"],
                r["height"],
                [Word(**w) for w in r["words"]],
                r["source"],
                r["seconds"],
            )
            for r in rows
        ]

    def _finish(self, job: dict, data: bytes, total: int, seconds: float) -> None:
        """Stores the candidates: an embedded e-invoice's items when the PDF carries one (source
        "xml"), else those read from the stored pages (source "layout"); and the warnings on the
        job (a layout page that prints prices but gave no candidate). The job still succeeds."""
        from angebae.ocr.pipeline import candidates_of

        pages = self._stored_pages(job["id"])
        reading = candidates_of(data, pages, default_currency=self.settings.default_currency)
        source, candidates, warnings = reading.source, reading.candidates, reading.warnings
        positions: dict[int, int] = {}
        rows = []
        for c in candidates:
            position = positions[c.page] = positions.get(c.page, 0) + 1
            rows.append(
                (
                    job["id"],
                    job["media_id"],
                    c.page,
                    position,
                    c.name,
                    c.price,
                    c.currency,
                    c.sku,
                    c.qty,
                    list(c.bbox),
                    min(1.0, max(0.0, c.confidence)),
                    c.raw,
                    Jsonb(c.attributes),
                )
            )
        with self.db.transaction() as conn:
            self._renew(conn, job["id"])  # still ours: the lease check and the results commit together
            conn.execute("DELETE FROM product_candidates WHERE job_id = %s", (job["id"],))
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO product_candidates (job_id, media_id, page_number, position, name, price,
                                   currency, sku, qty, bbox, confidence, raw, attributes)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    rows,
                )
            superseded = supersede_earlier(conn, job)
            ended = transitions.succeed(
                conn, job["id"], self.owner, pages_total=total, source=source, warnings=warnings
            )
            if ended is None:  # refused: rolls the candidates back with it
                raise LeaseLost()
        self.publisher.jobs_finished([ended], candidates=len(rows))
        _job_metrics(pages, len(rows))
        logs.log_fields(
            log,
            logging.INFO,
            "job succeeded",
            job_id=job["id"],
            pages=total,
            candidates=len(rows),
            superseded=superseded,
            source=source,
            warnings=len(warnings),
            seconds=round(seconds, 3),
        )


def _job_metrics(pages: list, candidates: int) -> None:
    """A succeeded job's metrics: pages and seconds per page by source (text layer, OCR), candidates."""
    metrics.emit("JobsSucceeded", 1)
    metrics.emit("CandidatesPerJob", candidates)
    for source in sorted({p.source for p in pages}):
        of_source = [p for p in pages if p.source == source]
        metrics.emit("PagesRead", len(of_source), source=source)
        metrics.emit(
            "SecondsPerPage",
            [p.seconds for p in of_source if p.seconds is not None],
            "Seconds",
            source=source,
        )


def supersede_earlier(conn, job: dict) -> int:
    """A run's results replace the undecided candidates of the earlier runs of its media, on the pages
    it read (every page, or its `pages`): they become 'superseded', naming this job. Decided ones stay
    as they are; and this run's candidates that are an item already decided in an earlier run (same
    page, normalised name, price and SKU in any case) are stored 'superseded' too, `duplicate_of` that
    candidate (its latest decision) with its product, instead of asking for a decision again.
    Returns how many were superseded, of both kinds."""
    params = {"job": job["id"], "media": job["media_id"], "created": job["created_at"], "pages": job["pages"]}
    earlier = conn.execute(
        """UPDATE product_candidates c SET status = 'superseded', superseded_by = %(job)s, updated_at = now(),
                  version = c.version + 1
           FROM ocr_jobs j
           WHERE j.id = c.job_id AND c.media_id = %(media)s AND c.job_id <> %(job)s AND c.status = 'pending'
             AND (j.created_at, j.id) < (%(created)s, %(job)s)
             AND (%(pages)s::int[] IS NULL OR c.page_number = ANY(%(pages)s::int[]))""",
        params,
    ).rowcount
    repeated = conn.execute(
        """UPDATE product_candidates c SET status = 'superseded', duplicate_of = d.id,
                  product_id = d.product_id, updated_at = now()
           FROM (SELECT DISTINCT ON (n.id) n.id AS new_id, o.id, o.product_id
                 FROM product_candidates n
                 JOIN product_candidates o ON o.media_id = n.media_id AND o.page_number = n.page_number
                      AND o.job_id <> n.job_id AND o.status IN ('accepted', 'rejected')
                      AND name_key(o.name) = name_key(n.name) AND o.price IS NOT DISTINCT FROM n.price
                      AND lower(o.sku) IS NOT DISTINCT FROM lower(n.sku)
                 JOIN ocr_jobs j ON j.id = o.job_id AND (j.created_at, j.id) < (%(created)s, %(job)s)
                 WHERE n.job_id = %(job)s AND n.status = 'pending'
                 ORDER BY n.id, o.decided_at DESC NULLS LAST, o.id) d
           WHERE c.id = d.new_id""",
        params,
    ).rowcount
    return earlier + repeated
