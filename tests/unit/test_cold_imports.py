"""Cold start is a product feature: heavy libraries load only where they are used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import ROOT

HEAVY = ("boto3", "botocore", "pymupdf", "fitz", "tesserocr", "pytesseract", "PIL", "numpy")
HTTP_FUNCTIONS = sorted(
    p.parent.name for p in (ROOT / "functions").glob("*/app.py") if p.parent.name != "ocr_worker"
)


def modules_loaded_by(function: str) -> set[str]:
    app_py = str(ROOT / "functions" / function / "app.py")
    probe = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('app', {app_py!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "layers/common/python"),
        "DATABASE_URL": "postgresql://unused",
        "JWT_SECRET": "k" * 40,
        "TOTP_ENCRYPTION_KEY": "t" * 40,
        "MEDIA_BUCKET": "b",
        "OCR_QUEUE_URL": "http://127.0.0.1:1/q",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("function", HTTP_FUNCTIONS)
def test_http_functions_import_neither_boto3_nor_ocr_libraries_at_start(function):
    assert modules_loaded_by(function) == set()


def test_the_worker_loads_ocr_libraries_only_when_a_document_arrives():
    assert not modules_loaded_by("ocr_worker") & {"pymupdf", "fitz", "tesserocr", "pytesseract", "PIL"}
