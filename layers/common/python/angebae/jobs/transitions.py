"""The ocr_jobs state machine: every change of a job's status, lease or attempts is one of these
named transitions, a single guarded UPDATE run in the caller's transaction (so a job's results and
its `succeeded` commit together). Nothing else in the project writes those columns.

    create / create_once --> queued                     (POST /ocr/jobs; an object version's notification)
    queued --claim--> processing --succeed--> succeeded
      ^                 |   |  \\--fail-----> failed
      +---release-------+   +--renew (the lease extended, the progress counted)
    queued --fail_unsent--> failed                       (the enqueue's message was never sent)
    reap:  processing past its lease, out of attempts --> failed `lease_expired`
           processing past its lease, attempts left   --> queued (requeue; a new message is sent)
           queued without a change for resend_seconds --> failed `retries_exhausted` when out of
                                                          attempts, else touched (a new message)

The guarantees each UPDATE's WHERE carries:
- `claim` takes a job that is queued, or processing with an expired lease (its worker died): it
  counts the attempt, stamps started_at once and gives the caller a lease of `lease_seconds`.
- `renew`, `release` and `succeed` need the caller's lease (lease_owner, status processing): a
  worker whose lease another took over writes nothing; `renew` and `succeed` answer None/False then
  and the caller stops (LeaseLost).
- `fail` needs the caller's lease, or with `any_owner` no live lease at all (the last delivery of a
  message gives up on a job nobody runs); a job that already ended is never changed, so a second
  `fail` or `succeed` is a no-op (None).
- Ending transitions return the row's `EVENT_COLUMNS` (angebae.jobs.events) for the job-finished event,
  which the caller publishes after its transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg.types.json import Jsonb

from angebae.jobs.events import EVENT_COLUMNS

ACTIVE = ("queued", "processing")
ENDED = ("succeeded", "failed")
_CLEAR_LEASE = "lease_owner = NULL, lease_expires_at = NULL"


def create(
    conn, media_id, source_key: str, languages: str, *, pages: list[int] | None = None, requested_by=None
) -> dict:
    """A new `queued` job (a run asked for through the API): its row."""
    return conn.execute(
        """INSERT INTO ocr_jobs (media_id, source_key, languages, pages, requested_by)
           VALUES (%s, %s, %s, %s, %s) RETURNING *""",
        (media_id, source_key, languages, pages, requested_by),
    ).fetchone()


def create_once(conn, media_id, source_key: str, languages: str, *, source_version: str | None) -> dict:
    """The job of one object version, made by its first notification; a second delivery of the same
    notification (source_key is unique) finds the first one's. Returns {"id": ...}."""
    conn.execute(
        """INSERT INTO ocr_jobs (media_id, source_key, source_version, languages) VALUES (%s, %s, %s, %s)
           ON CONFLICT (source_key) DO NOTHING""",
        (media_id, source_key, source_version, languages),
    )
    return conn.execute("SELECT id FROM ocr_jobs WHERE source_key = %s", (source_key,)).fetchone()


def claim(conn, job_id, owner: str, lease_seconds: int) -> dict | None:
    """The job's row, now `processing` under `owner`'s lease; None when it cannot be taken."""
    return conn.execute(
        """UPDATE ocr_jobs SET status = 'processing', lease_owner = %(owner)s,
                  lease_expires_at = now() + make_interval(secs => %(lease)s),
                  attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()
           WHERE id = %(id)s AND (status = 'queued' OR (status = 'processing' AND lease_expires_at < now()))
           RETURNING *""",
        {"owner": owner, "lease": lease_seconds, "id": job_id},
    ).fetchone()


def renew(conn, job_id, owner: str, lease_seconds: int, pages_total: int | None = None) -> bool:
    """Extends the lease and counts the pages stored (and sets pages_total when given); False when the
    lease is no longer `owner`'s."""
    return (
        conn.execute(
            """UPDATE ocr_jobs SET lease_expires_at = now() + make_interval(secs => %(lease)s),
                  pages_total = coalesce(%(total)s, pages_total),
                  pages_done = (SELECT count(*) FROM ocr_pages WHERE job_id = %(id)s), updated_at = now()
           WHERE id = %(id)s AND lease_owner = %(owner)s AND status = 'processing' RETURNING id""",
            {"lease": lease_seconds, "total": pages_total, "id": job_id, "owner": owner},
        ).fetchone()
        is not None
    )


def release(conn, job_id, owner: str) -> bool:
    """Gives the job back (`queued`, no lease) for the next delivery; False when it was not ours."""
    return (
        conn.execute(
            f"""UPDATE ocr_jobs SET status = 'queued', {_CLEAR_LEASE}, updated_at = now()
            WHERE id = %s AND lease_owner = %s AND status = 'processing' RETURNING id""",
            (job_id, owner),
        ).fetchone()
        is not None
    )


