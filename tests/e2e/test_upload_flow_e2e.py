"""The upload flow end to end over HTTP, against `angebae local` with its OCR worker: login, presigned
POST straight to S3, the S3 event -> SQS -> worker run on its own, candidates from GET /ocr/jobs/{id};
bad uploads end as failed jobs with a clear code; `--demo --demo-exit`; `angebae invoke`."""

from __future__ import annotations

import io
import json
import subprocess
from decimal import Decimal

import psycopg
import pytest
import requests
from angebae_local.demo import DEMO_PAGES, demo_document
from e2e_support import (
    EMAIL,
    PASSWORD,
    ROOT,
    angebae_command,
    free_port,
    fresh_database,
    local_command,
    post_upload,
    stack_env,
    upload,
    wait_until,
)
from PIL import Image

pytestmark = [pytest.mark.e2e]

JOB_TIMEOUT = 90


@pytest.fixture
def session(any_worker_stack) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{any_worker_stack.url}/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=60)
    assert r.status_code == 200, r.text
    return s


def finished_job(stack, s: requests.Session, media_id: str) -> dict:
    """The media's job once it ended (the worker picks it up on its own), else fail with the log."""

    def poll():
        r = s.get(f"{stack.url}/ocr/jobs", params={"media_id": media_id}, timeout=30)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        if not items:
            return None
        job = s.get(f"{stack.url}/ocr/jobs/{items[0]['id']}", params={"limit": 200}, timeout=30).json()
        return job if job["status"] in ("succeeded", "failed") else None

    job = wait_until(poll, JOB_TIMEOUT)
    if job is None:
        pytest.fail(f"no finished OCR job for media {media_id} after {JOB_TIMEOUT} s\n{stack.log_tail()}")
    return job


@pytest.mark.ocr
@pytest.mark.ministack_smoke
def test_uploaded_catalog_is_read_on_its_own_and_its_candidates_served(any_worker_stack, session):
    worker_stack = any_worker_stack
    media_id = upload(worker_stack.url, session, "catálogo primavera.pdf", demo_document(), "application/pdf")

    job = finished_job(worker_stack, session, media_id)

    assert job["status"] == "succeeded", job
    assert job["error"] is None and job["attempts"] == 1
    assert job["progress"] == {"pages_done": 2, "pages_total": 2}
    got = {
        (c["page_number"], c["name"], Decimal(c["price"]), c["currency"], c["sku"])
        for c in job["candidates"]["items"]
    }
    expected = {
        (page, name, Decimal(price.split()[0].replace(",", ".")), price.split()[1], sku)
        for page, (_, _, rows) in enumerate(DEMO_PAGES, 1)
        for sku, name, _, price in rows
    }
    assert got == expected  # page 1 from its text layer, page 2 through Tesseract
    text_page = [c for c in job["candidates"]["items"] if c["page_number"] == 1]
    assert [Decimal(c["qty"]) for c in text_page] == [Decimal(q) for _, _, q, _ in DEMO_PAGES[0][2]]
    assert all(0 < float(c["confidence"]) <= 1 for c in job["candidates"]["items"])
    media = session.get(f"{worker_stack.url}/media/{media_id}", timeout=30).json()
    assert media["status"] == "uploaded" and media["sniffed_type"] == "application/pdf"
    assert media["filename"] == "catálogo primavera.pdf"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (64, 64), 255).save(out, "PNG")
    return out.getvalue()


BAD_UPLOADS = {
    # name: (declared type, bytes sent, declared size, job error code, media error code)
    # moto ignores the POST policy (type, 1..max bytes); the worker checks the object itself
    "png_declared_as_pdf": ("application/pdf", _png(), None, "type_mismatch", "type_mismatch"),
    "empty_file": ("application/pdf", b"", 1, "empty", "empty"),
    "not_a_document": (
        "image/png",
        b"just some text, no picture\n" * 4,
        None,
        "unsupported_type",
        "unsupported_type",
    ),
    # the object is the PDF it claims to be (media uploaded), its content cannot be read
    "truncated_pdf": (
        "application/pdf",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type",
        None,
        "corrupt",
        None,
    ),
}


# What an engine's S3 refuses of BAD_UPLOADS before any worker sees it: name -> S3 error code.
# moto accepts every form (the worker checks the object); MiniStack enforces content-length-range.
POLICY_REFUSED = {"ministack": {"empty_file": "EntityTooSmall"}}


