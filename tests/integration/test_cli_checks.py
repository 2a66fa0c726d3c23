"""The commands check what they are given before working (issue 11's review): `angebae ocr` refuses a
language that is not installed even for a PDF that needs no OCR, says "not a file" for a directory,
and writes boxes to 2 decimals as the API does; `python -m angebae.openapi --help` is help; the demo
on a restarted stack says its job was already there instead of timing it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest
from angebae_local.demo import DemoResult, format_summary

ANGEBAE = [sys.executable, "-m", "angebae_local.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ANGEBAE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def text_pdf(tmp_path) -> Path:
    """A text-layer price list (no OCR needed) with rows at fractional positions."""
    doc = pymupdf.open()
    page = doc.new_page()
    for i, (code, name, price) in enumerate(
        [("AB-100", "Steel hammer 500 g", "$12.50"), ("AB-200", "Claw pliers", "$8.99")]
    ):
        y = 100.37 + 19.93 * i
        page.insert_text((60.11, y), code)
        page.insert_text((150.07, y), name)
        page.insert_text((420.33, y), price)
    path = tmp_path / "price-list.pdf"
    doc.save(path)
    return path


@pytest.mark.parametrize(
    "lang,says",
    [
        ("klingon", "Language(s) not installed: klingon"),
        ("spa+", "languages must look like 'spa' or 'spa+eng'"),
    ],
)
def test_a_language_that_cannot_be_read_is_refused_before_reading_a_text_pdf(text_pdf, lang, says):
    out = run("ocr", "--lang", lang, str(text_pdf))
    assert out.returncode == 1 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"angebae ocr: --lang {lang}: "), lines
    assert says in out.stderr and "Traceback" not in out.stderr
    assert "available: " in out.stderr or lang == "spa+"


def test_a_directory_is_not_a_file_and_a_missing_path_is_no_such_file(tmp_path):
    directory, missing = run("ocr", str(tmp_path)), run("ocr", str(tmp_path / "nothing.pdf"))
    assert (directory.returncode, directory.stderr.strip()) == (
        1,
        f"angebae ocr: not a file: {tmp_path} is a directory",
    )
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        f"angebae ocr: no such file: {tmp_path}/nothing.pdf",
    )


def test_json_boxes_have_at_most_two_decimals_as_the_api_gives_them(text_pdf):
    out = run("ocr", str(text_pdf), "--json")
    assert out.returncode == 0, out.stderr
    boxes = [c["bbox"] for c in json.loads(out.stdout)["candidates"]]
    assert len(boxes) == 2
    for box in boxes:
        assert len(box) == 4 and all(v == round(v, 2) for v in box), box
    assert all(len(str(v).partition(".")[2]) <= 2 for box in boxes for v in box)


def test_openapi_help_is_help_not_a_description():
    out = subprocess.run(
        [sys.executable, "-m", "angebae.openapi", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    assert out.stdout.startswith("usage: python -m angebae.openapi [-h] [--local] [ROOT]")
    assert '"openapi"' not in out.stdout and "--local" in out.stdout


JOB = {
    "id": "5e0c7a9e-0000-4000-8000-000000000001",
    "status": "succeeded",
    "error": None,
    "progress": {"pages_total": 2, "pages_done": 2},
    "timings": {"run_seconds": 0.4},
}


def test_the_demo_summary_times_a_new_upload_and_not_a_job_that_was_already_there():
    fresh = format_summary(DemoResult(JOB, [], 3.25))
    again = format_summary(DemoResult(JOB, [], 0.6, already_there=True))
    assert "3.2 s from upload request to result" in fresh or "3.3 s from upload request to result" in fresh
    assert "the demo's job was already there (not uploaded again)" in again
    assert "from upload request" not in again


def test_invoke_keeps_its_keys_in_the_state_dir_given(database_url, tmp_path):
    root = Path(__file__).resolve().parents[2]
    out = run(
        "invoke",
        "health",
        "-e",
        str(root / "tests" / "events" / "health.json"),
        "--database-url",
        database_url,
        "--state-dir",
        str(tmp_path / "state"),
        "--template",
        str(root / "template.yaml"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["statusCode"] == 200
    assert (tmp_path / "state" / "jwt_secret").is_file()
