"""POST /ocr/jobs, GET /ocr/jobs[/{id}[/candidates]], and the whole path: presigned POST -> S3 event
-> SQS -> worker -> the job and its candidates through the API."""

from __future__ import annotations

import json

import pytest
import requests
from angebae.db import Database
from angebae.jobs.worker import process_batch
from ocr_support import (
    ROWS,
    bearer,
    drain_upload,
    make_admin,
    price_list_pdf,
    upload,
    worker_settings,
)
from support import call, load_function, rest_event


@pytest.fixture
def editor(db):
    return make_admin(db, "editor")


@pytest.fixture
def enqueue_fn(aws):
    return load_function("ocr_enqueue")


@pytest.fixture
def status_fn(aws):
    return load_function("ocr_status")


@pytest.fixture
def uploaded(aws, db, database_url, editor):
    media = upload(database_url, aws, editor, price_list_pdf(pages=2))
    db.execute("UPDATE media SET status = 'uploaded' WHERE id = %s", (media["id"],))
    return media


def enqueue(fn, admin, **body):
    return call(fn, rest_event("POST", "/ocr/jobs", body=body, headers=bearer(admin)))


def get(fn, admin, resource, query=None, **ids):
    path = resource.format(**ids)
    return call(
        fn,
        rest_event(
            "GET",
            resource,
            path=path,
            headers=bearer(admin),
            query=query,
            path_params={k: str(v) for k, v in ids.items()} or None,
        ),
    )


def drain(aws, database_url) -> list[dict]:
    """Receives what the queue holds and runs it through the worker, as the event source mapping does."""
    results = []
    while (
        messages := aws["sqs"]
        .receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10, AttributeNames=["All"])
        .get("Messages")
    ):
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
        database = Database(database_url)
        try:
            result = process_batch(
                records,
                db=database,
                s3=aws["s3"],
                sqs=aws["sqs"],
                settings=worker_settings(aws, database_url),
            )
        finally:
            database.close()
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                aws["sqs"].delete_message(QueueUrl=aws["queue_url"], ReceiptHandle=m["ReceiptHandle"])
        results.append(result)
    return results


# POST /ocr/jobs


def test_a_rerun_is_queued_and_sent_to_the_worker_queue(aws, db, enqueue_fn, editor, uploaded):
    response = enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]), languages="eng", pages=[2, 1, 2])
    assert response["statusCode"] == 202
    job = response["json"]
    assert (job["status"], job["languages"], job["pages"]) == ("queued", "eng", [1, 2])
    assert response["headers"]["Location"] == f"/Prod/ocr/jobs/{job['id']}"  # behind the stage, as 201s
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"])["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"job_id": job["id"]}]
    row = db.execute("SELECT source_key, requested_by FROM ocr_jobs WHERE id = %s", (job["id"],)).fetchone()
    assert row["source_key"].startswith("request:") and row["requested_by"] == editor["id"]


def test_a_rerun_of_a_media_not_yet_uploaded_is_409(db, enqueue_fn, editor, uploaded):
    db.execute("UPDATE media SET status = 'pending' WHERE id = %s", (uploaded["id"],))
    response = enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]))
    assert response["statusCode"] == 409
    assert response["json"]["error"]["details"]["media_status"] == "pending"


def test_a_rerun_of_an_unknown_media_is_404(enqueue_fn, editor):
    assert enqueue(enqueue_fn, editor, media_id="8a5c7a4e-0000-4000-8000-000000000000")["statusCode"] == 404


@pytest.mark.parametrize(
    "body",
    [
        {"languages": "SPA"},
        {"languages": "spa;rm -rf"},
        {"languages": "spa+"},
        {"languages": "zzzz"},
        {"pages": [0]},
        {"pages": [-1, 2]},
        {"pages": []},
        {"pages": ["one"]},
        {"media_id": "nope"},
    ],
)
def test_bad_rerun_options_are_400_with_a_reason(db, enqueue_fn, editor, uploaded, body):
    response = enqueue(enqueue_fn, editor, **{"media_id": str(uploaded["id"]), **body})
    assert response["statusCode"] == 400
    assert response["json"]["error"]["message"]
    assert db.execute("SELECT count(*) AS n FROM ocr_jobs").fetchone()["n"] == 0


def test_rerunning_needs_an_editor(db, enqueue_fn, uploaded):
    assert enqueue(enqueue_fn, make_admin(db, "viewer"), media_id=str(uploaded["id"]))["statusCode"] == 403


def test_a_queue_that_cannot_be_reached_is_503_and_the_job_is_not_left_queued(
    aws, db, monkeypatch, editor, uploaded
):
    monkeypatch.setenv("OCR_QUEUE_URL", aws["queue_url"] + "-missing")
    response = enqueue(load_function("ocr_enqueue"), editor, media_id=str(uploaded["id"]))
    assert response["statusCode"] == 503
    job = db.execute("SELECT status, error_code FROM ocr_jobs").fetchone()
    assert (job["status"], job["error_code"]) == ("failed", "enqueue_failed")


