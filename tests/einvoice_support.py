"""Small e-invoices made here: CII (ZUGFeRD 2 / Factur-X), ZUGFeRD 1 and UBL XML, and PDFs carrying them.

Each line is (name, net price, basis quantity or None, quantity, unit, seller id, GTIN, line total).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

LINES = [
    ("Kunstrasen grün 3m breit", "3.3333", None, "3.0000", "MTK", "KR3M", "4012345001235", "10.00"),
    ("Schweinesteak", "5.5000", "1.0000", "5.0000", "KGM", "SFK5", None, "27.50"),
    ("Mineralwasser 12 x 1,0l", "65.88", "12", "24", "C62", "GTRWA5", "4000001234561", "131.76"),
    ("Pfand", "2.7700", None, "20.0000", "C62", "PFA5", "4000001234578", "55.40"),
]
# What read_einvoice must give for LINES: the deposit line is no product; 65.88 per 12 is 5.49 each.
EXPECTED = [
    ("Kunstrasen grün 3m breit", "3.3333", "EUR", "KR3M", "3"),
    ("Schweinesteak", "5.50", "EUR", "SFK5", "5"),
    ("Mineralwasser 12 x 1,0l", "5.49", "EUR", "GTRWA5", "24"),
]

_CII_NS = (
    'xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" '
    'xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"'
)
_ZF1_NS = (
    'xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0" '
    'xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"'
)


def _basis(basis: str | None, unit: str) -> str:
    return f'<ram:BasisQuantity unitCode="{unit}">{basis}</ram:BasisQuantity>' if basis else ""


def _gtin(gtin: str | None, tag: str) -> str:
    return f'<{tag} schemeID="0160">{gtin}</{tag}>' if gtin else ""


def cii_xml(lines=LINES, currency: str = "EUR", extra_line: str = "") -> bytes:
    items = "".join(
        f"""
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>{i}</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct>{_gtin(gtin, "ram:GlobalID")}
        <ram:SellerAssignedID>{sku}</ram:SellerAssignedID><ram:Name>{escape(name)}</ram:Name>
      </ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>{price}</ram:ChargeAmount>{_basis(basis, unit)}
        </ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery>
        <ram:BilledQuantity unitCode="{unit}">{qty}</ram:BilledQuantity>
      </ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement><ram:SpecifiedTradeSettlementLineMonetarySummation>
        <ram:LineTotalAmount>{total}</ram:LineTotalAmount>
      </ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>"""
        for i, (name, price, basis, qty, unit, sku, gtin, total) in enumerate(lines, 1)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice {_CII_NS}>
  <rsm:ExchangedDocument><ram:ID>471102</ram:ID><ram:TypeCode>380</ram:TypeCode></rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>{items}{extra_line}
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>{currency}</ram:InvoiceCurrencyCode>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>""".encode()


def zugferd1_xml(lines=LINES, currency: str = "EUR") -> bytes:
    items = "".join(
        f"""
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>{i}</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedSupplyChainTradeAgreement>
        <ram:GrossPriceProductTradePrice><ram:ChargeAmount currencyID="{currency}">{price}</ram:ChargeAmount>
        </ram:GrossPriceProductTradePrice>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount currencyID="{currency}">{price}</ram:ChargeAmount>
          {_basis(basis, unit)}</ram:NetPriceProductTradePrice>
      </ram:SpecifiedSupplyChainTradeAgreement>
      <ram:SpecifiedSupplyChainTradeDelivery>
        <ram:BilledQuantity unitCode="{unit}">{qty}</ram:BilledQuantity>
      </ram:SpecifiedSupplyChainTradeDelivery>
      <ram:SpecifiedSupplyChainTradeSettlement><ram:SpecifiedTradeSettlementMonetarySummation>
        <ram:LineTotalAmount currencyID="{currency}">{total}</ram:LineTotalAmount>
      </ram:SpecifiedTradeSettlementMonetarySummation></ram:SpecifiedSupplyChainTradeSettlement>
      <ram:SpecifiedTradeProduct>{_gtin(gtin, "ram:GlobalID")}
        <ram:SellerAssignedID>{sku}</ram:SellerAssignedID><ram:Name>{escape(name)}</ram:Name>
      </ram:SpecifiedTradeProduct>
    </ram:IncludedSupplyChainTradeLineItem>"""
        for i, (name, price, basis, qty, unit, sku, gtin, total) in enumerate(lines, 1)
    )
    note_line = """
    <ram:IncludedSupplyChainTradeLineItem><ram:AssociatedDocumentLineDocument>
      <ram:IncludedNote><ram:Content>Wir erlauben uns, folgende Positionen zu berechnen:</ram:Content>
      </ram:IncludedNote></ram:AssociatedDocumentLineDocument>
    </ram:IncludedSupplyChainTradeLineItem>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryDocument {_ZF1_NS}>
  <rsm:HeaderExchangedDocument><ram:TypeCode>380</ram:TypeCode></rsm:HeaderExchangedDocument>
  <rsm:SpecifiedSupplyChainTradeTransaction>
    <ram:ApplicableSupplyChainTradeSettlement>
      <ram:InvoiceCurrencyCode>{currency}</ram:InvoiceCurrencyCode>
    </ram:ApplicableSupplyChainTradeSettlement>{note_line}{items}
  </rsm:SpecifiedSupplyChainTradeTransaction>
</rsm:CrossIndustryDocument>""".encode()


