"""Embedded e-invoices (angebae.ocr.einvoice): exact line items from CII, ZUGFeRD 1 and UBL XML in a PDF."""

from __future__ import annotations

import json
from decimal import Decimal

import fixtures_docs as docs
import pytest
from angebae.ocr.einvoice import is_deposit, money, parse_einvoice, read_einvoice
from angebae.ocr.pipeline import run_document
from angebae.ocr.scoring import score
from einvoice_support import (
    BILLION_LAUGHS_XML,
    EXPECTED,
    LINES,
    XXE_XML,
    cii_xml,
    pdf_with_associated_file,
    pdf_with_attachments,
    ubl_xml,
    zugferd1_xml,
)

SAMPLES = docs.SAMPLES / "einvoice-xml"


def summary(candidates) -> list[tuple]:
    return [(c.name, str(c.price), c.currency, c.sku, str(c.qty)) for c in candidates]


@pytest.mark.parametrize(
    ("filename", "xml", "syntax"),
    [
        ("factur-x.xml", cii_xml(), "cii"),
        ("zugferd-invoice.xml", cii_xml(), "cii"),
        ("xrechnung.xml", cii_xml(), "cii"),
        ("ZUGFeRD-invoice.xml", zugferd1_xml(), "zugferd1"),
        ("invoice.xml", ubl_xml(), "ubl"),
        ("gutschrift.xml", ubl_xml(credit_note=True), "ubl"),
    ],
)
def test_each_syntax_in_a_pdf_gives_its_product_lines_exactly(filename, xml, syntax):
    # GIVEN a PDF carrying an e-invoice of three products and a deposit line
    data = pdf_with_attachments({filename: xml})
    # WHEN it is read
    candidates = read_einvoice(data)
    # THEN the products come out with the unit price per one unit, Decimal, and no deposit line
    assert summary(candidates) == EXPECTED
    assert all(isinstance(c.price, Decimal) and c.confidence == 1.0 for c in candidates)
    assert {c.attributes["source"] for c in candidates} == {"xml"}
    assert {c.attributes["syntax"] for c in candidates} == {syntax}


def test_the_attributes_carry_line_total_gtin_unit_and_the_basis_of_the_price():
    # GIVEN a CII line priced per 12 units
    [kunstrasen, steak, water] = read_einvoice(pdf_with_attachments({"factur-x.xml": cii_xml()}))
    # THEN its attributes keep what the XML says, as strings
    assert water.attributes | {} == {
        "source": "xml",
        "syntax": "cii",
        "document_type": "380",
        "file": "factur-x.xml",
        "line_id": "3",
        "line_total": "131.76",
        "gtin": "4000001234561",
        "unit": "C62",
        "price_basis_quantity": "12",
        "basis_price": "65.88",
    }
    assert kunstrasen.attributes["gtin"] == "4012345001235" and "gtin" not in steak.attributes
    json.dumps([c.to_json() for c in (kunstrasen, steak, water)])  # stored as jsonb


@pytest.mark.parametrize(
    ("printed", "kept"),
    [("5.5000", "5.50"), ("3.3333", "3.3333"), ("100", "100.00"), ("0.0000", "0.00"), ("12.3450", "12.345")],
)
def test_money_keeps_the_printed_precision_with_at_least_two_places(printed, kept):
    assert str(money(Decimal(printed))) == kept


@pytest.mark.parametrize(
    "name",
    [
        "Pfand",
        "PFAND 0,25 €",
        "Flaschenpfand",
        "Leergut Kasten",
        "Deposit",
        "Bottle deposit 6 x 0.25",
        "Consigne bouteille",
        "Statiegeld krat",
    ],
)
def test_a_line_named_as_a_deposit_is_no_product(name):
    assert is_deposit(name)


@pytest.mark.parametrize(
    "name", ["Mineralwasser mit Pfand", "Pfandflaschen-Reiniger", "Schweinesteak", "Depot-Regal"]
)
def test_a_product_mentioning_a_deposit_later_in_its_name_stays_a_product(name):
    assert not is_deposit(name)


