"""../shared/RELIABILITY.md 13-22: the OCR worker against a real PostgreSQL and a moto S3 server."""

from __future__ import annotations

import json
import resource
import threading
import time
import uuid
from decimal import Decimal

import hostile_docs as hostile
import pytest
import requests
from angebae.db import Database
from angebae.jobs.worker import process_batch, reap_stale_jobs
from ocr_support import (
    ROWS,
    blank_pdf,
    job_message,
    make_admin,
    png_bytes,
    post_form,
    price_list_pdf,
    s3_message,
    sqs_record,
    totals_only_pdf,
    upload,
    worker_settings,
)
from support import ROOT, load_function

UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1"


@pytest.fixture
def editor(db):
    return make_admin(db, "editor")


@pytest.fixture
def run(aws, database_url):
    """Runs one batch as a fresh worker process would: its own connection, a new lease owner."""

    def run(records, *, url=database_url, sqs=None, **overrides):
        database = Database(url)
        try:
            return process_batch(
                records,
                db=database,
                s3=aws["s3"],
                sqs=sqs,
                settings=worker_settings(aws, database_url, **overrides),
            )
        finally:
            database.close()

    return run


def notification(media, **kw) -> dict:
    return sqs_record(s3_message(media["bucket"], media["object_key"], **kw))


def jobs_of(db, media) -> list[dict]:
    return db.execute("SELECT * FROM ocr_jobs WHERE media_id = %s", (media["id"],)).fetchall()


def candidates_of(db, job) -> list[dict]:
    return db.execute(
        "SELECT * FROM product_candidates WHERE job_id = %s ORDER BY page_number, position", (job["id"],)
    ).fetchall()


# 13. keys unquote_plus'ed, size by HeadObject, magic bytes against the declared type


def test_an_uploaded_price_list_becomes_a_succeeded_job_with_candidates(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf(), filename="Lista de precios (2024).pdf")
    assert " " not in media["object_key"]
    result = run([notification(media)])
    assert result == {"batchItemFailures": []}
    [job] = jobs_of(db, media)
    assert (job["status"], job["pages_done"], job["pages_total"]) == ("succeeded", 1, 1)
    assert job["lease_owner"] is None and job["finished_at"] >= job["started_at"]
    names = [c["name"] for c in candidates_of(db, job)]
    assert len(names) == len(ROWS) and any("Tornillo" in n for n in names)
    row = db.execute("SELECT * FROM media WHERE id = %s", (media["id"],)).fetchone()
    assert (row["status"], row["sniffed_type"], row["size_bytes"]) == (
        "uploaded",
        "application/pdf",
        len(price_list_pdf()),
    )


def test_a_key_with_spaces_and_plus_signs_is_unquoted_before_lookup(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf())
    key = media["object_key"].rsplit("/", 1)[0] + "/lista de+precios.pdf"
    db.execute("UPDATE media SET object_key = %s WHERE id = %s", (key, media["id"]))
    aws["s3"].put_object(
        Bucket=media["bucket"],
        Key=key,
        Body=price_list_pdf(),
        Metadata={"ticket": media["form"]["fields"]["x-amz-meta-ticket"]},
    )
    run([sqs_record(s3_message(media["bucket"], key))])  # the event carries "lista+de%2Bprecios.pdf"
    assert [j["status"] for j in jobs_of(db, media)] == ["succeeded"]


@pytest.mark.parametrize(
    "data, content_type, code",
    [
        (b"", "application/pdf", "empty"),
        (b"hello, this is not a PDF at all", "application/pdf", "unsupported_type"),
        (price_list_pdf()[:400], "application/pdf", "corrupt"),
        (blank_pdf(encrypted=True), "application/pdf", "encrypted"),
        (png_bytes("precio 12,50"), "image/jpeg", "type_mismatch"),
        (blank_pdf(14400, 14400), "application/pdf", "page_too_large"),
    ],
    ids=["zero-byte", "not-a-pdf", "truncated", "encrypted", "png-declared-jpeg", "huge-page"],
)
def test_every_kind_of_bad_input_ends_as_a_failed_job_with_a_clear_code(
    aws, db, database_url, editor, run, data, content_type, code
):
    media = upload(database_url, aws, editor, data, content_type=content_type)
    result = run([notification(media)])
    assert result == {"batchItemFailures": []}  # permanent: acknowledged, never retried
    [job] = jobs_of(db, media)
    assert (job["status"], job["error_code"]) == ("failed", code)
    assert job["error_message"] and job["lease_owner"] is None and job["finished_at"] is not None
    assert db.execute("SELECT count(*) AS n FROM ocr_jobs WHERE status = 'processing'").fetchone()["n"] == 0


