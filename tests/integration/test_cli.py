"""The `angebae` command: ocr, seed-admin, endpoint resolution, start-up checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pymupdf

ANGEBAE = [sys.executable, "-m", "angebae_local.cli"]


def _price_list(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    rows = [
        ("Code", "Description", "Unit price"),
        ("AB-100", "Steel hammer 500 g", "$12.50"),
        ("AB-200", "Claw pliers", "$8.99"),
    ]
    for i, (code, name, price) in enumerate(rows):
        y = 100 + 20 * i
        page.insert_text((60, y), code)
        page.insert_text((150, y), name)
        page.insert_text((420, y), price)
    doc.save(path)
    return path


def test_json_output_is_the_pages_the_source_the_warnings_and_the_candidates_and_nothing_else(tmp_path):
    pdf = _price_list(tmp_path / "price-list.pdf")
    out = subprocess.run(
        [*ANGEBAE, "ocr", str(pdf), "--json"], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(out.stdout)
    assert set(result) == {"pages", "source", "warnings", "candidates"}
    assert (result["pages"], result["source"], result["warnings"]) == (1, "layout", [])
    assert [(c["name"], c["price"], c["currency"], c["sku"]) for c in result["candidates"]] == [
        ("Steel hammer 500 g", "12.50", "USD", "AB-100"),
        ("Claw pliers", "8.99", "USD", "AB-200"),
    ]
    assert set(result["candidates"][0]) == {
        "name",
        "price",
        "currency",
        "sku",
        "qty",
        "page",
        "bbox",
        "confidence",
    }
    x0, y0, x1, y1 = result["candidates"][0]["bbox"]  # points from the top-left: the row's baseline is 120
    assert 0 <= x0 < x1 <= 612 and y0 < 120 < y1 + 3


def test_json_output_prints_quantities_and_prices_as_plain_decimals(tmp_path):
    import fitz

    path = tmp_path / "quantities.pdf"
    doc = fitz.open()
    page = doc.new_page()
    rows = [
        ("Qty", "Item", "Unit", "Total"),
        ("10", "Steel hammer", "2.00", "20.00"),
        ("100", "Nails box", "1.00", "100.00"),
    ]
    for i, cells in enumerate(rows):
        for x, cell in zip((60, 120, 400, 480), cells, strict=True):
            page.insert_text((x, 100 + 20 * i), cell)
    doc.save(path)
    out = subprocess.run(
        [*ANGEBAE, "ocr", str(path), "--json"], capture_output=True, text=True, timeout=120, check=True
    )
    candidates = json.loads(out.stdout)["candidates"]
    assert [(c["name"], c["qty"], c["price"]) for c in candidates] == [
        ("Steel hammer", "10", "2.00"),
        ("Nails box", "100", "1.00"),
    ]


def test_a_pdf_carrying_an_e_invoice_prints_the_xml_items_with_source_xml(tmp_path):
    # GIVEN a PDF with an embedded Factur-X XML
    from einvoice_support import EXPECTED, cii_xml, pdf_with_attachments

    pdf = tmp_path / "rechnung.pdf"
    pdf.write_bytes(pdf_with_attachments({"factur-x.xml": cii_xml()}))
    # WHEN `angebae ocr --json` reads it
    out = subprocess.run(
        [*ANGEBAE, "ocr", str(pdf), "--json"], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(out.stdout)
    # THEN the candidates are the XML's line items
    assert (result["pages"], result["source"]) == (1, "xml")
    assert [
        (c["name"], c["price"], c["currency"], c["sku"], c["qty"]) for c in result["candidates"]
    ] == EXPECTED


def test_a_page_printing_prices_but_no_product_is_a_warning_in_the_json_and_the_text(tmp_path):
    # GIVEN a two-page PDF: a price list, then a page printing only a total
    from ocr_support import totals_only_pdf

    pdf = tmp_path / "with-total.pdf"
    pdf.write_bytes(totals_only_pdf(after=_price_list(tmp_path / "list.pdf").read_bytes()))
    # WHEN `angebae ocr` reads it, as JSON and as text
    result = json.loads(
        subprocess.run(
            [*ANGEBAE, "ocr", str(pdf), "--json"], capture_output=True, text=True, timeout=120, check=True
        ).stdout
    )
    text = subprocess.run(
        [*ANGEBAE, "ocr", str(pdf)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    # THEN the candidates come from page 1 and page 2 is named in a warning
    assert {c["page"] for c in result["candidates"]} == {1}
    assert result["warnings"] == [
        {
            "page": 2,
            "code": "prices_without_candidates",
            "message": "page 2 prints 1 price but no product was read from it",
        }
    ]
    assert "warning: page 2 prints 1 price" in text


def test_a_bad_file_ends_with_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n")
    out = subprocess.run([*ANGEBAE, "ocr", str(bad), "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_aws_endpoint_localstack_resolves_like_the_localstack_tooling(monkeypatch):
    from angebae_local.cli import aws_endpoint

    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:4999")
    assert aws_endpoint("localstack") == "http://127.0.0.1:4999"
    assert aws_endpoint("http://example.test:4566") == "http://example.test:4566"


def _angebae(*args, env_extra=None, stdin=None, path=None):
    env = {**os.environ, **(env_extra or {})}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [*ANGEBAE, *args], capture_output=True, text=True, timeout=120, input=stdin, env=env
    )


def test_seed_admin_creates_then_updates_and_is_idempotent(database_url, db):
    first = _angebae(
        "seed-admin",
        "--database-url",
        database_url,
        "--email",
        "Boss@Example.com",
        "--password",
        "a long and fine password",
    )
    again = _angebae(
        "seed-admin",
        "--database-url",
        database_url,
        env_extra={
            "ANGEBAE_ADMIN_EMAIL": "boss@example.com",
            "ANGEBAE_ADMIN_PASSWORD": "another long fine password",
        },
    )
    assert first.returncode == 0 and "created" in first.stdout
    assert again.returncode == 0 and "already existed" in again.stdout
    assert db.execute("SELECT count(*) AS n FROM admin_users").fetchone()["n"] == 1


def test_seed_admin_asks_for_what_is_missing(database_url, db):
    out = _angebae(
        "seed-admin",
        "--database-url",
        database_url,
        stdin="asked@example.com\nthe typed password 123\nthe typed password 123\n",
    )
    assert out.returncode == 0, out.stderr
    assert db.execute("SELECT email FROM admin_users").fetchone()["email"] == "asked@example.com"


def test_seed_admin_refuses_a_weak_password_in_one_line(database_url, db):
    out = _angebae(
        "seed-admin", "--database-url", database_url, "--email", "a@example.com", "--password", "short"
    )
    assert out.returncode == 1 and "at least 12 characters" in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.startswith("angebae seed-admin: The password")  # one prefix, not "seed_admin: " too
    assert db.execute("SELECT count(*) AS n FROM admin_users").fetchone()["n"] == 0


def test_seed_admin_with_an_unknown_role_names_the_roles_and_never_the_hash(database_url, db):
    out = _angebae(
        "seed-admin",
        "--database-url",
        database_url,
        "--email",
        "o@example.com",
        "--password",
        "a long and fine password",
        "--role",
        "owner",
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("angebae seed-admin: ") and len(out.stderr.strip().splitlines()) == 1
    assert all(role in out.stderr for role in ("viewer", "editor", "admin", "'owner'")), out.stderr
    assert "$2b$" not in out.stderr + out.stdout  # a bcrypt hash
    assert db.execute("SELECT count(*) AS n FROM admin_users").fetchone()["n"] == 0


def test_seed_admin_with_no_terminal_and_nothing_typed_exits_2_saying_what_is_missing(database_url, db):
    no_email = _angebae("seed-admin", "--database-url", database_url, stdin="")
    no_password = _angebae("seed-admin", "--database-url", database_url, "--email", "x@example.com", stdin="")
    for out, missing in ((no_email, "email"), (no_password, "password")):
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and "EOFError" not in out.stderr
        assert out.stderr.startswith("angebae seed-admin: ") and missing in out.stderr, out.stderr
    assert db.execute("SELECT count(*) AS n FROM admin_users").fetchone()["n"] == 0


def test_migrate_applies_then_reports_up_to_date(database_url):
    out = _angebae("migrate", "--database-url", database_url)
    assert out.returncode == 0 and "up to date" in out.stdout


def test_local_without_tesseract_says_so_in_one_line(tmp_path):
    out = _angebae("local", "--port", "0", path=str(tmp_path))  # a PATH with no tesseract on it
    assert out.returncode == 1
    assert "tesseract not found" in out.stderr and "Traceback" not in out.stderr


def test_json_candidates_never_print_an_exponent():
    from decimal import Decimal

    from angebae_local.cli import _ocr_json

    ten = str(Decimal("10.00").normalize())  # how a normalised quantity prints: "1E+1"
    assert ten == "1E+1"
    price = str(Decimal("100.00").normalize())
    out = _ocr_json({"name": "x", "price": price, "qty": ten, "bbox": [1, 2, 3, 4]})
    assert (out["qty"], out["price"], out["bbox"]) == ("10", "100.00", [1, 2, 3, 4])


def test_ocr_help_documents_the_file_and_the_languages():
    out = _angebae("ocr", "--help")
    assert out.returncode == 0
    help_text = " ".join(out.stdout.split())
    assert "angebae ocr [-h] [--lang LANGS] [--json] FILE" in help_text
    assert "FILE a PDF, PNG, JPEG, TIFF or WebP file" in help_text
    assert "--lang LANGS Tesseract languages joined with '+'" in help_text
    assert "(default: spa+eng)" in help_text


def test_version_prints_the_installed_package_version():
    from importlib.metadata import version

    out = _angebae("--version")
    assert (out.returncode, out.stdout.strip()) == (0, f"angebae {version('angebae-functions')}")
    assert out.stdout.strip() != "angebae (not installed)"


def test_seed_admin_checks_the_email_as_post_admin_users_does(database_url, db):
    # GIVEN an address POST /admin/users refuses (a space in it), which a bare "@" check let through
    out = _angebae(
        "seed-admin",
        "--database-url",
        database_url,
        "--email",
        "boss man@example.com",
        "--password",
        "a long and fine password",
    )
    # THEN seed-admin refuses it too, in one line, and nobody is created
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("angebae seed-admin: The email 'boss man@example.com' is not valid")
    assert db.execute("SELECT count(*) AS n FROM admin_users").fetchone()["n"] == 0
