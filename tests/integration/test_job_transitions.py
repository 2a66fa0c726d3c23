"""angebae.jobs.transitions on a real PostgreSQL: each named transition of the ocr_jobs state machine,
and the ones it refuses (a worker whose lease was taken over cannot renew, release or succeed; a job
that ended never changes again)."""

from __future__ import annotations

import psycopg
import pytest
from angebae.jobs import transitions
from ocr_support import make_admin, price_list_pdf, upload
from psycopg.rows import dict_row

LEASE = 600


@pytest.fixture
def conn(database_url):
    """The transitions run in the caller's transaction: here, one autocommit statement each."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


@pytest.fixture
def job(aws, db, database_url) -> dict:
    media = upload(database_url, aws, make_admin(db, "editor"), price_list_pdf(), post=False)
    return db.execute(
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:t') RETURNING *", (media["id"],)
    ).fetchone()


def _row(db, job) -> dict:
    return db.execute("SELECT * FROM ocr_jobs WHERE id = %s", (job["id"],)).fetchone()


def _expire(db, job) -> None:
    db.execute(
        "UPDATE ocr_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (job["id"],)
    )


def test_claim_takes_a_queued_job_once_and_an_expired_lease_again(conn, db, job):
    taken = transitions.claim(conn, job["id"], "a", LEASE)
    assert (taken["status"], taken["lease_owner"], taken["attempts"]) == ("processing", "a", 1)
    assert taken["lease_expires_at"] > taken["started_at"]
    assert transitions.claim(conn, job["id"], "b", LEASE) is None  # a's lease is live
    _expire(db, job)
    again = transitions.claim(conn, job["id"], "b", LEASE)
    assert (again["lease_owner"], again["attempts"], again["started_at"]) == ("b", 2, taken["started_at"])


def test_renew_and_release_need_the_callers_lease(conn, db, job):
    transitions.claim(conn, job["id"], "a", LEASE)
    assert not transitions.renew(conn, job["id"], "b", LEASE, pages_total=3)
    assert transitions.renew(conn, job["id"], "a", LEASE, pages_total=3)
    assert (_row(db, job)["pages_total"], _row(db, job)["pages_done"]) == (3, 0)
    assert not transitions.release(conn, job["id"], "b")
    assert transitions.release(conn, job["id"], "a")
    row = _row(db, job)
    assert (row["status"], row["lease_owner"], row["lease_expires_at"]) == ("queued", None, None)
    assert not transitions.release(conn, job["id"], "a")  # not processing any more


def test_a_worker_whose_lease_was_taken_over_cannot_succeed(conn, db, job):
    # GIVEN a's lease expired and b took the job over
    transitions.claim(conn, job["id"], "a", LEASE)
    _expire(db, job)
    transitions.claim(conn, job["id"], "b", LEASE)
    # WHEN a tries to end it THEN it is refused and the row stays b's
    assert transitions.succeed(conn, job["id"], "a", pages_total=1, source="layout", warnings=[]) is None
    assert transitions.fail(conn, job["id"], "a", "bad_pdf", "x") is None
    assert (_row(db, job)["status"], _row(db, job)["lease_owner"]) == ("processing", "b")
    # and b's success is recorded, with what its event needs
    ended = transitions.succeed(
        conn, job["id"], "b", pages_total=1, source="layout", warnings=[{"code": "w", "message": "m"}]
    )
    assert (ended["id"], ended["status"], ended["error_code"]) == (job["id"], "succeeded", None)
    assert set(ended) == {"id", "media_id", "status", "error_code", "error_message", "finished_at"}
    row = _row(db, job)
    assert (row["lease_owner"], row["candidates_source"], row["warnings"]) == (
        None,
        "layout",
        [{"code": "w", "message": "m"}],
    )


def test_a_refused_success_rolls_back_what_its_transaction_wrote(database_url, db, job):
    # GIVEN the job is b's, and a writes candidates and succeeds in one transaction, as the runner does
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as setup:
        transitions.claim(setup, job["id"], "b", LEASE)
    with pytest.raises(RuntimeError), psycopg.connect(database_url, row_factory=dict_row) as conn:
        with conn.transaction():
            conn.execute(
                """INSERT INTO product_candidates (job_id, media_id, page_number, position, name,
                                                            bbox, confidence)
                            VALUES (%s, %s, 1, 1, 'Tornillo', '{0,0,1,1}', 0.9)""",
                (job["id"], job["media_id"]),
            )
            if transitions.succeed(conn, job["id"], "a", pages_total=1, source="layout", warnings=[]) is None:
                raise RuntimeError("lease lost")  # the runner's LeaseLost
    # THEN nothing of a's is stored
    assert (
        db.execute("SELECT count(*) AS n FROM product_candidates WHERE job_id = %s", (job["id"],)).fetchone()[
            "n"
        ]
        == 0
    )


def test_an_ended_job_never_changes_again(conn, db, job):
    transitions.claim(conn, job["id"], "a", LEASE)
    failed = transitions.fail(conn, job["id"], "a", "empty", "the file is empty")
    assert (failed["status"], failed["error_code"], failed["error_message"]) == (
        "failed",
        "empty",
        "the file is empty",
    )
    before = _row(db, job)
    assert transitions.fail(conn, job["id"], "a", "bad_pdf", "again") is None
    assert transitions.fail(conn, job["id"], "x", "bad_pdf", "again", any_owner=True) is None
    assert transitions.succeed(conn, job["id"], "a", pages_total=1, source="layout", warnings=[]) is None
    assert transitions.claim(conn, job["id"], "a", LEASE) is None
    assert transitions.fail_unsent(conn, job["id"]) is None
    assert _row(db, job) == before


def test_fail_with_any_owner_waits_for_a_live_lease_to_expire(conn, db, job):
    transitions.claim(conn, job["id"], "a", LEASE)
    assert transitions.fail(conn, job["id"], "z", "retries_exhausted", "gave up", any_owner=True) is None
    _expire(db, job)
    ended = transitions.fail(conn, job["id"], "z", "retries_exhausted", "gave up", any_owner=True)
    assert ended["error_code"] == "retries_exhausted" and _row(db, job)["lease_owner"] is None


def test_a_long_message_is_cut_to_the_column_and_fail_unsent_ends_a_queued_job(conn, db, job):
    ended = transitions.fail_unsent(conn, job["id"])
    assert (ended["error_code"], ended["error_message"]) == ("enqueue_failed", "The job could not be queued.")
    other = db.execute(
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:u') RETURNING *", (job["media_id"],)
    ).fetchone()
    transitions.claim(conn, other["id"], "a", LEASE)
    assert len(transitions.fail(conn, other["id"], "a", "bad_pdf", "x" * 5000)["error_message"]) == 1000


def test_reap_fails_jobs_out_of_attempts_and_requeues_the_others(conn, db, job):
    # GIVEN four stale jobs: two past their lease (attempts spent / left), two queued for long
    def make(key: str, status: str, attempts: int) -> dict:
        return db.execute(
            """INSERT INTO ocr_jobs (media_id, source_key, status, attempts, lease_owner, lease_expires_at,
                                     updated_at)
               VALUES (%s, %s, %s, %s, CASE WHEN %s = 'processing' THEN 'dead' END,
                       CASE WHEN %s = 'processing' THEN now() - interval '1 second' END,
                       now() - interval '3 hours') RETURNING *""",
            (job["media_id"], key, status, attempts, status, status),
        ).fetchone()

    spent, left = make("request:spent", "processing", 5), make("request:left", "processing", 2)
    lost, lost_spent = make("request:lost", "queued", 1), make("request:lost-spent", "queued", 5)
    db.execute("DELETE FROM ocr_jobs WHERE id = %s", (job["id"],))
    # WHEN reaped without a queue THEN only the job past its lease and out of attempts ends
    reaped = transitions.reap(conn, 5)
    assert ([r["id"] for r in reaped.failed], reaped.requeued) == ([spent["id"]], [])
    assert reaped.failed[0]["error_code"] == "lease_expired"
    # WHEN reaped with a queue THEN the queued one out of attempts fails, the others need a message
    reaped = transitions.reap(conn, 5, resend_seconds=7200)
    assert [(r["id"], r["error_code"]) for r in reaped.failed] == [(lost_spent["id"], "retries_exhausted")]
    assert sorted(map(str, reaped.requeued)) == sorted(map(str, [left["id"], lost["id"]]))
    assert (_row(db, left)["status"], _row(db, left)["lease_owner"]) == ("queued", None)
    # and a second run right after finds nothing: the requeued ones were touched
    again = transitions.reap(conn, 5, resend_seconds=7200)
    assert (again.failed, again.requeued) == ([], [])


def test_create_once_makes_one_job_per_object_version(conn, db, job):
    key = "s3://media/uploads/x/a.pdf@v1"
    first = transitions.create_once(conn, job["media_id"], key, "spa+eng", source_version="v1")
    again = transitions.create_once(conn, job["media_id"], key, "deu", source_version="v1")
    assert first == again
    rows = db.execute("SELECT * FROM ocr_jobs WHERE source_key = %s", (key,)).fetchall()
    assert [(r["status"], r["languages"], r["source_version"]) for r in rows] == [("queued", "spa+eng", "v1")]
    made = transitions.create(conn, job["media_id"], "request:r", "spa", pages=[2], requested_by=None)
    assert (made["status"], made["pages"], made["attempts"]) == ("queued", [2], 0)