@pytest.mark.parametrize("name", sorted(hostile.MALFORMED))
def test_a_malformed_document_fails_on_its_first_attempt_never_retried(
    aws, db, database_url, editor, run, caplog, name
):
    make, mime, code = hostile.MALFORMED[name]
    media = upload(database_url, aws, editor, make(), content_type=mime)
    assert run([notification(media)]) == {"batchItemFailures": []}
    [job] = jobs_of(db, media)
    assert (job["status"], job["error_code"], job["attempts"]) == ("failed", code, 1)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no traceback, no redelivery


def test_a_text_layer_bomb_fails_as_too_complex_at_once_in_bounded_memory(aws, db, database_url, editor, run):
    data = hostile.glyph_bomb(60_000_000)  # 60 KB; extracted, 60 million glyphs: 3.3 GB on Lambda
    media = upload(database_url, aws, editor, data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert run([notification(media)]) == {"batchItemFailures": []}
    [job] = jobs_of(db, media)
    assert (job["status"], job["error_code"], job["attempts"]) == ("failed", "page_too_complex", 1)
    assert "content decodes to more than 8 MiB" in job["error_message"]
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 < 64 * 1024 * 1024


def test_pages_read_before_a_page_too_complex_are_stored(aws, db, database_url, editor, run):
    import pymupdf

    doc = pymupdf.open(stream=price_list_pdf(pages=2), filetype="pdf")
    doc.insert_pdf(pymupdf.open(stream=hostile.nested_form_bomb(depth=6), filetype="pdf"))
    media = upload(database_url, aws, editor, doc.tobytes())
    run([notification(media)])
    [job] = jobs_of(db, media)
    assert (job["status"], job["error_code"]) == ("failed", "page_too_complex")
    assert "page 3 needs more than 512 MiB of memory" in job["error_message"]
    stored = db.execute("SELECT page_number FROM ocr_pages WHERE job_id = %s ORDER BY 1", (job["id"],))
    assert [r["page_number"] for r in stored] == [1, 2]


def test_a_type_mismatch_rejects_the_media_with_the_reason(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, png_bytes(), content_type="application/pdf")
    run([notification(media)])
    row = db.execute("SELECT * FROM media WHERE id = %s", (media["id"],)).fetchone()
    assert (row["status"], row["sniffed_type"]) == ("rejected", "image/png")
    assert row["error_code"] == "type_mismatch"


def test_an_object_over_the_size_limit_fails_before_it_is_downloaded(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf())
    run([notification(media)], max_upload_bytes=100)
    assert [(j["status"], j["error_code"]) for j in jobs_of(db, media)] == [("failed", "too_large")]


def test_a_notification_for_a_deleted_object_fails_the_job_as_object_missing(
    aws, db, database_url, editor, run
):
    media = upload(database_url, aws, editor, price_list_pdf())
    aws["s3"].delete_object(Bucket=media["bucket"], Key=media["object_key"])
    assert run([notification(media)]) == {"batchItemFailures": []}
    assert [(j["status"], j["error_code"]) for j in jobs_of(db, media)] == [("failed", "object_missing")]


# issue 13.8: an object is read only with its own media's upload ticket, at its declared size


def _versioned(aws) -> None:
    aws["s3"].put_bucket_versioning(Bucket=aws["bucket"], VersioningConfiguration={"Status": "Enabled"})


def _forge(aws, database_url, attacker, victim: dict, data: bytes) -> dict:
    """An editor's own upload form, its key changed to the victim's, posted (moto checks no policy):
    the notification S3 then sends for the victim's key."""
    own = upload(database_url, aws, attacker, data, post=False)["form"]
    post_form(own, data, key=victim["object_key"])
    version = aws["s3"].head_object(Bucket=victim["bucket"], Key=victim["object_key"]).get("VersionId")
    return notification(victim, etag="forged", version=version)


def test_a_form_sent_to_another_medias_key_is_refused_and_its_checked_version_kept(
    aws, db, database_url, editor, run
):
    # GIVEN a versioned bucket and a victim's price list, read
    _versioned(aws)
    original = price_list_pdf()
    victim = upload(database_url, aws, editor, original)
    assert run(
        [
            notification(
                victim,
                version=aws["s3"].head_object(Bucket=victim["bucket"], Key=victim["object_key"])["VersionId"],
            )
        ]
    ) == {"batchItemFailures": []}
    [first] = jobs_of(db, victim)
    checked = db.execute("SELECT * FROM media WHERE id = %s", (victim["id"],)).fetchone()
    # WHEN another editor posts their own file with their form, its key changed to the victim's
    forged = _forge(aws, database_url, make_admin(db, "editor"), victim, totals_only_pdf())
    assert run([forged]) == {"batchItemFailures": []}
    # THEN that object is refused, and the victim's media, candidates and download are its own file's
    second = next(j for j in jobs_of(db, victim) if j["id"] != first["id"])
    assert (second["status"], second["error_code"], second["attempts"]) == ("failed", "ticket_mismatch", 1)
    assert candidates_of(db, second) == [] and len(candidates_of(db, first)) == len(ROWS)
    row = db.execute("SELECT * FROM media WHERE id = %s", (victim["id"],)).fetchone()
    assert (row["status"], row["version_id"]) == ("uploaded", checked["version_id"])
    from angebae.catalog import media as media_module
    from angebae.storage import Storage

    link = media_module.get_media(Database(database_url), Storage(aws["s3"], aws["bucket"]), victim["id"])
    assert requests.get(link["download_url"], timeout=10).content == original
    # AND a re-run (POST /ocr/jobs) reads the checked version, not the forged one
    rerun = request_job(db, victim)
    run([sqs_record(job_message(rerun["id"]))])
    assert [c["name"] for c in candidates_of(db, rerun)] == [c["name"] for c in candidates_of(db, first)]


def test_without_versions_a_replaced_media_is_no_longer_offered_for_download(
    aws, db, database_url, editor, run
):
    victim = upload(database_url, aws, editor, price_list_pdf())
    run([notification(victim)])
    run([_forge(aws, database_url, make_admin(db, "editor"), victim, totals_only_pdf())])
    row = db.execute("SELECT * FROM media WHERE id = %s", (victim["id"],)).fetchone()
    assert (row["status"], row["error_code"]) == ("rejected", "object_replaced")
    assert [j["error_code"] for j in jobs_of(db, victim)].count("ticket_mismatch") == 1


def _same_size(first: bytes, second: bytes) -> tuple[bytes, bytes]:
    """Two PDFs padded after %%EOF to one length: the ticket's size policy takes both."""
    size = max(len(first), len(second))
    return first + b"\n" * (size - len(first)), second + b"\n" * (size - len(second))


def _second_file_with_the_same_ticket(aws, media, data: bytes) -> dict:
    post_form(media["form"], data)
    head = aws["s3"].head_object(Bucket=media["bucket"], Key=media["object_key"])
    return notification(media, etag=head["ETag"].strip('"'), version=head.get("VersionId"))


def test_one_ticket_is_one_file_a_second_post_with_it_is_refused(aws, db, database_url, editor, run):
    # GIVEN a versioned bucket and a price list read from its upload
    _versioned(aws)
    original, other = _same_size(price_list_pdf(), totals_only_pdf())
    media = upload(database_url, aws, editor, original)
    version = aws["s3"].head_object(Bucket=media["bucket"], Key=media["object_key"])["VersionId"]
    run([notification(media, version=version)])
    # WHEN the same ticket's form posts another file within its lifetime
    assert run([_second_file_with_the_same_ticket(aws, media, other)]) == {"batchItemFailures": []}
    # THEN that file is refused with a reason, and the media stays the first file
    jobs = sorted(jobs_of(db, media), key=lambda j: j["created_at"])
    assert [(j["status"], j["error_code"]) for j in jobs] == [("succeeded", None), ("failed", "ticket_used")]
    assert "new upload ticket" in jobs[1]["error_message"] and candidates_of(db, jobs[1]) == []
    row = db.execute("SELECT status, version_id FROM media WHERE id = %s", (media["id"],)).fetchone()
    assert (row["status"], row["version_id"]) == ("uploaded", version)


def test_without_versions_a_second_file_on_a_ticket_ends_the_media(aws, db, database_url, editor, run):
    original, other = _same_size(price_list_pdf(), totals_only_pdf())
    media = upload(database_url, aws, editor, original)
    run([notification(media)])
    run([_second_file_with_the_same_ticket(aws, media, other)])
    assert sorted(j["error_code"] or j["status"] for j in jobs_of(db, media)) == ["succeeded", "ticket_used"]
    row = db.execute("SELECT status, error_code FROM media WHERE id = %s", (media["id"],)).fetchone()
    assert (row["status"], row["error_code"]) == ("rejected", "object_replaced")  # its file is gone


def test_a_forged_object_at_a_pending_key_leaves_the_media_to_its_owners_upload(
    aws, db, database_url, editor, run
):
    _versioned(aws)
    victim = upload(database_url, aws, editor, price_list_pdf(), post=False)
    run([_forge(aws, database_url, make_admin(db, "editor"), victim, totals_only_pdf())])
    status = db.execute("SELECT status FROM media WHERE id = %s", (victim["id"],)).fetchone()["status"]
    assert status == "pending"
    post_form(victim["form"], price_list_pdf())  # the owner's file, with the owner's form
    version = aws["s3"].head_object(Bucket=victim["bucket"], Key=victim["object_key"])["VersionId"]
    run([notification(victim, etag="owner", version=version)])
    outcomes = sorted(j["error_code"] or j["status"] for j in jobs_of(db, victim))
    assert outcomes == ["succeeded", "ticket_mismatch"]


def test_a_file_larger_than_declared_is_rejected(aws, db, database_url, editor, run):
    data = price_list_pdf()
    media = upload(database_url, aws, editor, data, size=len(data) - 100)
    assert run([notification(media)]) == {"batchItemFailures": []}
    assert [(j["status"], j["error_code"]) for j in jobs_of(db, media)] == [("failed", "size_mismatch")]
    row = db.execute("SELECT * FROM media WHERE id = %s", (media["id"],)).fetchone()
    assert (row["status"], row["error_code"], row["size_bytes"]) == ("rejected", "size_mismatch", len(data))


# 17. [bad, good, bad] reports exactly the two bad message ids


def test_a_batch_reports_exactly_its_transient_failures(aws, db, database_url, editor, run):
    good = upload(database_url, aws, editor, price_list_pdf())
    # The bad ones live in a bucket that does not exist: storage is broken for them, not the document.
    lost_a = upload(database_url, aws, editor, price_list_pdf(), bucket="ghost-bucket-a")
    lost_b = upload(database_url, aws, editor, price_list_pdf(), bucket="ghost-bucket-b")
    db.execute("INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:x')", (lost_b["id"],))
    job_b = jobs_of(db, lost_b)[0]
    bad_1, ok, bad_2 = notification(lost_a), notification(good), sqs_record(job_message(job_b["id"]))
    ignored = [
        sqs_record('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}'),
        sqs_record("not json {"),
        sqs_record('{"job_id": "not-a-uuid"}'),
    ]
    result = run([bad_1, ok, bad_2, *ignored])
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(
        [bad_1["messageId"], bad_2["messageId"]]
    )
    assert [j["status"] for j in jobs_of(db, good)] == ["succeeded"]
    # Released, not left in processing: the redelivery can take them at once.
    assert {j["status"] for j in jobs_of(db, lost_a) + jobs_of(db, lost_b)} == {"queued"}


# 18. transient errors are redelivered; the last attempt marks the job failed


def test_a_transient_database_error_is_redelivered_then_done(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf())
    message = notification(media)
    failed = run([message], url=UNREACHABLE_DB)
    assert failed == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    assert jobs_of(db, media) == []
    message["attributes"]["ApproximateReceiveCount"] = "2"
    assert run([message]) == {"batchItemFailures": []}
    assert [j["status"] for j in jobs_of(db, media)] == ["succeeded"]


def test_storage_that_cannot_be_reached_is_redelivered_with_the_job_released(aws, db, database_url, editor):
    import boto3
    from botocore.config import Config

    media = upload(database_url, aws, editor, price_list_pdf())
    down = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:1", config=Config(connect_timeout=1, retries={"max_attempts": 1})
    )
    message = notification(media)
    database = Database(database_url)
    try:
        result = process_batch([message], db=database, s3=down, settings=worker_settings(aws, database_url))
    finally:
        database.close()
    assert result == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    assert [(j["status"], j["lease_owner"]) for j in jobs_of(db, media)] == [("queued", None)]