# GET /ocr/jobs/{id} and its candidates


def test_a_rerun_runs_and_its_status_shows_progress_timings_and_candidates(
    aws, database_url, enqueue_fn, status_fn, editor, uploaded
):
    job = enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]), pages=[2])["json"]
    drain(aws, database_url)
    body = get(status_fn, editor, "/ocr/jobs/{id}", id=job["id"])["json"]
    assert body["status"] == "succeeded" and body["error"] is None
    assert body["progress"] == {"pages_done": 1, "pages_total": 1}
    assert body["timings"]["run_seconds"] >= 0 and body["timings"]["finished_at"]
    candidates = body["candidates"]["items"]
    assert len(candidates) == len(ROWS) and {c["page_number"] for c in candidates} == {2}
    assert candidates[0]["price"] == "12.50" and candidates[0]["currency"] == "EUR"


def test_candidates_come_page_by_page_in_document_order(aws, db, database_url, status_fn, editor, uploaded):
    drain_upload(aws, database_url, uploaded)
    [job] = db.execute("SELECT id FROM ocr_jobs WHERE media_id = %s", (uploaded["id"],)).fetchall()
    viewer = make_admin(db, "viewer")
    seen, cursor = [], None
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = get(status_fn, viewer, "/ocr/jobs/{id}/candidates", query=query, id=job["id"])["json"]
        seen += [(c["page_number"], c["position"]) for c in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 2 * len(ROWS)
    first = get(status_fn, viewer, "/ocr/jobs/{id}", query={"limit": "3"}, id=job["id"])["json"]
    assert [(c["page_number"], c["position"]) for c in first["candidates"]["items"]] == seen[:3]


def statuses_by_page(db, job_id) -> dict:
    rows = db.execute(
        """SELECT page_number, status, superseded_by FROM product_candidates
                         WHERE job_id = %s""",
        (job_id,),
    ).fetchall()
    return {(r["page_number"], r["status"], r["superseded_by"] and str(r["superseded_by"])) for r in rows}


def test_a_rerun_supersedes_the_earlier_runs_undecided_candidates_of_its_pages(
    aws, db, database_url, enqueue_fn, editor, uploaded
):
    drain_upload(aws, database_url, uploaded)
    [first] = db.execute("SELECT id FROM ocr_jobs WHERE media_id = %s", (uploaded["id"],)).fetchall()
    decided = db.execute(
        """UPDATE product_candidates SET status = 'rejected' WHERE id = (
                              SELECT id FROM product_candidates WHERE job_id = %s AND page_number = 2
                              ORDER BY position LIMIT 1) RETURNING id""",
        (first["id"],),
    ).fetchone()
    rerun = enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]), pages=[2])["json"]
    drain(aws, database_url)
    assert statuses_by_page(db, first["id"]) == {
        (1, "pending", None),
        (2, "rejected", None),
        (2, "superseded", rerun["id"]),
    }
    # the re-run's copy of the rejected item is not asked about again: superseded, naming that decision
    assert statuses_by_page(db, rerun["id"]) == {(2, "pending", None), (2, "superseded", None)}
    [copy] = db.execute(
        """SELECT duplicate_of FROM product_candidates WHERE job_id = %s
                           AND status = 'superseded'""",
        (rerun["id"],),
    ).fetchall()
    assert copy["duplicate_of"] == decided["id"]
    whole = enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]))["json"]
    drain(aws, database_url)
    assert statuses_by_page(db, first["id"]) == {
        (1, "superseded", whole["id"]),
        (2, "rejected", None),
        (2, "superseded", rerun["id"]),
    }
    assert statuses_by_page(db, rerun["id"]) == {(2, "superseded", whole["id"]), (2, "superseded", None)}
    pending = db.execute(
        """SELECT count(*) AS n FROM product_candidates
                            WHERE media_id = %s AND status = 'pending'""",
        (uploaded["id"],),
    ).fetchone()
    assert pending["n"] == 2 * len(ROWS) - 1  # one run's worth less the item decided, not three
    assert (
        db.execute("SELECT status FROM product_candidates WHERE id = %s", (decided["id"],)).fetchone()[
            "status"
        ]
        == "rejected"
    )


