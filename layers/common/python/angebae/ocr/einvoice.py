"""Embedded e-invoices: the exact line items of a PDF that carries Factur-X / ZUGFeRD / XRechnung XML.

A PDF/A-3 invoice may carry its data as an attached XML file (factur-x.xml, zugferd-invoice.xml,
ZUGFeRD-invoice.xml, xrechnung.xml, order-x.xml, or any *.xml whose root is a known syntax). Its line
items are exact: no layout reading can do better, so they become the candidates (confidence 1.0).

Three syntaxes are read, matching elements by local name so that namespace versions do not matter:
UN/CEFACT CII CrossIndustryInvoice (ZUGFeRD 2.x, Factur-X, XRechnung CII; Order-X shares its line
model), ZUGFeRD 1 CrossIndustryDocument, and OASIS UBL Invoice / CreditNote. drafthorse models
ZUGFeRD 2 / Factur-X only (no ZUGFeRD 1, no UBL) and brings lxml, so this small reader is simpler.

Parsing is defusedxml over the standard library's expat: a DTD, entity declaration or external
reference refuses the file (XXE, billion laughs) before anything is expanded or fetched; e-invoices
never carry a DTD. Everything that goes wrong gives None, and the caller reads the layout instead.

Lines that are not products are left out: line status INFORMATION / GROUP (CII), a negative unit
price (a discount written as a line), and deposit lines ("Pfand", "Leergut", "deposit", ...): none
of the syntaxes marks a deposit, so it is told by its name beginning with a deposit word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

from angebae.formats import exponent
from angebae.ocr.types import Candidate

MAX_XML_BYTES = 10 * 1024 * 1024  # the largest real e-invoices are a few hundred kB
KNOWN_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")
_PRICE_PLACES = Decimal("0.0001")  # product_candidates.price is numeric(14, 4)
_CENTS = Decimal("0.01")
_LIMIT = Decimal(10) ** 12
_NO_BBOX = (0.0, 0.0, 0.0, 0.0)

# A deposit line's name begins with one of these (normalized: lower case, no accents/punctuation);
# German compounds ending in "pfand" (Flaschenpfand, Kastenpfand) count too.
_NOT_BILLED = {"INFORMATION", "GROUP"}  # CII LineStatusReasonCode: only DETAIL lines are billed


@dataclass(frozen=True)
class _Syntax:
    """Where one syntax keeps each field: paths of local names, alternatives joined by '|'."""

    name: str
    currency: str
    type_code: str
    lines: str
    line_id: str
    status: str
    product: str  # the line's product element; the paths below start from it
    item_name: str
    description: str
    sku: str
    buyer_sku: str
    gtin: str  # elements whose text is a GTIN when their schemeID says so
    net_price: str
    net_basis: str
    gross_price: str
    qty: str
    line_total: str


_CII_AGREEMENT = "SpecifiedLineTradeAgreement|SpecifiedSupplyChainTradeAgreement"
_CII = dict(
    line_id="AssociatedDocumentLineDocument/LineID",
    status="AssociatedDocumentLineDocument/LineStatusReasonCode",
    product="SpecifiedTradeProduct",
    item_name="Name",
    description="Description",
    sku="SellerAssignedID",
    buyer_sku="BuyerAssignedID",
    gtin="GlobalID",
    net_price=f"{_CII_AGREEMENT}/NetPriceProductTradePrice/ChargeAmount",
    net_basis=f"{_CII_AGREEMENT}/NetPriceProductTradePrice/BasisQuantity",
    gross_price=f"{_CII_AGREEMENT}/GrossPriceProductTradePrice/ChargeAmount",
    qty="SpecifiedLineTradeDelivery|SpecifiedSupplyChainTradeDelivery/BilledQuantity|RequestedQuantity",
    line_total="SpecifiedLineTradeSettlement|SpecifiedSupplyChainTradeSettlement/"
    "SpecifiedTradeSettlementLineMonetarySummation|SpecifiedTradeSettlementMonetarySummation/"
    "LineTotalAmount",
)
_UBL = dict(
    currency="DocumentCurrencyCode",
    line_id="ID",
    status="",
    product="Item",
    item_name="Name",
    description="Description",
    sku="SellersItemIdentification/ID",
    buyer_sku="BuyersItemIdentification/ID",
    gtin="StandardItemIdentification/ID",
    net_price="Price/PriceAmount",
    net_basis="Price/BaseQuantity",
    gross_price="",
    line_total="LineExtensionAmount",
)

SYNTAXES = {
    "CrossIndustryInvoice": _Syntax(
        "cii",
        currency="SupplyChainTradeTransaction/ApplicableHeaderTradeSettlement/InvoiceCurrencyCode",
        type_code="ExchangedDocument/TypeCode",
        lines="SupplyChainTradeTransaction/IncludedSupplyChainTradeLineItem",
        **_CII,
    ),
    "CrossIndustryDocument": _Syntax(
        "zugferd1",
        currency="SpecifiedSupplyChainTradeTransaction/ApplicableSupplyChainTradeSettlement/"
        "InvoiceCurrencyCode",
        type_code="HeaderExchangedDocument/TypeCode",
        lines="SpecifiedSupplyChainTradeTransaction/IncludedSupplyChainTradeLineItem",
        **_CII,
    ),
    "SCRDMCCBDACIOMessageStructure": _Syntax(  # Order-X
        "order-x",
        currency="SupplyChainTradeTransaction/ApplicableHeaderTradeSettlement/OrderCurrencyCode",
        type_code="ExchangedDocument/TypeCode",
        lines="SupplyChainTradeTransaction/IncludedSupplyChainTradeLineItem",
        **_CII,
    ),
    "Invoice": _Syntax(
        "ubl", type_code="InvoiceTypeCode", lines="InvoiceLine", qty="InvoicedQuantity", **_UBL
    ),
    "CreditNote": _Syntax(
        "ubl", type_code="CreditNoteTypeCode", lines="CreditNoteLine", qty="CreditedQuantity", **_UBL
    ),
}
_UBL_NAMESPACE = "urn:oasis:names:specification:ubl:schema:xsd:"


def read_einvoice(data: bytes) -> list[Candidate] | None:
    """The products of the PDF's embedded e-invoice; None when it carries none that can be read.

    An e-invoice whose lines are all non-products (deposits, discounts) gives an empty list; one with
    no lines at all (Factur-X MINIMUM, BASIC WL) gives None: the layout has more to say.
    """
    if b"%PDF-" not in data[:1024]:
        return None
    import pymupdf

    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception:  # FileDataError, EmptyFileError, RuntimeError from MuPDF
        return None
    try:
        if doc.needs_pass:
            return None
        for name, xml in _xml_attachments(doc):
            candidates = parse_einvoice(xml, filename=name)
            if candidates is not None:
                return candidates
        return None
    finally:
        doc.close()


def parse_einvoice(xml: bytes, *, filename: str | None = None) -> list[Candidate] | None:
    """The products of one e-invoice XML document; None when it is no known syntax or unreadable."""
    root = _parse(xml)
    if root is None:
        return None
    syntax = _syntax_of(root)
    if syntax is None:
        return None
    lines = _all(root, syntax.lines)
    if not lines:
        return None
    currency = _text(root, syntax.currency)
    document = {"source": "xml", "syntax": syntax.name}
    if type_code := _text(root, syntax.type_code):
        document["document_type"] = type_code
    if filename:
        document["file"] = filename
    return [c for line in lines if (c := _candidate(line, syntax, currency, document)) is not None]


# --- the PDF's attachments -------------------------------------------------------------------------


def _xml_attachments(doc):
    """(name, bytes) of each attached XML file: the usual e-invoice names first, then the rest.

    The embedded-files name tree is read first; files only listed as associated files (/AF of the
    catalog), which some writers produce, are read from their file specifications.
    """
    found: dict[str, int | str] = {}  # name -> xref of the embedded stream, or the name-tree name
    try:
        for name in doc.embfile_names():
            found.setdefault(name, name)
    except Exception:
        pass
    for name, xref in _associated_files(doc):
        found.setdefault(name, xref)
    names = sorted(
        (n for n in found if n.lower().endswith(".xml")), key=lambda n: (n.lower() not in KNOWN_NAMES, n)
    )
    for name in names:
        xml = _read_attachment(doc, found[name])
        if xml is not None:
            yield name, xml


def _associated_files(doc) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    try:
        kind, value = doc.xref_get_key(doc.pdf_catalog(), "AF")
        if kind == "xref":  # an indirect array
            kind, value = "array", doc.xref_object(int(value.split()[0]), compressed=True)
        if kind != "array":
            return out
        for spec in re.findall(r"(\d+) 0 R", value):
            spec = int(spec)
            name = doc.xref_get_key(spec, "UF")[1] or doc.xref_get_key(spec, "F")[1]
            kind, stream = doc.xref_get_key(spec, "EF/F")
            if kind != "xref":
                kind, stream = doc.xref_get_key(spec, "EF/UF")
            if kind == "xref" and name:
                out.append((name.strip("()"), int(stream.split()[0])))
    except Exception:  # a damaged catalog: no associated files
        return []
    return out


def _read_attachment(doc, where: int | str) -> bytes | None:
    try:
        if isinstance(where, str):
            size = doc.embfile_info(where).get("size", 0)
            if size is not None and size > MAX_XML_BYTES:
                return None
            xml = doc.embfile_get(where)
        else:
            length = doc.xref_get_key(where, "Params/Size")[1] or doc.xref_get_key(where, "DL")[1]
            if length.isdigit() and int(length) > MAX_XML_BYTES:
                return None
            xml = doc.xref_stream(where)
    except Exception:
        return None
    return xml if xml and len(xml) <= MAX_XML_BYTES else None


# --- the XML ---------------------------------------------------------------------------------------


def _parse(xml: bytes) -> Element | None:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        return fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, TypeError, RecursionError):
        return None


def _local(tag) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _syntax_of(root: Element) -> _Syntax | None:
    name = _local(root.tag)
    syntax = SYNTAXES.get(name)
    if syntax is not None and syntax.name == "ubl" and not root.tag.startswith("{" + _UBL_NAMESPACE):
        return None  # "Invoice" alone is too common a name
    return syntax


def _all(element: Element, path: str) -> list[Element]:
    """The elements at `path` (local names separated by '/', alternatives by '|') under `element`."""
    if not path:
        return []
    current = [element]
    for step in path.split("/"):
        names = set(step.split("|"))
        current = [child for parent in current for child in parent if _local(child.tag) in names]
    return current


def _first(element: Element, path: str) -> Element | None:
    found = _all(element, path)
    return found[0] if found else None


def _text(element: Element | None, path: str) -> str | None:
    found = _first(element, path) if element is not None else None
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def _decimal(element: Element | None) -> Decimal | None:
    text = (element.text or "").strip() if element is not None else ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and abs(value) < _LIMIT else None


def money(value: Decimal) -> Decimal:
    """The precision printed, trailing zeros dropped down to cents: 5.5000 -> 5.50, 3.3333 -> 3.3333."""
    value = value.normalize()
    return value.quantize(_CENTS) if exponent(value) > -2 else value


def quantity(value: Decimal) -> Decimal:
    """20.0000 -> 20, 6.50 -> 6.5."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if exponent(value) > 0 else value