def _standard_id(gtin: str | None) -> str:
    return (
        f"<cac:StandardItemIdentification>{_gtin(gtin, 'cbc:ID')}</cac:StandardItemIdentification>"
        if gtin
        else ""
    )


def ubl_xml(lines=LINES, currency: str = "EUR", *, credit_note: bool = False) -> bytes:
    root, line_tag, qty_tag = (
        ("CreditNote", "CreditNoteLine", "CreditedQuantity")
        if credit_note
        else ("Invoice", "InvoiceLine", "InvoicedQuantity")
    )
    items = "".join(
        f"""
  <cac:{line_tag}>
    <cbc:ID>{i}</cbc:ID>
    <cbc:{qty_tag} unitCode="{unit}">{qty}</cbc:{qty_tag}>
    <cbc:LineExtensionAmount currencyID="{currency}">{total}</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>{escape(name)}</cbc:Name>
      <cac:SellersItemIdentification><cbc:ID>{sku}</cbc:ID></cac:SellersItemIdentification>
      {_standard_id(gtin)}
    </cac:Item>
    <cac:Price>
      <cbc:PriceAmount currencyID="{currency}">{price}</cbc:PriceAmount>
      {f'<cbc:BaseQuantity unitCode="{unit}">{basis}</cbc:BaseQuantity>' if basis else ""}
    </cac:Price>
  </cac:{line_tag}>"""
        for i, (name, price, basis, qty, unit, sku, gtin, total) in enumerate(lines, 1)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>R-1</cbc:ID>
  <cbc:DocumentCurrencyCode>{currency}</cbc:DocumentCurrencyCode>{items}
</{root}>""".encode()


def pdf_with_attachments(files: dict[str, bytes], *, text: str = "Rechnung 471102") -> bytes:
    """A one-page native PDF whose text layer says `text`, with `files` embedded (name -> bytes)."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((50, 60), text, fontsize=12)
    for name, content in files.items():
        doc.embfile_add(name, content, filename=name)
    data = doc.tobytes()
    doc.close()
    return data


def pdf_with_associated_file(name: str, content: bytes) -> bytes:
    """A PDF whose XML is listed only in the catalog's /AF array, not in the embedded-files names."""
    import pymupdf

    doc = pymupdf.open()
    doc.new_page(width=595, height=842).insert_text((50, 60), "Facture", fontsize=12)
    stream = doc.get_new_xref()
    doc.update_object(stream, "<< /Type /EmbeddedFile /Subtype /text#2Fxml >>")
    doc.update_stream(stream, content)
    spec = doc.get_new_xref()
    doc.update_object(
        spec,
        f"<< /Type /Filespec /F ({name}) /UF ({name}) /AFRelationship /Data "
        f"/EF << /F {stream} 0 R /UF {stream} 0 R >> >>",
    )
    doc.xref_set_key(doc.pdf_catalog(), "AF", f"[{spec} 0 R]")
    data = doc.tobytes()
    doc.close()
    return data


# An XXE that would read a local file, and a billion-laughs entity bomb, each as CII.
XXE_XML = b"""<?xml version="1.0"?>
<!DOCTYPE rsm:CrossIndustryInvoice [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
""" + cii_xml([("&secret;", "1.00", None, "1", "C62", "X", None, "1.00")]).split(b"?>", 1)[1]
BILLION_LAUGHS_XML = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
""" + cii_xml([("&lol9;", "1.00", None, "1", "C62", "X", None, "1.00")]).split(b"?>", 1)[1]