def test_rerun_pages_outside_the_document_are_400_when_asked(
    aws, db, database_url, enqueue_fn, editor, uploaded
):
    before = enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]), pages=[5])
    assert before["statusCode"] == 202  # not opened yet: the worker checks the pages
    drain(aws, database_url)
    drain_upload(aws, database_url, uploaded)
    assert (
        db.execute("SELECT page_count FROM media WHERE id = %s", (uploaded["id"],)).fetchone()["page_count"]
        == 2
    )
    jobs = db.execute("SELECT count(*) AS n FROM ocr_jobs").fetchone()["n"]
    response = enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]), pages=[2, 5])
    assert response["statusCode"] == 400, response["json"]
    assert response["json"]["error"]["details"]["page_count"] == 2
    assert response["json"]["error"]["details"]["outside"] == [5]
    # media read before page_count existed: the last whole run's page total counts
    db.execute("UPDATE media SET page_count = NULL WHERE id = %s", (uploaded["id"],))
    assert enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]), pages=[3])["statusCode"] == 400
    assert db.execute("SELECT count(*) AS n FROM ocr_jobs").fetchone()["n"] == jobs
    assert enqueue(enqueue_fn, editor, media_id=str(uploaded["id"]), pages=[2])["statusCode"] == 202


def test_an_unknown_job_is_404_and_a_bad_cursor_400(status_fn, editor, uploaded, db):
    missing = "8a5c7a4e-0000-4000-8000-000000000000"
    assert get(status_fn, editor, "/ocr/jobs/{id}", id=missing)["statusCode"] == 404
    assert get(status_fn, editor, "/ocr/jobs/{id}/candidates", id=missing)["statusCode"] == 404
    assert get(status_fn, editor, "/ocr/jobs/{id}", id="x")["statusCode"] == 404
    job = db.execute(
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:a') RETURNING id", (uploaded["id"],)
    ).fetchone()
    bad = get(status_fn, editor, "/ocr/jobs/{id}/candidates", query={"cursor": "WyJhIiwiYiJd"}, id=job["id"])
    assert bad["statusCode"] == 400
    from angebae.pagination import encode_cursor

    for values in ([2**40, 0], [1, -(2**63) - 1], [True, 0]):  # beyond int4, beyond int8, not a number
        bad = get(
            status_fn,
            editor,
            "/ocr/jobs/{id}/candidates",
            query={"cursor": encode_cursor(values)},
            id=job["id"],
        )
        assert bad["statusCode"] == 400, values


def test_jobs_are_listed_by_status_and_media(db, status_fn, editor, uploaded):
    other = db.execute("""INSERT INTO media (bucket, object_key, filename, declared_type, status)
                          VALUES ('b', 'uploads/x/y.pdf', 'y.pdf', 'application/pdf', 'uploaded')
                          RETURNING id""").fetchone()
    for n, (media_id, status) in enumerate(
        [(uploaded["id"], "failed"), (uploaded["id"], "succeeded"), (other["id"], "failed")]
    ):
        db.execute(
            "INSERT INTO ocr_jobs (media_id, source_key, status) VALUES (%s, %s, %s)",
            (media_id, f"request:{n}", status),
        )
    listed = get(status_fn, editor, "/ocr/jobs", query={"status": "failed", "media_id": str(uploaded["id"])})
    found = [(j["media_id"], j["status"]) for j in listed["json"]["items"]]
    assert found == [(str(uploaded["id"]), "failed")]
    everything = get(status_fn, editor, "/ocr/jobs", query={"limit": "2"})["json"]
    rest = get(status_fn, editor, "/ocr/jobs", query={"limit": "2", "cursor": everything["next_cursor"]})
    assert len(everything["items"]) + len(rest["json"]["items"]) == 3 and rest["json"]["next_cursor"] is None
    assert get(status_fn, editor, "/ocr/jobs", query={"status": "lost"})["statusCode"] == 400


def test_job_status_needs_a_session(status_fn):
    assert call(status_fn, rest_event("GET", "/ocr/jobs"))["statusCode"] == 401


# the whole path, with a plain HTTP client and moto's S3 -> SQS notification


def test_an_upload_is_read_on_its_own_and_its_candidates_come_back(aws, db, database_url, status_fn, editor):
    arn = aws["sqs"].get_queue_attributes(QueueUrl=aws["queue_url"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws["s3"].put_bucket_notification_configuration(
        Bucket=aws["bucket"],
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ]
        },
    )
    data = price_list_pdf()
    ticket = call(
        load_function("upload"),
        rest_event(
            "POST",
            "/media/uploads",
            headers=bearer(editor),
            body={"filename": "precios enero.pdf", "content_type": "application/pdf", "size": len(data)},
        ),
    )["json"]
    posted = requests.post(
        ticket["upload"]["url"],
        data=ticket["upload"]["fields"],
        files={"file": ("x.pdf", data, "application/pdf")},
        timeout=10,
    )
    assert posted.status_code in (200, 201, 204)

    results = drain(aws, database_url)  # the s3:TestEvent and the ObjectCreated notification

    assert all(r == {"batchItemFailures": []} for r in results)
    jobs = get(status_fn, editor, "/ocr/jobs", query={"media_id": ticket["media"]["id"]})["json"]["items"]
    assert [j["status"] for j in jobs] == ["succeeded"]
    body = get(status_fn, editor, "/ocr/jobs/{id}", id=jobs[0]["id"])["json"]
    assert sorted(c["name"] for c in body["candidates"]["items"]) == sorted(name for _, name, _ in ROWS)
