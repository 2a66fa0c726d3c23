"""Chaos against `angebae local` run as a user runs it: real processes, the real moto server, a private
PostgreSQL server this module may stop. The stack retries fast: queues' visibility 3 s, a 10 s job lease,
MaxReceiveCount 6. A trigger (the test's own, in the database) counts every attempt to store a page.

- the worker process SIGKILLed mid-job: the message comes back, the job completes once, stored pages stay
- a poison message: retried MaxReceiveCount times, then in the DLQ, the job failed retries_exhausted
- the object gone before the worker reads it: the job fails object_missing
- PostgreSQL stopped for 5 s during a batch: messages retried, nothing lost, every job succeeds
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from urllib.parse import quote_plus

import boto3
import psycopg
import pytest
from e2e_support import (
    PrivatePostgres,
    RunningStack,
    descendants,
    function_pids,
    login,
    ministack_unavailable,
    start_stack,
    stop_stack,
    upload,
    wait_until,
)
from fixtures_docs import native_pdf, scanned_pdf
from psycopg.rows import dict_row
from support import with_dbname

pytestmark = [pytest.mark.e2e, pytest.mark.ocr]

MAX_RECEIVES, VISIBILITY, LEASE = 6, 3, 10
# RETRY_BASE_SECONDS=0: the queue's short visibility timeout paces the retries, not the backoff
CHAOS_ARGS = (
    "--visibility-timeout",
    str(VISIBILITY),
    "--env",
    f"JOB_LEASE_SECONDS={LEASE}",
    "--env",
    "RETRY_BASE_SECONDS=0",
    "--parameter-overrides",
    f"MaxReceiveCount={MAX_RECEIVES}",
)
PAGE_WRITES = """
CREATE TABLE chaos_page_writes (job_id uuid, page_number int, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION chaos_count_page() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chaos_page_writes (job_id, page_number) VALUES (NEW.job_id, NEW.page_number);
  RETURN NEW;
END $$;
CREATE TRIGGER chaos_count_page BEFORE INSERT ON ocr_pages FOR EACH ROW EXECUTE FUNCTION chaos_count_page();
"""


@pytest.fixture(scope="module")
def postgres():
    server = PrivatePostgres().start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def chaos(postgres, engine) -> RunningStack:
    """The stack of this test's engine (MiniStack: the same knobs through the SAM parameters and the
    Lambda and SQS APIs), on a database of its own on the private server."""
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    if engine == "ministack" and (why := ministack_unavailable()):
        pytest.skip(f"MiniStack e2e leg skipped: {why}")
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE chaos_{engine}")
    database_url = with_dbname(postgres.url, f"chaos_{engine}")
    stack = start_stack(database_url, worker=True, extra_args=CHAOS_ARGS, engine=engine)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(PAGE_WRITES)  # BEFORE INSERT triggers fire even when ON CONFLICT skips the row
    yield stack
    stop_stack(stack)


def query(stack: RunningStack, sql: str, *args) -> list[dict]:
    """Rows, or [] while the database is down."""
    try:
        with psycopg.connect(stack.database_url, connect_timeout=2, row_factory=dict_row) as conn:
            return conn.execute(sql, args).fetchall()
    except psycopg.OperationalError:
        return []


def jobs_of(stack: RunningStack, media_id) -> list[dict]:
    return query(stack, "SELECT * FROM ocr_jobs WHERE media_id = %s", media_id)


def ended(stack: RunningStack, media_ids: list, timeout: float) -> list[dict]:
    def poll():
        jobs = [jobs_of(stack, m) for m in media_ids]
        done = all(j and j[0]["status"] in ("succeeded", "failed") for j in jobs)
        return [j[0] for j in jobs] if done else None

    jobs = wait_until(poll, timeout, 0.5)
    if jobs is None:
        pytest.fail(
            f"jobs not finished after {timeout} s: {[jobs_of(stack, m) for m in media_ids]}\n"
            + stack.log_tail(120)
        )
    return jobs


def sqs(stack: RunningStack):
    return boto3.client(
        "sqs",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def stored_pages(stack: RunningStack, job: dict) -> dict:
    rows = query(stack, "SELECT page_number, created_at FROM ocr_pages WHERE job_id = %s", job["id"])
    return {r["page_number"]: r["created_at"] for r in rows}


def assert_one_set_of_candidates(stack: RunningStack, job: dict) -> None:
    rows = query(
        stack, "SELECT page_number, position, name, sku FROM product_candidates WHERE job_id = %s", job["id"]
    )
    assert rows, job
    assert len({(r["page_number"], r["position"]) for r in rows}) == len(rows)
    assert len({(r["page_number"], r["name"], r["sku"]) for r in rows}) == len(rows)


def test_worker_killed_mid_job_resumes_and_completes_once(chaos):
    pages = 8
    media_id = upload(chaos.url, login(chaos.url), "scan-8.pdf", scanned_pdf(pages), "application/pdf")

    def midway():
        jobs = jobs_of(chaos, media_id)
        return jobs and jobs[0]["status"] == "processing" and 1 <= jobs[0]["pages_done"] < pages and jobs[0]

    job = wait_until(midway, 120, 0.1)
    assert job, f"never caught the job midway: {jobs_of(chaos, media_id)}\n{chaos.log_tail()}"
    # one process on the embedded stack (--concurrency 1); MiniStack may run a second one for the
    # message that came back after the 3 s visibility timeout (which finds the job leased): all go
    victims = function_pids(chaos)
    assert victims, chaos.log_tail()
    ocr_children = [c for victim in victims for c in descendants(victim)]
    for victim in victims:
        os.kill(victim, signal.SIGKILL)
    stored = stored_pages(chaos, job)
    assert 1 <= len(stored) < pages

    [job] = ended(chaos, [media_id], 120)

    assert len(jobs_of(chaos, media_id)) == 1
    assert (job["status"], job["pages_done"], job["pages_total"]) == ("succeeded", pages, pages), job
    assert job["attempts"] >= 2 and job["error_code"] is None
    after = stored_pages(chaos, job)
    assert sorted(after) == list(range(1, pages + 1))
    assert {p: after[p] for p in stored} == stored  # pages stored before the kill were kept
    writes = query(
        chaos,
        "SELECT page_number, count(*) AS n FROM chaos_page_writes WHERE job_id = %s GROUP BY page_number",
        job["id"],
    )
    assert {r["page_number"]: r["n"] for r in writes} == dict.fromkeys(range(1, pages + 1), 1)  # none redone
    assert_one_set_of_candidates(chaos, job)
    assert not set(victims) & set(function_pids(chaos))

    def lingering() -> list[int]:
        return [
            p
            for p in ocr_children
            if os.path.exists(f"/proc/{p}") and "zombie" not in open(f"/proc/{p}/status").read()
        ]

    # its OCR processes went with it: the embedded runner kills the sandbox's process group; MiniStack
    # has none, and there each page process dies with its parent (angebae.ocr.pipeline._die_with_parent)
    assert wait_until(lambda: not lingering(), 5), lingering()


def test_poison_message_is_retried_then_dead_lettered_and_the_job_failed(chaos):
    [media] = query(
        chaos,
        """INSERT INTO media (bucket, object_key, filename, declared_type, status)
                              VALUES ('angebae-bucket-that-is-gone', %s, 'poison.pdf', 'application/pdf',
                                      'uploaded') RETURNING id""",
        f"uploads/{uuid.uuid4()}/poison.pdf",
    )
    [job] = query(
        chaos,
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, %s) RETURNING id",
        media["id"],
        f"request:{uuid.uuid4()}",
    )
    body = json.dumps({"job_id": str(job["id"])})
    client = sqs(chaos)
    client.send_message(QueueUrl=chaos.queue_url("OcrQueue"), MessageBody=body)

    def dead_lettered():
        got = client.receive_message(
            QueueUrl=chaos.queue_url("OcrDeadLetterQueue"), WaitTimeSeconds=1, MaxNumberOfMessages=10
        ).get("Messages", [])
        return [m["Body"] for m in got]

    assert wait_until(dead_lettered, (MAX_RECEIVES + 3) * VISIBILITY + 20) == [body], chaos.log_tail()
    [job] = jobs_of(chaos, media["id"])
    assert (job["status"], job["error_code"]) == ("failed", "retries_exhausted")
    assert job["attempts"] == MAX_RECEIVES
    assert "Storage" in job["error_message"]
    attrs = client.get_queue_attributes(QueueUrl=chaos.queue_url("OcrQueue"), AttributeNames=["All"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_object_deleted_before_the_worker_reads_it_fails_object_missing(chaos):
    s = login(chaos.url)
    r = s.post(
        f"{chaos.url}/media/uploads",
        json={"filename": "gone.pdf", "content_type": "application/pdf", "size": 1000},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    media_id, key = r.json()["media"]["id"], r.json()["upload"]["fields"]["key"]
    [bucket] = chaos.banner["bucket"]
    # The notification S3 sent for an object deleted since: the worker finds no object at the key.
    obj = {"key": quote_plus(key), "size": 1000, "eTag": "0f0f"}
    notification = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Post",
                "s3": {"bucket": {"name": bucket}, "object": obj},
            }
        ]
    }
    sqs(chaos).send_message(QueueUrl=chaos.queue_url("OcrQueue"), MessageBody=json.dumps(notification))

    [job] = ended(chaos, [media_id], 60)

    assert (job["status"], job["error_code"], job["attempts"]) == ("failed", "object_missing", 1), job
    assert key in job["error_message"]
    media = s.get(f"{chaos.url}/media/{media_id}", timeout=30).json()
    assert (media["status"], media["error_code"]) == ("rejected", "object_missing")


def test_database_stopped_during_a_batch_loses_nothing(chaos, postgres):
    s = login(chaos.url)
    docs = [("scan-3.pdf", scanned_pdf(3))] + [(f"native-{i}.pdf", native_pdf(2)) for i in range(3)]
    media_ids = [upload(chaos.url, s, name, data, "application/pdf") for name, data in docs]
    scanning = wait_until(
        lambda: [j for j in jobs_of(chaos, media_ids[0]) if j["status"] == "processing"], 60, 0.1
    )
    assert scanning, chaos.log_tail()
    postgres.stop()
    time.sleep(5)
    postgres.start()

    jobs = ended(chaos, media_ids, 150)

    assert [j["status"] for j in jobs] == ["succeeded"] * len(docs), jobs
    assert all(len(jobs_of(chaos, m)) == 1 for m in media_ids)
    assert jobs[0]["attempts"] >= 2  # the job in progress was retried
    for job in jobs:
        assert_one_set_of_candidates(chaos, job)
