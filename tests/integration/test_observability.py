"""Logs and metrics (issue 10): every line carries function, request_id and cold_start, the worker's
also message_id, media_id and job_id; EMF metrics for jobs, pages, candidates and failed logins."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from angebae.db import Database
from angebae.jobs.worker import process_batch
from angebae.logs import JsonFormatter
from ocr_support import blank_pdf, make_admin, price_list_pdf, s3_message, sqs_record, upload, worker_settings
from support import ROOT, call, load_function, rest_event


@pytest.fixture
def log_lines():
    """The JSON lines the root logger writes while the test runs (formatted as they are emitted)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def emf(stdout: str) -> dict[str, list[dict]]:
    """EMF lines by metric name."""
    found: dict[str, list[dict]] = {}
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        doc = json.loads(line)
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Angebae"
        for dims in directive["Dimensions"]:
            assert all(d in doc for d in dims)  # every dimension is a member of the document
        for metric in directive["Metrics"]:
            found.setdefault(metric["Name"], []).append(doc)
    return found


def test_an_http_functions_lines_name_it_its_request_and_the_cold_start():
    # GIVEN a fresh process (a cold start) that serves two requests
    script = """
import json, sys, uuid
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from support import load_function, rest_event
class Ctx:
    def __init__(self, rid): self.aws_request_id = rid
fn = load_function("categories")
for rid in ("req-1", "req-2"):
    fn.app(rest_event("GET", "/categories"), Ctx(rid))
"""
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://127.0.0.1:1/unused",
        "JWT_SECRET": "j" * 40,
        "LOG_LEVEL": "INFO",
    }
    paths = [str(ROOT / "layers/common/python"), str(ROOT / "tests")]
    out = subprocess.run(
        [sys.executable, "-c", script, *paths],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    requests_ = [line for line in lines if line["message"] == "request"]
    # THEN each access line names the function and its request; only the first is the cold start
    assert [(r["function"], r["request_id"], r["cold_start"]) for r in requests_] == [
        ("categories", "req-1", True),
        ("categories", "req-2", False),
    ]
    assert all(r["status"] == 401 for r in requests_)


def test_a_failed_login_is_counted_in_emf(env, db, capsys):
    fn = load_function("login")
    make_admin(db, "editor")
    response = call(
        fn,
        rest_event(
            "POST", "/admin/login", body={"email": "nobody@example.com", "password": "wrong password"}
        ),
    )
    assert response["statusCode"] == 401
    found = emf(capsys.readouterr().out)
    (line,) = found["LoginFailures"]
    assert line["service"] == "login" and line["LoginFailures"] == [1.0]


def _run_batch(aws, database_url, records):
    database = Database(database_url)
    try:
        return process_batch(records, db=database, s3=aws["s3"], settings=worker_settings(aws, database_url))
    finally:
        database.close()


def test_a_jobs_lines_carry_its_ids_and_its_metrics_are_emitted(aws, db, database_url, log_lines, capsys):
    media = upload(database_url, aws, make_admin(db, "editor"), price_list_pdf(pages=2))
    record = sqs_record(s3_message(media["bucket"], media["object_key"]), message_id="msg-42")
    assert _run_batch(aws, database_url, [record]) == {"batchItemFailures": []}
    job = db.execute("SELECT * FROM ocr_jobs WHERE media_id = %s", (media["id"],)).fetchone()
    # THEN the run's lines name the message, the media and the job
    lines = [line for line in log_lines() if line["message"] in ("job succeeded", "message handled")]
    assert {line["message"] for line in lines} == {"job succeeded", "message handled"}
    for line in lines:
        assert line["message_id"] == "msg-42"
        assert line["media_id"] == str(media["id"]) and line["job_id"] == str(job["id"])
    # AND the metrics: a job started and succeeded, its pages by source with their seconds, candidates
    found = emf(capsys.readouterr().out)
    assert [d["JobsStarted"] for d in found["JobsStarted"]] == [[1.0]]
    assert [d["JobsSucceeded"] for d in found["JobsSucceeded"]] == [[1.0]]
    count = db.execute(
        "SELECT count(*) AS n FROM product_candidates WHERE job_id = %s", (job["id"],)
    ).fetchone()
    assert found["CandidatesPerJob"][0]["CandidatesPerJob"] == [float(count["n"])]
    (pages,) = found["PagesRead"]
    assert pages["source"] == "text" and pages["PagesRead"] == [2.0]
    (seconds,) = found["SecondsPerPage"]
    assert seconds["source"] == "text" and len(seconds["SecondsPerPage"]) == 2
    assert "JobsFailed" not in found


def test_a_failed_job_is_counted_by_its_code(aws, db, database_url, capsys):
    media = upload(database_url, aws, make_admin(db, "editor"), blank_pdf(encrypted=True))
    _run_batch(aws, database_url, [sqs_record(s3_message(media["bucket"], media["object_key"]))])
    job = db.execute("SELECT * FROM ocr_jobs WHERE media_id = %s", (media["id"],)).fetchone()
    assert job["status"] == "failed"
    (failed,) = emf(capsys.readouterr().out)["JobsFailed"]
    assert failed["code"] == job["error_code"] and failed["JobsFailed"] == [1.0]
    assert {"service", "code"} in [set(d) for d in failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]