def test_the_poison_message_on_its_last_receive_fails_the_job_and_is_left_for_the_dlq(
    aws, db, database_url, editor, run
):
    media = upload(database_url, aws, editor, price_list_pdf(), bucket="ghost-bucket")
    db.execute("INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:poison')", (media["id"],))
    [job] = jobs_of(db, media)
    for attempt in range(1, 5):
        record = sqs_record(job_message(job["id"]), receive_count=attempt)
        assert run([record])["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    last = sqs_record(job_message(job["id"]), receive_count=5)
    assert run([last])["batchItemFailures"] == [{"itemIdentifier": last["messageId"]}]
    [job] = jobs_of(db, media)
    assert (job["status"], job["error_code"], job["attempts"]) == ("failed", "retries_exhausted", 5)
    assert "Storage" in job["error_message"]


# 19. at-least-once delivery: one job and one set of results


def test_the_same_notification_delivered_twice_makes_one_job_and_one_set_of_candidates(
    aws, db, database_url, editor, run
):
    media = upload(database_url, aws, editor, price_list_pdf())
    run([notification(media, etag="abc")])
    [job] = jobs_of(db, media)
    first = [(c["id"], c["name"]) for c in candidates_of(db, job)]
    twice = [notification(media, etag="abc"), notification(media, etag="abc")]
    assert run(twice) == {"batchItemFailures": []}
    [again] = jobs_of(db, media)
    assert again["id"] == job["id"] and again["attempts"] == 1 and again["finished_at"] == job["finished_at"]
    assert [(c["id"], c["name"]) for c in candidates_of(db, job)] == first


def test_a_new_version_of_the_object_makes_a_new_job(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf())
    run([notification(media, etag="v1"), notification(media, etag="v2")])
    assert sorted(j["status"] for j in jobs_of(db, media)) == ["succeeded", "succeeded"]


def test_the_same_message_in_two_workers_at_once_is_processed_once(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf(pages=40))
    message = notification(media)
    start, results = threading.Barrier(2), []

    def worker():
        start.wait()
        results.append(run([dict(message)]))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [job] = jobs_of(db, media)
    assert (job["status"], job["attempts"], job["pages_done"]) == ("succeeded", 1, 40)
    # The loser saw a live lease (redelivered later, then acknowledged) or the finished job.
    assert sum(len(r["batchItemFailures"]) for r in results) <= 1
    assert len(candidates_of(db, job)) == 40 * len(ROWS)
    assert run([dict(message)]) == {"batchItemFailures": []}  # the redelivery finds it finished
    assert jobs_of(db, media)[0]["attempts"] == 1


# 21-22. a job stuck past its lease is taken up again, resuming from the stored pages


def stuck(db, job, *, attempts: int = 1) -> None:
    db.execute(
        """UPDATE ocr_jobs SET status = 'processing', lease_owner = 'dead-worker', attempts = %s,
                  started_at = now() - interval '1 hour', lease_expires_at = now() - interval '1 second'
                  WHERE id = %s""",
        (attempts, job["id"]),
    )


def request_job(db, media) -> dict:
    return db.execute(
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, %s) RETURNING *",
        (media["id"], f"request:{media['id']}"),
    ).fetchone()