def is_deposit(name: str) -> bool:
    """A deposit line (the vocabularies' `deposits` words): billed, but no product."""
    from angebae.ocr.vocabulary import vocabulary

    return vocabulary().is_deposit(name)


def _gtin(product: Element, syntax: _Syntax) -> str | None:
    for element in _all(product, syntax.gtin):
        code = (element.text or "").strip()
        scheme = element.get("schemeID")
        if code.isdigit() and (scheme in ("0160", "GTIN", "EAN") or (scheme is None and _gs1_valid(code))):
            return code
    return None


def _gs1_valid(code: str) -> bool:
    if len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in code]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


def _unit_price(line: Element, syntax: _Syntax) -> tuple[Decimal | None, dict]:
    """The net unit price (per one unit: the price divided by its basis quantity) and its evidence.

    Some writers (Odoo's UBL) put the billed quantity into the basis although the price is per
    unit: where the price times the quantity is the line total and the divided price is not, the
    arithmetic says the price was per unit already."""
    extra: dict = {}
    gross_element = _first(line, syntax.gross_price)
    price_element = _first(line, syntax.net_price)
    if price_element is None:
        price_element = gross_element
    price = _decimal(price_element)
    gross = _decimal(gross_element)
    if gross is not None:
        extra["gross_price"] = str(money(gross))
    if price is None:
        return None, extra
    basis = _decimal(_first(line, syntax.net_basis))
    qty, total = _decimal(_first(line, syntax.qty)), _decimal(_first(line, syntax.line_total))
    if basis is not None and qty is not None and total is not None and basis == qty and qty != 1:
        if abs(price * qty - total) < abs(price - total):
            basis = None  # per unit after all: 15 x 10,00 = 150,00
    if basis is not None and basis > 0 and basis != 1:
        extra["price_basis_quantity"] = str(quantity(basis))
        extra["basis_price"] = str(money(price))
        price = (price / basis).quantize(_PRICE_PLACES, ROUND_HALF_UP)
    currency = price_element.get("currencyID") if price_element is not None else None
    if currency:
        extra["currency"] = currency.strip()
    return money(price), extra