def succeed(conn, job_id, owner: str, *, pages_total: int, source: str, warnings: list) -> dict | None:
    """Ends the job `succeeded` with its candidates' source and warnings, under `owner`'s lease only:
    None when the lease was lost (another worker's results stand, or are coming)."""
    return conn.execute(
        f"""UPDATE ocr_jobs SET status = 'succeeded', finished_at = now(), {_CLEAR_LEASE},
                   error_code = NULL, error_message = NULL, pages_total = %(total)s,
                   candidates_source = %(source)s, warnings = %(warnings)s, updated_at = now()
            WHERE id = %(id)s AND lease_owner = %(owner)s AND status = 'processing'
            RETURNING {EVENT_COLUMNS}""",
        {"total": pages_total, "source": source, "warnings": Jsonb(warnings), "id": job_id, "owner": owner},
    ).fetchone()


def fail(conn, job_id, owner: str, code: str, message: str, *, any_owner: bool = False) -> dict | None:
    """Ends the job `failed` with a code, unless it already ended or (any_owner) another worker holds
    a live lease on it; without any_owner only `owner`'s lease may. None when nothing changed."""
    return conn.execute(
        f"""UPDATE ocr_jobs SET status = 'failed', error_code = %(code)s, error_message = %(msg)s,
                   finished_at = now(), {_CLEAR_LEASE}, updated_at = now()
            WHERE id = %(id)s AND status IN ('queued', 'processing')
              AND (lease_owner = %(owner)s
                   OR (%(any)s AND (lease_owner IS NULL OR lease_expires_at < now())))
            RETURNING {EVENT_COLUMNS}""",
        {"code": code, "msg": message[:1000], "id": job_id, "owner": owner, "any": any_owner},
    ).fetchone()


def fail_unsent(conn, job_id) -> dict | None:
    """A job whose message could not be sent (POST /ocr/jobs) ends `failed` `enqueue_failed`, unless
    a worker got to it after all."""
    return conn.execute(
        f"""UPDATE ocr_jobs SET status = 'failed', error_code = 'enqueue_failed', finished_at = now(),
                   error_message = 'The job could not be queued.', updated_at = now()
            WHERE id = %s AND status = 'queued' RETURNING {EVENT_COLUMNS}""",
        (job_id,),
    ).fetchone()


@dataclass
class Reaped:
    failed: list[dict] = field(default_factory=list)  # EVENT_COLUMNS of the jobs it ended
    requeued: list = field(default_factory=list)  # ids of the jobs that need a new message


def reap(conn, max_attempts: int, *, resend_seconds: int | None = None, resend_limit: int = 100) -> Reaped:
    """The stale jobs: processing past their lease (their worker died), and, when the caller can send
    messages (`resend_seconds` given), queued ones unchanged that long (their message was lost).
    Those out of attempts are failed; the others are requeued for the caller to send a message each
    (inside this transaction: a failed send leaves them as they were). Rows another transaction
    holds are skipped (the next run sees them)."""
    out = Reaped(
        conn.execute(
            f"""UPDATE ocr_jobs SET status = 'failed', error_code = 'lease_expired', finished_at = now(),
                   error_message = 'The job stopped without finishing on every attempt.',
                   {_CLEAR_LEASE}, updated_at = now()
            WHERE status = 'processing' AND lease_expires_at < now() AND attempts >= %s
            RETURNING {EVENT_COLUMNS}""",
            (max_attempts,),
        ).fetchall()
    )
    if resend_seconds is None:  # without a queue the next delivery of their own message takes them up
        return out
    out.failed += conn.execute(
        f"""UPDATE ocr_jobs SET status = 'failed', error_code = 'retries_exhausted',
                   error_message = 'The job was left queued after its last attempt.',
                   finished_at = now(), updated_at = now()
            WHERE status = 'queued' AND attempts >= %s AND updated_at < now() - make_interval(secs => %s)
            RETURNING {EVENT_COLUMNS}""",
        (max_attempts, resend_seconds),
    ).fetchall()
    out.requeued = [
        r["id"]
        for r in conn.execute(
            f"""UPDATE ocr_jobs SET status = 'queued', {_CLEAR_LEASE}, updated_at = now()
            WHERE id IN (SELECT id FROM ocr_jobs WHERE status = 'processing' AND lease_expires_at < now()
                         FOR UPDATE SKIP LOCKED)
            RETURNING id"""
        ).fetchall()
    ]
    out.requeued += [
        r["id"]
        for r in conn.execute(  # updated_at says when its last message was sent
            """UPDATE ocr_jobs SET updated_at = now()
           WHERE id IN (SELECT id FROM ocr_jobs WHERE status = 'queued'
                        AND updated_at < now() - make_interval(secs => %s)
                        ORDER BY updated_at LIMIT %s FOR UPDATE SKIP LOCKED)
           RETURNING id""",
            (resend_seconds, resend_limit),
        ).fetchall()
    ]
    return out