def test_a_job_stuck_in_processing_past_its_lease_is_taken_up_again(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf())
    job = request_job(db, media)
    stuck(db, job)
    assert run([sqs_record(job_message(job["id"]))]) == {"batchItemFailures": []}
    [job] = jobs_of(db, media)
    assert (job["status"], job["attempts"]) == ("succeeded", 2)


def test_a_job_under_a_live_lease_is_left_to_its_worker_and_redelivered(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf())
    job = request_job(db, media)
    db.execute(
        """UPDATE ocr_jobs SET status = 'processing', lease_owner = 'busy-worker', attempts = 1,
                  lease_expires_at = now() + interval '10 minutes' WHERE id = %s""",
        (job["id"],),
    )
    record = sqs_record(job_message(job["id"]))
    assert run([record]) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert jobs_of(db, media)[0]["lease_owner"] == "busy-worker"


def test_a_resumed_job_does_not_read_the_pages_already_stored(aws, db, database_url, editor, run):
    media = upload(database_url, aws, editor, price_list_pdf(pages=3))
    job = request_job(db, media)
    stuck(db, job)
    db.execute(
        """INSERT INTO ocr_pages (job_id, page_number, source, width, height, mean_confidence, words,
                                         text, seconds)
                  VALUES (%s, 2, 'text', 595, 842, 1, '[]', 'stored by the dead worker', 42)""",
        (job["id"],),
    )
    run([sqs_record(job_message(job["id"]))])
    pages = db.execute(
        "SELECT page_number, text, seconds FROM ocr_pages WHERE job_id = %s ORDER BY 1", (job["id"],)
    ).fetchall()
    assert [p["page_number"] for p in pages] == [1, 2, 3]
    assert (pages[1]["text"], pages[1]["seconds"]) == ("stored by the dead worker", 42)
    [job] = jobs_of(db, media)
    assert (job["status"], job["pages_done"], job["pages_total"]) == ("succeeded", 3, 3)
    assert {c["page_number"] for c in candidates_of(db, job)} == {1, 3}