@pytest.mark.ocr
def test_bad_uploads_end_as_failed_jobs_with_a_clear_code(any_worker_stack, session):
    worker_stack = any_worker_stack
    posted = {
        name: post_upload(worker_stack.url, session, f"{name}.bin", content, declared, size)
        for name, (declared, content, size, _, _) in BAD_UPLOADS.items()
    }
    media_ids = {name: media_id for name, (media_id, _) in posted.items()}
    for name, (_, answer) in posted.items():
        if name in POLICY_REFUSED.get(worker_stack.engine, {}):
            # S3 itself enforces the POST policy's content-length-range here, as AWS does
            assert answer.status_code == 400 and POLICY_REFUSED[worker_stack.engine][name] in answer.text
            media = session.get(f"{worker_stack.url}/media/{media_ids.pop(name)}", timeout=30).json()
            assert media["status"] == "pending", media  # no object, no job: expired after the link's TTL
        else:
            assert answer.status_code in (200, 201, 204), (name, answer.text)

    for name, media_id in media_ids.items():
        job = finished_job(worker_stack, session, media_id)
        assert job["status"] == "failed", (name, job)
        assert job["error"]["code"] == BAD_UPLOADS[name][3], (name, job["error"])
        assert job["error"]["message"]
        assert job["candidates"]["items"] == []
        media = session.get(f"{worker_stack.url}/media/{media_id}", timeout=30).json()
        media_code = BAD_UPLOADS[name][4]
        assert media["error_code"] == media_code, media
        assert media["status"] == ("rejected" if media_code else "uploaded"), media
        assert (media["download_url"] is None) == bool(media_code)
    stuck = session.get(f"{worker_stack.url}/ocr/jobs", params={"status": "processing"}, timeout=30).json()
    assert stuck["items"] == []


@pytest.mark.ocr
def test_demo_runs_end_to_end_and_exits_0(any_worker_stack, engine):
    # the documented command, on a stack of its own (MiniStack: its own state, port and deployment)
    with fresh_database() as database_url:
        proc = subprocess.run(
            [*local_command(engine, free_port(), database_url), "--demo", "--demo-exit"],
            capture_output=True,
            text=True,
            timeout=180 if engine == "embedded" else 600,
            env=stack_env(),
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "SUCCEEDED" in proc.stdout
    for _, _, rows in DEMO_PAGES:
        for sku, name, _, _ in rows:
            assert name in proc.stdout and sku in proc.stdout


@pytest.mark.ocr
def test_demo_on_a_restarted_stack_does_not_upload_the_catalog_again(worker_stack):
    with fresh_database() as database_url:
        command = [*local_command("embedded", free_port(), database_url), "--demo", "--demo-exit"]
        runs = [
            subprocess.run(command, capture_output=True, text=True, timeout=180, env=stack_env())
            for _ in range(2)
        ]
        with psycopg.connect(database_url) as conn:
            media = conn.execute("SELECT count(*) FROM media").fetchone()[0]
            pending = conn.execute(
                "SELECT count(*) FROM product_candidates WHERE status = 'pending'"
            ).fetchone()[0]
    for run in runs:
        assert run.returncode == 0 and "SUCCEEDED" in run.stdout, run.stdout + run.stderr[-4000:]
    assert "was uploaded before" in runs[1].stdout and "upload ticket" not in runs[1].stdout
    assert (media, pending) == (1, sum(len(rows) for _, _, rows in DEMO_PAGES))


def test_demo_refuses_to_run_without_the_worker():
    proc = subprocess.run(
        [
            *angebae_command(),
            "local",
            "--demo",
            "--no-worker",
            "--port",
            str(free_port()),
            "--template",
            str(ROOT / "template.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "--demo needs the OCR worker" in proc.stderr


@pytest.mark.parametrize("function,status", [("health", 200), ("login", 401)])
def test_invoke_runs_a_function_with_an_event_file_and_prints_json(local_stack, function, status):
    # login.json carries a placeholder password: the function answers, with a JSON 401
    proc = subprocess.run(
        [
            *angebae_command(),
            "invoke",
            function,
            "-e",
            str(ROOT / "tests" / "events" / f"{function}.json"),
            "--database-url",
            local_stack.database_url,
            "--template",
            str(ROOT / "template.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert result["statusCode"] == status, result
    body = json.loads(result["body"])
    assert isinstance(body, dict) and (status == 200 or body["error"]["code"])