def test_a_discount_line_and_an_information_line_are_no_products():
    # GIVEN a CII invoice with a negative-price line and an INFORMATION line
    information = """<ram:IncludedSupplyChainTradeLineItem xmlns:ram="urn:x:ram:100">
      <ram:AssociatedDocumentLineDocument><ram:LineID>9</ram:LineID>
        <ram:LineStatusReasonCode>INFORMATION</ram:LineStatusReasonCode></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct><ram:Name>Hinweis: Lieferung in 2 Teilen</ram:Name>
      </ram:SpecifiedTradeProduct>
    </ram:IncludedSupplyChainTradeLineItem>"""
    lines = [*LINES[:1], ("Treuerabatt", "-1.00", None, "1", "C62", "R1", None, "-1.00")]
    # WHEN it is parsed
    candidates = parse_einvoice(cii_xml(lines, extra_line=information))
    # THEN only the product remains
    assert [c.name for c in candidates] == ["Kunstrasen grün 3m breit"]


def test_an_invoice_of_deposits_only_gives_no_candidates_but_one_without_lines_gives_none():
    assert parse_einvoice(cii_xml([LINES[3]])) == []
    assert parse_einvoice(cii_xml([])) is None  # Factur-X MINIMUM: let the layout speak


def test_the_namespace_version_does_not_matter():
    # GIVEN a CII document in another (future) namespace version
    xml = cii_xml().replace(b":100", b":128")
    # THEN it reads the same
    assert summary(parse_einvoice(xml)) == EXPECTED


def test_an_xml_attached_only_as_an_associated_file_is_found():
    data = pdf_with_associated_file("factur-x.xml", cii_xml())
    assert summary(read_einvoice(data)) == EXPECTED


def test_an_unknown_xml_name_is_read_when_its_root_is_an_invoice_and_ignored_otherwise():
    assert summary(read_einvoice(pdf_with_attachments({"RE-2024-17.xml": ubl_xml()}))) == EXPECTED
    other = b'<?xml version="1.0"?><Invoice xmlns="urn:example:not-ubl"><Line>1</Line></Invoice>'
    assert read_einvoice(pdf_with_attachments({"data.xml": other, "notes.txt": b"hello"})) is None


@pytest.mark.parametrize(
    "data", [b"", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n" + b"0" * 64, b"not a document at all"]
)
def test_what_is_not_a_readable_pdf_gives_none(data):
    assert read_einvoice(data) is None


def test_a_pdf_without_attachments_gives_none():
    assert read_einvoice(pdf_with_attachments({})) is None


@pytest.mark.parametrize("xml", [XXE_XML, BILLION_LAUGHS_XML], ids=["xxe", "billion-laughs"])
def test_an_xml_with_a_dtd_is_refused_without_expanding_or_fetching_anything(xml, monkeypatch):
    # GIVEN an e-invoice that declares entities (a local file; a billion laughs)
    import builtins

    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    # WHEN it is read from a PDF
    result = read_einvoice(pdf_with_attachments({"factur-x.xml": xml}))
    # THEN it is refused as a whole: no candidates, no file opened
    assert result is None
    assert not [a for a in opened if "passwd" in str(a)]


def test_a_garbage_xml_next_to_a_good_one_does_not_hide_it():
    data = pdf_with_attachments({"factur-x.xml": b"<rsm:Cross<<garbage", "xrechnung.xml": cii_xml()})
    assert summary(read_einvoice(data)) == EXPECTED


def test_run_document_takes_the_candidates_from_the_xml_and_still_reads_the_pages():
    # GIVEN a PDF whose visible page says something else than the XML
    data = pdf_with_attachments({"factur-x.xml": cii_xml()}, text="Rechnung  Artikel  Preis")
    # WHEN it is run
    result = run_document(data, declared_type="application/pdf")
    # THEN the candidates are the XML's, the page was read, and the source says so
    assert result["source"] == "xml" and result["pages"] == 1
    assert [(c["name"], c["price"]) for c in result["candidates"]] == [(n, p) for n, p, *_ in EXPECTED]


def test_run_document_falls_back_to_the_layout_when_the_embedded_xml_is_garbage():
    # GIVEN a price list PDF with a broken factur-x.xml
    import pymupdf
    from ocr_support import ROWS, price_list_pdf

    doc = pymupdf.open(stream=price_list_pdf(), filetype="pdf")
    doc.embfile_add("factur-x.xml", b"\x00\xff not xml <<<", filename="factur-x.xml")
    data = doc.tobytes()
    # WHEN it is run
    result = run_document(data, declared_type="application/pdf")
    # THEN the layout reader gives the candidates
    assert result["source"] == "layout"
    assert len(result["candidates"]) == len(ROWS)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"no {SAMPLES}: {docs.SAMPLES_MISSING}")