def test_the_reaper_requeues_stale_jobs_and_fails_those_out_of_attempts(aws, db, database_url, editor):
    media = upload(database_url, aws, editor, price_list_pdf())
    retry = request_job(db, media)
    stuck(db, retry, attempts=2)
    spent = db.execute(
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:spent') RETURNING *", (media["id"],)
    ).fetchone()
    stuck(db, spent, attempts=5)
    database = Database(database_url)
    try:
        result = reap_stale_jobs(database, worker_settings(aws, database_url), sqs=aws["sqs"])
    finally:
        database.close()
    assert (result["requeued"], result["failed"]) == ([retry["id"]], [spent["id"]])
    statuses = {j["id"]: (j["status"], j["error_code"]) for j in jobs_of(db, media)}
    assert statuses == {retry["id"]: ("queued", None), spent["id"]: ("failed", "lease_expired")}
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in messages] == [job_message(retry["id"])]


# the handler, as Lambda calls it


def test_the_scheduled_reaper_sends_a_stuck_job_again_without_any_other_message(
    aws, db, database_url, editor, run
):
    # GIVEN a job whose worker died past its lease, and a queue with nothing in it
    media = upload(database_url, aws, editor, price_list_pdf())
    job = request_job(db, media)
    stuck(db, job)
    # WHEN the schedule fires (EventBridge's event, as in tests/events/)
    event = json.loads((ROOT / "tests" / "events" / "schedule_ocr_reaper.json").read_text())
    result = load_function("ocr_reaper").handler(event, None)
    # THEN the job is queued again with a new message, which the worker then completes
    assert result == {"failed": [], "requeued": [str(job["id"])], "expired_uploads": 0}
    [message] = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"]) == {"job_id": str(job["id"])}
    assert jobs_of(db, media)[0]["status"] == "queued"
    assert run([sqs_record(message["Body"])]) == {"batchItemFailures": []}
    assert jobs_of(db, media)[0]["status"] == "succeeded"


