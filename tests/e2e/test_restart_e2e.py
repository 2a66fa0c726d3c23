"""`angebae local` stopped and started again on the same state dir keeps every uploaded file, as it
keeps the database: the object downloads byte for byte and its job re-runs (issue 11, media)."""

from __future__ import annotations

import shutil
import tempfile

import pytest
import requests
from angebae_local.demo import demo_document
from e2e_support import fresh_database, login, start_stack, stop_stack, upload, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.ocr]


def finished(stack, s: requests.Session, job_id: str) -> dict:
    def poll():
        job = s.get(f"{stack.url}/ocr/jobs/{job_id}", timeout=30).json()
        return job if job["status"] in ("succeeded", "failed") else None

    job = wait_until(poll, 120)
    assert job is not None, stack.log_tail()
    return job


def test_a_restart_keeps_every_uploaded_file_and_its_job_reruns():
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    state = tempfile.mkdtemp(prefix="angebae-restart-")
    pdf = demo_document()
    with fresh_database() as database_url:
        stack = start_stack(database_url, worker=True, extra_args=("--state-dir", state))
        try:
            s = login(stack.url)
            media_id = upload(stack.url, s, "catalogo.pdf", pdf, "application/pdf")
            jobs = wait_until(
                lambda: s.get(f"{stack.url}/ocr/jobs", params={"media_id": media_id}, timeout=30).json()[
                    "items"
                ],
                60,
            )
            assert jobs, stack.log_tail()
            assert finished(stack, s, jobs[0]["id"])["status"] == "succeeded"
        finally:
            stop_stack(stack)

        stack = start_stack(database_url, worker=True, extra_args=("--state-dir", state))
        try:
            s = login(stack.url)
            media = s.get(f"{stack.url}/media/{media_id}", timeout=30).json()
            assert media["download_url"], media
            got = requests.get(media["download_url"], timeout=30)
            assert got.status_code == 200, got.text
            assert got.content == pdf
            rerun = s.post(f"{stack.url}/ocr/jobs", json={"media_id": media_id}, timeout=30)
            assert rerun.status_code == 202, rerun.text
            job = finished(stack, s, rerun.json()["id"])
            assert job["status"] == "succeeded", (job, stack.log_tail())
        finally:
            stop_stack(stack)
            shutil.rmtree(state, ignore_errors=True)