def test_every_shared_e_invoice_sample_scores_f1_one():
    # GIVEN the shared ZUGFeRD / Factur-X / XRechnung samples with their truth
    scores = {}
    for pdf in sorted(SAMPLES.glob("*.pdf")):
        truth = json.loads(pdf.with_suffix(".json").read_text())
        candidates = read_einvoice(pdf.read_bytes()) or []
        scores[pdf.stem] = score([c.to_json() for c in candidates], truth["items"])["f1"]
    # THEN each one is read exactly
    assert scores and {name: f1 for name, f1 in scores.items() if f1 < 1.0} == {}


def test_an_odoo_style_ubl_with_the_quantity_as_price_basis_and_section_lines():
    # GIVEN a UBL whose writer put the billed quantity into BaseQuantity although the price is per
    # unit (15 x 10.00 = 150.00), and a section heading written as a line with nothing billed
    lines = [
        ("--- Food Products ---", "0.00", None, "0", "C62", "", None, "0.00"),
        ("Luxury Truffles", "10.00", "15", "15", "GRM", "LUX_TRF", None, "150.00"),
    ]
    xml = ubl_xml(lines).replace(b'<cbc:InvoicedQuantity unitCode="C62">0</cbc:InvoicedQuantity>', b"")
    # WHEN it is parsed
    found = parse_einvoice(xml)
    # THEN the arithmetic decides the price is per unit, and the heading is no product
    assert [(c.name, c.price, c.qty) for c in found] == [("Luxury Truffles", Decimal("10.00"), Decimal(15))]


def test_an_einvoices_items_point_at_the_rows_the_page_prints_them_on():
    # GIVEN a Factur-X whose page prints two of its three items as a table (the third not at all)
    import pymupdf

    doc = pymupdf.open(stream=pdf_with_attachments({"factur-x.xml": cii_xml()}), filetype="pdf")
    page = doc[0]
    page.insert_text((50, 100), "Artikel", fontsize=10)
    page.insert_text((420, 100), "Preis", fontsize=10)
    page.insert_text((50, 300), "Kunstrasen grün 3m breit", fontsize=10)
    page.insert_text((420, 300), "3,3333", fontsize=10)
    page.insert_text((50, 316), "Schweinesteak", fontsize=10)
    page.insert_text((420, 316), "5,50", fontsize=10)
    # WHEN it is read as the worker reads it
    result = run_document(doc.tobytes())
    # THEN the XML is the source, and each item the page shows has that row's box on its page
    assert result["source"] == "xml"
    boxes = {c["name"]: (c["page"], c["bbox"]) for c in result["candidates"]}
    page_of_kunstrasen, (x0, y0, x1, y1) = boxes["Kunstrasen grün 3m breit"]
    assert page_of_kunstrasen == 1 and x0 < 60 and x1 > 440 and y0 < 300 < y1  # the whole row
    assert boxes["Schweinesteak"][1][1] < 316 < boxes["Schweinesteak"][1][3]
    assert list(boxes["Mineralwasser 12 x 1,0l"][1]) == [0.0, 0.0, 0.0, 0.0]