def test_the_worker_handler_returns_the_partial_batch_response(aws, db, database_url, editor):
    media = upload(database_url, aws, editor, price_list_pdf())
    fn = load_function("ocr_worker")
    assert fn.app is fn.handler
    response = fn.handler({"Records": [notification(media), sqs_record("{}")]}, None)
    assert response == {"batchItemFailures": []}
    assert [j["status"] for j in jobs_of(db, media)] == ["succeeded"]


@pytest.mark.parametrize("name", ["sqs_s3_notification", "sqs_job_message", "sqs_s3_test_event"])
def test_the_sample_events_for_unknown_objects_and_jobs_are_acknowledged(aws, env, name):
    event = json.loads((ROOT / "tests" / "events" / f"{name}.json").read_text())
    assert load_function("ocr_worker").handler(event, None) == {"batchItemFailures": []}


@pytest.mark.ocr
def test_a_scanned_page_is_read_by_tesseract(aws, db, database_url, editor, run):
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (1700, 600), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=40)
    for i, (code, name, price) in enumerate(ROWS):
        draw.text((60, 60 + i * 110), f"{code}   {name}   {price} EUR", fill=0, font=font)
    import io

    out = io.BytesIO()
    img.save(out, format="PNG", dpi=(200, 200))
    media = upload(database_url, aws, editor, out.getvalue(), content_type="image/png")
    assert run([notification(media)]) == {"batchItemFailures": []}
    [job] = jobs_of(db, media)
    assert job["status"] == "succeeded", job["error_message"]
    page = db.execute("SELECT * FROM ocr_pages WHERE job_id = %s", (job["id"],)).fetchone()
    assert page["source"] == "ocr" and "Tornillo" in page["text"]


def test_a_text_layer_with_nul_characters_is_stored_without_them(aws, db, database_url, editor):
    from angebae.jobs.runner import JobRunner
    from angebae.ocr.types import Page, Word
    from angebae.storage import Storage

    media = upload(database_url, aws, editor, price_list_pdf())
    job = request_job(db, media)
    database = Database(database_url)
    try:
        runner = JobRunner(database, Storage(aws["s3"]), worker_settings(aws, database_url), "w1")
        runner.claim(job["id"])
        words = [Word("Torn\x00illo", 1, 1, 9, 9), Word("\x00", 10, 1, 12, 9), Word("12,50", 20, 1, 30, 9)]
        runner._store_page(job["id"], Page(1, 595, 842, words, "text"))
    finally:
        database.close()
    page = db.execute("SELECT words, text FROM ocr_pages WHERE job_id = %s", (job["id"],)).fetchone()
    assert page["text"] == "Tornillo 12,50" and [w["text"] for w in page["words"]] == ["Tornillo", "12,50"]


def test_a_job_left_queued_without_a_message_is_sent_again_and_completes(aws, db, database_url, editor, run):
    # GIVEN a job POST /ocr/jobs committed whose SQS message was never sent (the send failed, then so did
    # marking it failed; or the function died in between), and a job queued a moment ago
    media = upload(database_url, aws, editor, price_list_pdf())
    lost = request_job(db, media)
    db.execute(
        "UPDATE ocr_jobs SET created_at = now() - interval '3 hours', "
        "updated_at = now() - interval '3 hours' WHERE id = %s",
        (lost["id"],),
    )
    fresh = db.execute(
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:fresh') RETURNING *", (media["id"],)
    ).fetchone()
    # WHEN any batch runs the reaper
    assert run([], sqs=aws["sqs"]) == {"batchItemFailures": []}
    # THEN the stale one gets a new message, once; the fresh one is left to its own message
    messages = aws["sqs"].receive_message(
        QueueUrl=aws["queue_url"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )["Messages"]
    assert [m["Body"] for m in messages] == [job_message(lost["id"])]
    run([], sqs=aws["sqs"])
    again = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == [job_message(lost["id"])]
    # AND that message completes the job
    assert run([sqs_record(messages[0]["Body"])]) == {"batchItemFailures": []}
    statuses = {j["id"]: j["status"] for j in jobs_of(db, media)}
    assert statuses == {lost["id"]: "succeeded", fresh["id"]: "queued"}


def test_a_job_left_queued_after_its_last_attempt_is_failed_not_sent_forever(aws, db, database_url, editor):
    media = upload(database_url, aws, editor, price_list_pdf())
    spent = request_job(db, media)
    db.execute(
        "UPDATE ocr_jobs SET attempts = 5, updated_at = now() - interval '3 hours' WHERE id = %s",
        (spent["id"],),
    )
    database = Database(database_url)
    try:
        result = reap_stale_jobs(database, worker_settings(aws, database_url), sqs=aws["sqs"])
    finally:
        database.close()
    assert result["failed"] == [spent["id"]]
    [job] = jobs_of(db, media)
    assert (job["status"], job["error_code"]) == ("failed", "retries_exhausted")
    assert "Messages" not in aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)


