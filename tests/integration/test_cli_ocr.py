"""`angebae ocr FILE`: the pipeline on a local file, JSON only on stdout with --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pymupdf

ANGEBAE = [sys.executable, "-m", "angebae_local.cli"]


def _price_list(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    rows = [("Code", "Description", "Unit price"), ("AB-100", "Steel hammer 500 g", "$12.50"),
            ("AB-200", "Claw pliers", "$8.99")]
    for i, (code, name, price) in enumerate(rows):
        y = 100 + 20 * i
        page.insert_text((60, y), code)
        page.insert_text((150, y), name)
        page.insert_text((420, y), price)
    doc.save(path)
    return path


def test_json_output_is_the_pages_and_candidates_and_nothing_else(tmp_path):
    pdf = _price_list(tmp_path / "price-list.pdf")
    out = subprocess.run([*ANGEBAE, "ocr", str(pdf), "--json"], capture_output=True, text=True,
                         timeout=120, check=True)
    result = json.loads(out.stdout)
    assert result["pages"] == 1
    assert [(c["name"], c["price"], c["currency"], c["sku"]) for c in result["candidates"]] == [
        ("Steel hammer 500 g", "12.50", "USD", "AB-100"), ("Claw pliers", "8.99", "USD", "AB-200")]
    assert set(result["candidates"][0]) == {"name", "price", "currency", "sku", "qty", "page", "confidence"}


def test_a_bad_file_ends_with_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n")
    out = subprocess.run([*ANGEBAE, "ocr", str(bad), "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