def _candidate(line: Element, syntax: _Syntax, currency: str | None, document: dict) -> Candidate | None:
    if (_text(line, syntax.status) or "").upper() in _NOT_BILLED:
        return None
    product = _first(line, syntax.product)
    if product is None:
        return None  # a note-only line (ZUGFeRD 1 writes the invoice's opening words as one)
    raw_name = _text(product, syntax.item_name) or ""
    name = " ".join(raw_name.split())
    if not name or is_deposit(name):
        return None
    price, extra = _unit_price(line, syntax)
    if price is not None and price < 0:
        return None  # a discount written as a line
    if not price and not _decimal(_first(line, syntax.line_total)) and not _decimal(_first(line, syntax.qty)):
        return None  # a section heading or a note written as a line: nothing billed, no quantity
    qty_element = _first(line, syntax.qty)
    qty = _decimal(qty_element)
    total = _decimal(_first(line, syntax.line_total))
    attributes = dict(document)
    line_currency = extra.pop("currency", None)
    for key, value in (
        ("line_id", _text(line, syntax.line_id)),
        ("line_total", None if total is None else str(money(total))),
        ("gtin", _gtin(product, syntax)),
        ("unit", qty_element.get("unitCode") if qty_element is not None else None),
        ("description", _text(product, syntax.description)),
        ("buyer_sku", _text(product, syntax.buyer_sku)),
    ):
        if value:
            attributes[key] = value
    attributes.update(extra)
    raw = " | ".join(
        p
        for p in (
            raw_name.strip(),
            price is not None and f"{price} {currency or ''}".strip(),
            qty is not None and f"x {quantity(qty)}",
        )
        if p
    )
    return Candidate(
        name=name,
        price=price,
        currency=currency or line_currency,
        sku=_text(product, syntax.sku),
        qty=None if qty is None else quantity(qty),
        page=1,
        bbox=_NO_BBOX,
        confidence=1.0,
        raw=raw,
        attributes=attributes,
    )