def test_each_message_gets_one_structured_log_line_with_its_id_and_outcome(
    aws, db, database_url, editor, run, caplog
):
    good = upload(database_url, aws, editor, price_list_pdf())
    lost = upload(database_url, aws, editor, price_list_pdf(), bucket="ghost-bucket")
    spent = upload(database_url, aws, editor, price_list_pdf(), bucket="ghost-bucket-2")
    spent_job = request_job(db, spent)
    records = [
        notification(good),
        notification(lost),
        sqs_record(job_message(spent_job["id"]), receive_count=5),
        sqs_record("not json {"),
    ]
    with caplog.at_level("INFO", logger="angebae.jobs.worker"):
        run(records)
    per_message = {
        r["messageId"]: [
            rec
            for rec in caplog.records
            if rec.name == "angebae.jobs.worker"
            and getattr(rec, "fields", {}).get("message_id") == r["messageId"]
        ]
        for r in records
    }
    assert {m: len(lines) for m, lines in per_message.items()} == {r["messageId"]: 1 for r in records}
    outcomes = [lines[0].fields.get("outcome") for lines in per_message.values()]
    assert outcomes[:3] == ["done", "redelivered", "retries_exhausted"]
    assert "Storage" in per_message[records[1]["messageId"]][0].fields["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": None}}}]},
        {"Records": [{"s3": {"bucket": {"name": "b"}, "object": "uploads/x"}}]},
        {"Records": [{"s3": {"bucket": {"name": ["b"]}, "object": {"key": 7}}}]},
        {"Records": ["uploads/x"]},
        {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/x", "eTag": 7}}}]},
    ],
)
def test_a_malformed_s3_record_is_acknowledged_not_retried_into_the_dlq(aws, db, database_url, run, body):
    assert run([sqs_record(json.dumps(body))]) == {"batchItemFailures": []}


def test_a_transient_failure_comes_back_after_the_backoff_not_the_long_visibility_timeout(
    aws, database_url, editor, run
):
    # GIVEN a queue whose visibility timeout is long (as in production: 6x the worker's timeout)
    sqs = aws["sqs"]
    queue_url = sqs.create_queue(
        QueueName=f"slow-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "600"}
    )["QueueUrl"]
    media = upload(database_url, aws, editor, price_list_pdf())
    sqs.send_message(QueueUrl=queue_url, MessageBody=s3_message(media["bucket"], media["object_key"]))
    received = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"])["Messages"][0]
    record = {
        **sqs_record(received["Body"]),
        "messageId": received["MessageId"],
        "receiptHandle": received["ReceiptHandle"],
    }
    # WHEN the database is down for this delivery
    result = run([record], url=UNREACHABLE_DB, sqs=sqs, ocr_queue_url=queue_url, retry_base_seconds=1)
    # THEN the message is reported and visible again after ~1 s, not 600 s
    assert result == {"batchItemFailures": [{"itemIdentifier": received["MessageId"]}]}
    time.sleep(1.5)
    again = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["MessageId"] for m in again] == [received["MessageId"]]


def test_an_upload_whose_link_expired_without_a_file_does_not_stay_pending(aws, db, run):
    # GIVEN two upload tickets without a file: one issued two hours ago, one just now
    db.execute(
        """INSERT INTO media (bucket, object_key, filename, declared_type, declared_size, created_at)
           VALUES (%(b)s, 'uploads/abandoned/file.pdf', 'file.pdf', 'application/pdf', 10,
                   now() - interval '2 hours'),
                  (%(b)s, 'uploads/fresh/file.pdf', 'file.pdf', 'application/pdf', 10, now())""",
        {"b": aws["bucket"]},
    )
    # WHEN the worker handles any batch
    run([sqs_record(json.dumps({"Event": "s3:TestEvent"}))])
    # THEN the abandoned one is rejected with a reason and the fresh one still waits
    rows = {
        r["object_key"]: (r["status"], r["error_code"])
        for r in db.execute("SELECT object_key, status, error_code FROM media")
    }
    assert rows == {
        "uploads/abandoned/file.pdf": ("rejected", "upload_expired"),
        "uploads/fresh/file.pdf": ("pending", None),
    }


# Structured data first: a PDF carrying an e-invoice has its candidates from the XML


