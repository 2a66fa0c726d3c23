"""Job-finished events end to end: `angebae local --demo --demo-exit --events-url URL` uploads its
catalog over HTTP, the worker reads it in its own process, and the job's ocr.job.succeeded event
arrives on a real HTTP server on 127.0.0.1 with the candidates the database holds."""

from __future__ import annotations

import shutil
import subprocess

import psycopg
import pytest
from angebae.formats import rfc3339
from angebae_local.demo import DEMO_PAGES
from e2e_support import free_port, fresh_database, local_command, stack_env
from job_events_support import Webhook


@pytest.mark.ocr
def test_the_demos_job_posts_its_succeeded_event_to_the_events_url():
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed: the stack runs without its OCR worker")
    with Webhook() as webhook, fresh_database() as database_url:
        proc = subprocess.run(
            [
                *local_command("embedded", free_port(), database_url),
                "--demo",
                "--demo-exit",
                "--events-url",
                webhook.url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env=stack_env(),
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
        with psycopg.connect(database_url) as conn:
            job_id, media_id, finished = conn.execute(
                "SELECT id::text, media_id::text, finished_at FROM ocr_jobs"
            ).fetchone()
            candidates = conn.execute("SELECT count(*) FROM product_candidates").fetchone()[0]
    [event] = webhook.events
    assert candidates == sum(len(rows) for _, _, rows in DEMO_PAGES)
    assert event == {
        "type": "ocr.job.succeeded",
        "job_id": job_id,
        "media_id": media_id,
        "status": "succeeded",
        "error": None,
        "candidates": candidates,
        "finished_at": rfc3339(finished),
    }
    assert '"job event"' in proc.stderr  # the worker's structured line, in the stack's output