def test_a_pdf_carrying_an_e_invoice_succeeds_with_the_xml_items_and_its_pages_stored(
    aws, db, database_url, editor, run
):
    # GIVEN an uploaded PDF with an embedded Factur-X XML (three products and a deposit line)
    from angebae.jobs.api import get_job
    from einvoice_support import EXPECTED, cii_xml, pdf_with_attachments

    media = upload(database_url, aws, editor, pdf_with_attachments({"factur-x.xml": cii_xml()}))
    # WHEN the worker runs its job
    assert run([notification(media)]) == {"batchItemFailures": []}
    # THEN the job succeeded with source "xml", the XML's items as candidates and the page still stored
    [job] = jobs_of(db, media)
    assert (job["status"], job["candidates_source"], job["pages_done"]) == ("succeeded", "xml", 1)
    rows = candidates_of(db, job)
    assert [(c["name"], c["price"], c["currency"], c["sku"], c["qty"]) for c in rows] == [
        (name, Decimal(price), currency, sku, Decimal(qty)) for name, price, currency, sku, qty in EXPECTED
    ]
    assert {c["confidence"] for c in rows} == {1.0}
    assert rows[0]["attributes"]["source"] == "xml" and rows[0]["attributes"]["gtin"] == "4012345001235"
    assert db.execute("SELECT text FROM ocr_pages WHERE job_id = %s", (job["id"],)).fetchone()["text"]
    database = Database(database_url)
    try:
        assert get_job(database, job["id"], limit=10, cursor=None)["source"] == "xml"
    finally:
        database.close()


def test_a_pdf_whose_embedded_xml_is_garbage_is_read_from_its_layout(aws, db, database_url, editor, run):
    # GIVEN a price list PDF with a broken factur-x.xml attached
    import pymupdf

    doc = pymupdf.open(stream=price_list_pdf(), filetype="pdf")
    doc.embfile_add("factur-x.xml", b"<rsm:CrossIndustryInvoice><<<", filename="factur-x.xml")
    media = upload(database_url, aws, editor, doc.tobytes())
    # WHEN the worker runs its job
    run([notification(media)])
    # THEN the candidates come from the layout and the job says so
    [job] = jobs_of(db, media)
    assert (job["status"], job["candidates_source"]) == ("succeeded", "layout")
    assert len(candidates_of(db, job)) == len(ROWS)


# A page that prints prices but gave no product says so on the job, which still succeeds


def test_a_page_printing_only_a_total_succeeds_with_a_warning_naming_the_page(
    aws, db, database_url, editor, run
):
    # GIVEN an uploaded PDF: a price list on page 1, only "Total 12,50 EUR" on page 2
    from angebae.jobs.api import get_job

    media = upload(database_url, aws, editor, totals_only_pdf(after=price_list_pdf()))
    # WHEN the worker runs its job
    assert run([notification(media)]) == {"batchItemFailures": []}
    # THEN it succeeded with page 1's products, and page 2 is named in a warning, also by the job API
    [job] = jobs_of(db, media)
    assert (job["status"], job["candidates_source"], job["pages_done"]) == ("succeeded", "layout", 2)
    assert {c["page_number"] for c in candidates_of(db, job)} == {1}
    expected = [
        {
            "page": 2,
            "code": "prices_without_candidates",
            "message": "page 2 prints 1 price but no product was read from it",
        }
    ]
    assert job["warnings"] == expected
    database = Database(database_url)
    try:
        assert get_job(database, job["id"], limit=10, cursor=None)["warnings"] == expected
    finally:
        database.close()


def test_a_document_of_only_a_total_succeeds_with_no_candidates_and_says_so(
    aws, db, database_url, editor, run
):
    # GIVEN an uploaded one-page PDF printing only a total
    media = upload(database_url, aws, editor, totals_only_pdf())
    # WHEN the worker runs its job
    run([notification(media)])
    # THEN the job succeeded without candidates, warning for the document and for page 1
    [job] = jobs_of(db, media)
    assert job["status"] == "succeeded" and candidates_of(db, job) == []
    assert [(w["code"], w.get("page")) for w in job["warnings"]] == [
        ("no_candidates", None),
        ("prices_without_candidates", 1),
    ]


def test_a_job_from_an_embedded_e_invoice_has_no_warnings(aws, db, database_url, editor, run):
    # GIVEN a PDF whose page prints a total (no product line) and which carries an e-invoice
    from einvoice_support import cii_xml, pdf_with_attachments

    pdf = pdf_with_attachments({"factur-x.xml": cii_xml()}, text="Rechnung 471102  Summe 41,23 EUR")
    media = upload(database_url, aws, editor, pdf)
    # WHEN the worker runs its job, THEN the XML's items are the candidates and nothing warns
    run([notification(media)])
    [job] = jobs_of(db, media)
    assert (job["candidates_source"], job["warnings"]) == ("xml", [])
