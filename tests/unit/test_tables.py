"""The table reader's stages on documents of each class the issue names, drawn with PyMuPDF."""

from decimal import Decimal

from angebae.ocr.extract import extract_candidates
from angebae.ocr.tables import agrees, is_gtin
from angebae.ocr.types import Page
from text_pages import pdf_pages, table


def names_prices(candidates):
    return [(c.name, c.price) for c in candidates]


def test_a_header_wrapped_over_two_lines_with_unknown_words_is_never_a_product():
    # GIVEN a Dutch invoice whose header wraps and holds words no vocabulary lists
    runs = table(
        [50, 250, 330, 410, 490],
        [
            ["Omschrijving", "Aantal", "Prijs per", "Kwantum", "Prijs incl."],
            ["", "", "stuk", "korting", "BTW"],
            ["Koffiebonen donker 1 kg", "2", "€ 14,50", "€ 0,00", "€ 29,00"],
            ["Melkopschuimer RVS", "1", "€ 24,95", "€ 0,00", "€ 24,95"],
        ],
    )
    # WHEN candidates are extracted
    found = extract_candidates(pdf_pages(runs))
    # THEN the two rows come out, with their unit prices, and no header line
    assert names_prices(found) == [
        ("Koffiebonen donker 1 kg", Decimal("14.50")),
        ("Melkopschuimer RVS", Decimal("24.95")),
    ]
    assert [c.qty for c in found] == [Decimal(2), Decimal(1)]


def test_arithmetic_picks_the_unit_price_among_several_money_columns():
    # GIVEN a spreadsheet price list: code, name, price with margin, units, unit price, line total
    runs = table(
        [50, 110, 300, 370, 420, 490],
        [
            ["Cod", "Articulo", "PVP", "Uds", "Neto", "Importe"],
            ["A-100", "Aceite de oliva 1 L", "9,90", "6", "7,25", "43,50"],
            ["A-200", "Vinagre de Jerez", "4,10", "12", "3,00", "36,00"],
            ["A-300", "Sal marina 500 g", "1,80", "10", "1,20", "12,00"],
            ["", "", "", "", "Total", "91,50"],
        ],
    )
    # WHEN candidates are extracted
    found = extract_candidates(pdf_pages(runs))
    # THEN the column that times the units gives the line total is the price, proven on every row,
    # and the line totals add up to the printed total
    assert [c.price for c in found] == [Decimal("7.25"), Decimal("3.00"), Decimal("1.20")]
    assert [c.sku for c in found] == ["A-100", "A-200", "A-300"]
    assert all(c.confidence == 1.0 and c.attributes["reconciled"] for c in found)
    assert found[0].attributes["evidence"] == "qty x unit = total"


def test_rows_whose_totals_add_up_to_nothing_printed_are_less_sure():
    # GIVEN the same kind of list whose printed total does not match its rows (a row misread)
    runs = table(
        [50, 300, 380, 470],
        [
            ["Producto", "Uds", "Precio", "Importe"],
            ["Aceite de oliva 1 L", "6", "7,25", "43,50"],
            ["Vinagre de Jerez", "12", "3,00", "36,00"],
            ["", "", "Total", "99,99"],
        ],
    )
    # WHEN candidates are extracted, THEN each row says so and its confidence is lowered
    found = extract_candidates(pdf_pages(runs))
    assert [c.attributes["reconciled"] for c in found] == [False, False]
    assert all(c.confidence == 0.9 for c in found)


def test_position_product_description_quantity_unit_price_net_rows_are_read_and_footers_are_not():
    # GIVEN a German hardware invoice with a position column and a bank / registry footer
    runs = table(
        [50, 80, 150, 330, 380, 470],
        [
            ["Pos.", "Art.-Nr.", "Bezeichnung", "Menge", "Einzelpreis", "Gesamt"],
            ["1", "SCH-4411", "Schraubendreher Set", "3", "12,90", "38,70"],
            ["2", "HAM-0200", "Hammer 500 g", "1", "18,40", "18,40"],
        ],
    )
    runs += [(330, 190, "Summe netto"), (470, 190, "57,10"), (330, 206, "MwSt. 19 %"), (470, 206, "10,85")]
    runs += [
        (50, 780, "Bankverbindung: IBAN DE12 3456 7890 1234 5678 90"),
        (50, 796, "Amtsgericht HRB 12345"),
    ]
    # WHEN candidates are extracted
    found = extract_candidates(pdf_pages(runs))
    # THEN the two positions come out with their SKUs; totals, tax and footer lines do not
    assert names_prices(found) == [
        ("Schraubendreher Set", Decimal("12.90")),
        ("Hammer 500 g", Decimal("18.40")),
    ]
    assert [c.sku for c in found] == ["SCH-4411", "HAM-0200"]


def test_a_deposit_line_is_a_fee_not_a_product():
    # GIVEN a drinks invoice whose deposit is billed on its own line
    runs = table(
        [50, 300, 380, 470],
        [
            ["Artikel", "Menge", "Preis", "Betrag"],
            ["Mineralwasser 12 x 1,0 l", "2", "5,49", "10,98"],
            ["Pfand", "2", "3,30", "6,60"],
        ],
    )
    # WHEN candidates are extracted, THEN only the water is a product
    assert names_prices(extract_candidates(pdf_pages(runs))) == [
        ("Mineralwasser 12 x 1,0 l", Decimal("5.49"))
    ]


def test_a_name_that_wraps_onto_the_line_with_the_line_total_stays_one_row():
    # GIVEN an invoice printing the unit price on the name's first line and the total on its second
    runs = [
        (50, 120, "Mineralwasser Medium"),
        (300, 120, "5,49"),
        (380, 120, "20"),
        (50, 130, "12 x 1,0l PET"),
        (470, 130, "109,80"),
    ]
    # WHEN candidates are extracted
    found = extract_candidates(pdf_pages(runs))
    # THEN one product with the whole name, proven by 20 x 5,49 = 109,80
    assert names_prices(found) == [("Mineralwasser Medium 12 x 1,0l PET", Decimal("5.49"))]
    assert found[0].qty == Decimal(20) and found[0].confidence == 1.0


def test_gtin_check_digits_and_rounded_arithmetic():
    assert is_gtin("4012345001235") and is_gtin("4000050986428")
    assert not is_gtin("4012345001236") and not is_gtin("123")
    # 3 x 3,33 is 9,99: a unit price printed rounded still agrees with a total of 10,00
    assert agrees(Decimal(3), Decimal("3.33"), Decimal("10.00"))
    assert not agrees(Decimal(3), Decimal("3.00"), Decimal("10.00"))


def test_a_receipt_marks_unit_prices_with_at_and_per_kilo_and_weighed_items_keep_their_name():
    # GIVEN a supermarket receipt: a weighed item (name, then weight x price per kilo and total),
    # a multi-buy glued as "2@$3.49ea", and an ordinary line
    runs = [
        (40, 100, "PLATANO CANARIAS"),
        (60, 112, "0,560 kg x 7,99€/kg"),
        (300, 112, "4,47"),
        (40, 130, "FF SHEPHERDS PURSE FILLING"),
        (60, 142, "2@$3.49ea"),
        (300, 142, "6,98"),
        (40, 160, "LECHE ENTERA 1 L"),
        (300, 160, "0,89"),
        (40, 180, "TOTAL"),
        (300, 180, "12,34"),
    ]
    # WHEN candidates are extracted
    found = extract_candidates(pdf_pages(runs))
    # THEN each item has its unit price and quantity, the weighed one proven by 0,560 x 7,99 = 4,47
    assert [(c.name, c.price, c.qty) for c in found] == [
        ("PLATANO CANARIAS", Decimal("7.99"), Decimal("0.560")),
        ("FF SHEPHERDS PURSE FILLING", Decimal("3.49"), Decimal(2)),
        ("LECHE ENTERA 1 L", Decimal("0.89"), None),
    ]
    assert found[0].confidence == 1.0


def test_a_bare_dollar_takes_its_currency_from_the_document_or_the_shop_and_says_how():
    # GIVEN the same receipt line printed with a bare "$" in three documents
    line = [(40, 100, "Bok choy sprout"), (300, 100, "$6.59")]
    canadian = pdf_pages([*line, (40, 120, "HST 13%"), (300, 120, "$0.86")])
    plain = pdf_pages(line)
    # WHEN candidates are extracted, THEN a Canadian tax names the dollar; else the shop's dollar
    # default, else USD with the reason that nothing else was printed
    (ca,) = extract_candidates(canadian)
    assert (ca.currency, ca.attributes["currency_basis"]) == ("CAD", "$ and country")
    (shop,) = extract_candidates(plain, default_currency="MXN")
    assert (shop.currency, shop.attributes["currency_basis"]) == ("MXN", "$ and shop default")
    (alone,) = extract_candidates(plain, default_currency="EUR")
    assert (alone.currency, alone.attributes["currency_basis"]) == ("USD", "$ alone")
    (euro,) = extract_candidates(pdf_pages([(40, 100, "Bok choy sprout"), (300, 100, "6,59 €")]))
    assert (euro.currency, euro.attributes["currency_basis"]) == ("EUR", "printed")


def test_a_row_printed_as_its_numbers_with_the_name_under_them():
    # GIVEN an invoice whose second position prints its numbers on a line of their own and the
    # name in the description column below (a layout XML stylesheets produce)
    runs = [
        (50, 100, "1"),
        (150, 100, "Trennblätter A4"),
        (270, 100, "9,90"),
        (360, 100, "20 Stk"),
        (510, 100, "198,00"),
        (50, 130, "2"),
        (270, 130, "5,50"),
        (360, 130, "50 Stk"),
        (510, 130, "275,00"),
        (150, 141, "Joghurt"),
        (150, 152, "Banane"),
        (300, 190, "Positionssumme"),
        (510, 190, "473,00"),
    ]
    # WHEN candidates are extracted
    found = extract_candidates(pdf_pages(runs))
    # THEN both positions come out, the second with the name read below its numbers
    assert [(c.name, c.price, c.qty) for c in found] == [
        ("Trennblätter A4", Decimal("9.90"), Decimal(20)),
        ("Joghurt Banane", Decimal("5.50"), Decimal(50)),
    ]
    assert all(c.attributes["reconciled"] for c in found)


def test_a_page_tilted_4_degrees_keeps_each_price_on_its_own_row():
    # GIVEN an OCR'd price list tilted by 4 degrees: names far left, prices far right, each line
    # rising 0.07 pt per pt across (as Tesseract reports it: words with their line numbers)
    from angebae.ocr.types import Page, Word

    slope, words = -0.07, []
    rows = [("Aceite de oliva virgen", "12,50"), ("Vinagre de Jerez", "4,10"), ("Sal marina gruesa", "1,80")]
    for line, (name, price) in enumerate(rows):
        y = 100 + 14 * line
        x = 40
        for token in name.split():
            words.append(Word(token, x, y + slope * x, x + 6 * len(token), y + 10 + slope * x, 0.95, 1, line))
            x += 6 * len(token) + 5
        px = 400
        words.append(Word(price, px, y + slope * px, px + 30, y + 10 + slope * px, 0.95, 1, line))
    # WHEN candidates are extracted
    found = extract_candidates([Page(1, 595, 842, words, "ocr")])
    # THEN every name keeps its own price, not the one of the row below
    assert names_prices(found) == [(name, Decimal(price.replace(",", "."))) for name, price in rows]


def test_cells_centred_on_two_lines_name_above_and_a_unit_column_after_the_price():
    # GIVEN a French invoice whose rows print the product name a little above the numbers, a key
    # ("GLN:...", "ligne BC: 3") beside them, and the unit (PCE) in its own column after the price
    runs = [(299, 80, "P.U. HT"), (380, 80, "Qté"), (462, 80, "Total HT")]
    runs += [(143, 100, "PRESTATION SUPPORT - Description"), (60, 108, "1"), (75, 108, "GLN:5987854125")]
    runs += [(310, 108, "60,00"), (350, 108, "PCE"), (390, 108, "1,00"), (475, 108, "60,00")]
    runs += [(143, 128, "FOURNITURES DIVERSES - Description"), (60, 136, "2"), (75, 136, "ligne BC: 3")]
    runs += [(310, 136, "10,00"), (350, 136, "PCE"), (390, 136, "3,00"), (475, 136, "30,00")]
    # WHEN candidates are extracted
    found = extract_candidates(pdf_pages(runs, fontsize=7))
    # THEN the names come from above, and 3 x 10,00 = 30,00 (not 10 x 3,00) sets the unit price
    assert [(c.name, c.price, c.qty) for c in found] == [
        ("PRESTATION SUPPORT - Description", Decimal("60.00"), Decimal(1)),
        ("FOURNITURES DIVERSES - Description", Decimal("10.00"), Decimal(3)),
    ]


def _ean13(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def test_a_spreadsheet_price_list_of_eight_columns_reads_every_row():
    # GIVEN a price list printed from a spreadsheet: code, description, box price, barcode, units
    # per pack, units per box, unit price, price with margin; 12 rows, no total
    header = ["CODIGO", "DESCRIPCION", "PRECIO", "COD. BARRAS", "UDS/PACK", "UDS/CAJA", "P. UNIDAD", "PVP"]
    rows, expected = [], []
    for i in range(12):
        per_box, unit = 6 + 6 * (i % 3), Decimal("0.85") + Decimal(i) / 4
        box = per_box * unit
        ean = _ean13(f"841234500{i:03d}")
        name = f"Galletas surtidas {100 + 25 * i} g"
        rows.append(
            [
                f"GA-{i:03d}",
                name,
                f"{box:.2f}".replace(".", ","),
                ean,
                "6",
                str(per_box),
                f"{unit:.2f}".replace(".", ","),
                f"{unit * Decimal('1.3'):.2f}".replace(".", ","),
            ]
        )
        expected.append((name, unit.quantize(Decimal("0.01")), f"GA-{i:03d}", ean))
    runs = table([20, 70, 190, 235, 310, 360, 410, 470], [header, *rows], top=80, pitch=14)
    # WHEN candidates are extracted
    found = extract_candidates(pdf_pages(runs, fontsize=7))
    # THEN every row is a product: the unit price is the column that times the units per box gives
    # the box price, the code is the SKU and the EAN-13 its GTIN
    assert [(c.name, c.price, c.sku, c.attributes.get("gtin")) for c in found] == expected
    assert all(c.attributes["evidence"] == "qty x unit = total" for c in found)


def test_a_receipt_in_monospaced_capitals_keeps_every_word_of_its_names():
    # GIVEN an OCR'd till receipt in a monospaced font, all capitals: Tesseract's boxes are only
    # cap-high (10 pt) while each space is a whole character (8 pt) wide, wider than 0.8 heights
    from angebae.ocr.types import Page, Word

    advance, words = 8.0, []
    rows = [("CRUSH ZERO 0", "056000010660", "$8.28"), ("LYSOL BATH P", "059631882930", "$3.97")]
    for line, (name, code, price) in enumerate(rows):
        y, column = 200 + 16 * line, 40
        for token in [*name.split(), code]:
            words.append(Word(token, column, y, column + advance * len(token) - 1, y + 10, 0.9, 1, line))
            column += advance * (len(token) + 1)
        words.append(Word(price, 300, y, 300 + advance * len(price) - 1, y + 10, 0.9, 1, line))
    # WHEN candidates are extracted
    found = extract_candidates([Page(1, 400, 600, words, "ocr")])
    # THEN each name is the whole run of words before the code, and the code is the SKU
    assert [(c.name, c.sku, c.price) for c in found] == [
        ("CRUSH ZERO 0", "056000010660", Decimal("8.28")),
        ("LYSOL BATH P", "059631882930", Decimal("3.97")),
    ]


def test_a_credit_note_with_negative_totals_and_a_price_discount_is_proven_by_arithmetic():
    # GIVEN a French credit note: line totals printed negative, one price discounted by 10%
    runs = table(
        [40, 200, 300, 380, 460],
        [
            ["Description", "Quantité", "Prix unitaire", "Rem.", "Prix HT"],
            ["Nougat de l'Abbaye 250g", "5", "4,55 €", "10%", "-20,48 €"],
            ["Huile d'olive à l'ancienne", "10", "19,80 €", "", "-198,00 €"],
        ],
    )
    found = extract_candidates(pdf_pages(runs))
    # THEN both rows' arithmetic holds (5 x 4,55 x 90% = 20,48; 10 x 19,80 = 198,00), and the
    # discounted one is priced net of its discount
    assert [(c.name, c.price, c.attributes["evidence"]) for c in found] == [
        ("Nougat de l'Abbaye 250g", Decimal("4.0960"), "qty x unit = total"),
        ("Huile d'olive à l'ancienne", Decimal("19.80"), "qty x unit = total"),
    ]


def test_line_totals_that_include_a_tax_printed_on_the_page_prove_the_net_unit_price():
    # GIVEN an insurance invoice whose line totals include the 19% insurance tax the page states
    runs = table(
        [40, 230, 330, 430],
        [
            ["Beschreibung", "Nettopreis", "Menge", "Entgelt"],
            ["Kfz-Haftpflicht Typklasse", "67,22", "1", "80,00"],
            ["Vollkasko Regionalklasse", "117,65", "1", "140,00"],
        ],
    )
    runs.append((40, 200, "Enthält 19% Versicherungssteuer"))
    found = extract_candidates(pdf_pages(runs))
    # THEN qty x unit x 1,19 = total proves each row; the price stays the net unit price
    assert [(c.name, c.price, c.attributes["evidence"]) for c in found] == [
        ("Kfz-Haftpflicht Typklasse", Decimal("67.22"), "qty x unit = total"),
        ("Vollkasko Regionalklasse", Decimal("117.65"), "qty x unit = total"),
    ]


def _ocr_pages(prices: list[str], total: str, confidence: float = 1.0):
    from angebae.ocr.types import Page, Word

    words, names = [], ["Bread rolls", "Whole milk", "Free range eggs"]
    for line, (name, price) in enumerate(zip(names, prices, strict=True)):
        y = 100 + 16 * line
        words += [Word(name, 40, y, 40 + 6 * len(name), y + 10, 0.9, 1, line)]
        words += [Word(price, 300, y, 330, y + 10, confidence, 1, line)]
    words += [Word("TOTAL", 200, 160, 235, 170, 0.9, 1, 9), Word(total, 300, 160, 330, 170, 0.9, 1, 9)]
    return [Page(1, 400, 600, words, "ocr")]


def _ocr_receipt(prices: list[str], total: str, confidence: float):
    return extract_candidates(_ocr_pages(prices, total, confidence))


def test_prices_that_add_up_to_the_printed_total_lose_the_doubt_of_a_poor_ocr_read():
    # GIVEN a receipt OCR'd with little confidence in its prices (60%), once adding up to its
    # printed total and once not (a misread)
    added_up = _ocr_receipt(["2.40", "1.15", "3.99"], "7.54", confidence=0.6)
    misread = _ocr_receipt(["2.40", "1.15", "3.90"], "7.54", confidence=0.6)
    # THEN the sum vouches for the digits: the first keeps its structure's confidence, the second
    # pays for OCR's doubt and for the broken sum
    assert [c.attributes["reconciled"] for c in added_up] == [True] * 3
    assert all(c.confidence >= 0.85 for c in added_up)
    assert all(c.confidence < 0.75 for c in misread)


def test_a_name_holding_a_date_or_a_web_address_is_less_sure_than_a_product_name():
    runs = table(
        [40, 330, 430],
        [
            ["Désignation", "Qté", "Montant HT"],
            ["Annonce le-tout-lyon.fr du 06/12/2022", "1", "45,93"],
            ["Justificatif papier", "1", "3,50"],
        ],
    )
    dated, product = extract_candidates(pdf_pages(runs))
    assert dated.confidence < product.confidence


def test_a_quantity_read_with_a_stray_period_still_counts_and_proves_the_table():
    # GIVEN a scanned insurance invoice where OCR read the quantity "1 Stk" as "1. Stk", and a
    # second, free line (a co-insured person at 0,00)
    runs = table(
        [40, 230, 330, 360, 450],
        [
            ["Beschreibung", "Nettopreis", "Menge", "", "Betrag"],
            ["Privathaftpflicht", "59,5000", "1.", "Stk", "59,50"],
            ["Lebensgefährte/in zur Privathaftpflicht", "0,0000", "1", "Stk", "0,00"],
        ],
    )
    found = extract_candidates(pdf_pages(runs))
    # THEN the quantity is 1, its arithmetic proves the table, and the free line is a product too
    assert [(c.name, c.price, c.qty) for c in found] == [
        ("Privathaftpflicht", Decimal("59.5000"), Decimal(1)),
        ("Lebensgefährte/in zur Privathaftpflicht", Decimal("0.0000"), Decimal(1)),
    ]


def test_old_and_new_prices_the_current_one_is_the_products_in_every_layout_and_language():
    # GIVEN promotions printed as "old price, new price": marked on the line in Spanish, English
    # and German, and as two columns headed "Precio anterior" / "Precio actual"
    inline = pdf_pages(
        [
            (40, 100, "Café molido 250 g      antes 4,50 €   ahora 3,95 €"),
            (40, 116, "Garden hose 15 m       was $24.99     now $19.99"),
            (40, 132, "Akkuschrauber 18 V     statt 89,99 €  jetzt 69,99 €"),
        ]
    )
    columns = pdf_pages(
        table(
            [40, 300, 400],
            [
                ["Producto", "Precio anterior", "Precio actual"],
                ["Galletas integrales", "2,20", "1,80"],
                ["Leche entera 1 L", "1,10", "0,95"],
            ],
        )
    )
    # WHEN candidates are extracted
    # THEN each product has its current price, and says what it was
    assert [(c.name, c.price, c.attributes["old_price"]) for c in extract_candidates(inline)] == [
        ("Café molido 250 g", Decimal("3.95"), "4.50"),
        ("Garden hose 15 m", Decimal("19.99"), "24.99"),
        ("Akkuschrauber 18 V", Decimal("69.99"), "89.99"),
    ]
    assert [(c.name, c.price, c.attributes["old_price"]) for c in extract_candidates(columns)] == [
        ("Galletas integrales", Decimal("1.80"), "2.20"),
        ("Leche entera 1 L", Decimal("0.95"), "1.10"),
    ]


def test_a_catalog_block_with_its_old_price_on_a_line_of_its_own():
    # GIVEN a two-column offers page: name, reference, "Antes 12,00 €", "Ahora 9,90 €"
    runs = [(40, 60, "#Ofertas de la semana")]
    for x, (name, ref, before, now) in zip(
        (40, 320),
        [
            ("Aceite de oliva virgen 1 L", "AC-1010", "12,00", "9,90"),
            ("Vinagre de Jerez 500 ml", "VI-2020", "4,50", "3,75"),
        ],
        strict=True,
    ):
        runs += [(x, 100, name), (x, 114, f"Ref. {ref}")]
        runs += [(x, 128, f"Antes {before} €"), (x, 142, f"Ahora {now} €")]
    found = extract_candidates(pdf_pages(runs))
    # THEN each block is one product at its current price
    assert sorted((c.name, c.price, c.sku) for c in found) == [
        ("Aceite de oliva virgen 1 L", Decimal("9.90"), "AC-1010"),
        ("Vinagre de Jerez 500 ml", Decimal("3.75"), "VI-2020"),
    ]


def test_a_word_that_means_old_in_one_language_is_not_set_aside_before_a_count():
    # GIVEN "antes" before a count, not a price
    found = extract_candidates(pdf_pages([(40, 100, "Pack antes 2 unidades        5,00 €")]))
    assert [(c.name, c.price) for c in found] == [("Pack antes 2 unidades", Decimal("5.00"))]


def _ocr_rows(rows: list[tuple[str, str, str, str]]):
    """An OCR'd invoice page: one line per (code, name, qty, price) row, words as Tesseract gives."""
    from angebae.ocr.types import Page, Word

    words = []
    for line, row in enumerate(rows):
        y = 100 + 16 * line
        for x, text in zip((50, 120, 330, 420), row, strict=True):
            for k, token in enumerate(text.split()):
                x0 = x + 40 * k
                words.append(Word(token, x0, y, x0 + 6 * len(token), y + 10, 0.9, 1, line))
    return extract_candidates([Page(1, 595, 842, words, "ocr")])


def test_a_position_number_glued_to_the_code_after_it_is_no_part_of_the_sku():
    # GIVEN a scanned "Pos | Art-Nr | Beschreibung" invoice where OCR read "1 KR3M" as "1KR3M"
    rows = [("1KR3M", "Kunstrasen", "3", "4,00"), ("2SFK5", "Schweinesteak", "5", "5,50")]
    found = _ocr_rows([*rows, ("3GTRWA5", "Mineralwasser", "20", "5,49")])
    # THEN the running positions come off the codes
    assert [c.sku for c in found] == ["KR3M", "SFK5", "GTRWA5"]
    # AND codes whose leading digits do not run 1, 2, 3... keep every character
    mixed = _ocr_rows([("1AB23", "Schraube", "3", "4,00"), ("7CD45", "Mutter", "5", "5,50")])
    assert [c.sku for c in mixed] == ["1AB23", "7CD45"]


def test_a_name_cut_by_a_page_break_goes_on_at_the_top_of_the_next_page():
    # GIVEN an insurance invoice whose first row ends page 1 after "Kfz-", its name going on at the
    # top of page 2 where the name column starts, the next row following
    header = ["Pos", "Beschreibung", "Nettopreis", "Menge", "Entgelt"]
    page1 = table([50, 150, 300, 380, 470], [header, ["1", "Kfz-", "67,22", "1 Stk", "67,22"]], top=760)
    page2 = [(150, 60, "Haftpflicht Typklasse 18"), (150, 72, "Regionalklasse 9")]
    row2 = ["2", "Vollkasko Typklasse 21", "117,65", "1 Stk", "117,65"]
    page2 += table([50, 150, 300, 380, 470], [row2], top=110)
    found = extract_candidates(pdf_pages(page1, page2))
    # THEN the first product's name is whole, and the second keeps its own
    assert [(c.name, c.price) for c in found] == [
        ("Kfz-Haftpflicht Typklasse 18 Regionalklasse 9", Decimal("67.22")),
        ("Vollkasko Typklasse 21", Decimal("117.65")),
    ]


def test_a_page_starting_with_its_letterhead_adds_nothing_to_the_last_row_of_the_page_before():
    rows = [["Artikel", "Menge", "Betrag"], ["Gartenschlauch 15 m", "1", "24,99"]]
    page1 = table([50, 300, 470], rows, top=760)
    page2 = [(350, 40, "Muster GmbH · Seite 2"), (50, 60, "Rechnung 2024-0012")]
    page2 += table([50, 300, 470], [["Gießkanne 10 l", "1", "12,50"]], top=110)
    found = extract_candidates(pdf_pages(page1, page2))
    assert [c.name for c in found] == ["Gartenschlauch 15 m", "Gießkanne 10 l"]


def test_a_sum_that_breaks_lowers_rows_of_a_text_layer_but_not_of_an_ocr_read():
    # GIVEN the same three rows whose printed total does not add up, once from a text layer (exact
    # digits: a row is wrong or missing) and once OCR'd with sure digits (a misread anywhere, the
    # total's too, breaks the sum)
    ocr = _ocr_receipt(["2.40", "1.15", "3.90"], "7.54", confidence=0.95)
    (read,) = _ocr_pages(["2.40", "1.15", "3.90"], "7.54")
    text = extract_candidates([Page(read.number, read.width, read.height, read.words, "text")])
    # THEN only the text layer's rows pay for the broken sum
    assert all(not c.attributes["reconciled"] for c in ocr + text)
    assert min(c.confidence for c in ocr) > max(c.confidence for c in text) - 0.01


def test_currency_codes_between_amounts_and_a_line_total_printed_first_are_rows_not_a_grid():
    # GIVEN two invoices: one printing "12 | 28.90 MXN | 346.80 MXN" after each name, one printing
    # its columns as line total, SKU, description, unit price, quantity
    codes = table(
        [40, 280, 340, 440],
        [
            ["Descripción", "Cantidad", "PVP", "Total"],
            ["Lámpara de pie con pantalla", "12", "28.90 MXN", "346.80 MXN"],
            ["Juego de sábanas 150x190", "10", "22.95 MXN", "229.50 MXN"],
            ["Manta de lana tejida", "1", "62.00 MXN", "62.00 MXN"],
        ],
    )
    total_first = table(
        [40, 120, 200, 420, 500],
        [
            ["Total", "SKU", "Description", "Unit price", "Qty"],
            ["$ 984.90", "GDX59273", "Ground coffee 340 g", "$ 984.90", "1"],
            ["$ 9069.90", "RB-51490", "Cordless drill 18 V", "$ 906.99", "10"],
            ["$ 302.50", "FED-2517", "Queen size cotton sheet set", "$ 60.50", "5"],
        ],
    )
    # THEN every row is a product at its unit price (the codes are no names, the rows no grid)
    assert [(c.name, c.price) for c in extract_candidates(pdf_pages(codes))] == [
        ("Lámpara de pie con pantalla", Decimal("28.90")),
        ("Juego de sábanas 150x190", Decimal("22.95")),
        ("Manta de lana tejida", Decimal("62.00")),
    ]
    assert [(c.name, c.sku, c.price) for c in extract_candidates(pdf_pages(total_first))] == [
        ("Ground coffee 340 g", "GDX59273", Decimal("984.90")),
        ("Cordless drill 18 V", "RB-51490", Decimal("906.99")),
        ("Queen size cotton sheet set", "FED-2517", Decimal("60.50")),
    ]


def test_a_grid_whose_prices_carry_a_label_takes_each_name_from_above_its_price():
    # GIVEN a three-column catalog grid: a line of names, then "Price 474.00  Price 361.50 ..."
    runs = [(40, 60, "#Seasonal catalog 2025")]
    grid = [
        [("USB-C cable 2 m", "474.00"), ("Electric toothbrush", "361.50"), ("Non-stick frying pan", "37.99")],
        [("Ceramic table lamp", "759.95"), ("Ground coffee 340 g", "56.25"), ("LED bulb A19 60 W", "43.95")],
    ]
    for r, blocks in enumerate(grid):
        for x, (name, price) in zip((40, 230, 420), blocks, strict=True):
            runs += [(x, 110 + 40 * r, name), (x, 124 + 40 * r, f"Price {price}")]
    found = extract_candidates(pdf_pages(runs))
    # THEN the label "Price" is nobody's name: every block is its product
    assert sorted((c.name, c.price) for c in found) == sorted(
        (name, Decimal(price)) for blocks in grid for name, price in blocks
    )


def test_a_product_named_with_a_word_that_also_means_total_or_payment_is_kept_when_it_has_a_measure():
    # GIVEN a price list whose products hold "líquido" (Portuguese "net"), "neto" and "cambio"
    runs = table(
        [40, 420],
        [
            ["Producto", "Precio"],
            ["Detergente líquido 3 L", "$ 96.25"],
            ["Café molido peso neto 500 g", "$ 4.10"],
            ["Aceite para cambio 5 L", "$ 21.00"],
            ["Total", "$ 121.35"],
        ],
    )
    found = extract_candidates(pdf_pages(runs))
    # THEN the products are read, the total is not
    names = ["Detergente líquido 3 L", "Café molido peso neto 500 g", "Aceite para cambio 5 L"]
    assert [c.name for c in found] == names


def test_a_positions_name_printed_just_above_its_line_of_numbers():
    # GIVEN a French invoice printing each position's name, then right under it the position
    # number, unit price, unit, quantity and total (amounts that multiply out)
    runs = [(143, 100, "P.U. HT"), (300, 100, "Qté"), (400, 100, "TOTAL HT")]
    rows = [
        ("FOURNITURES DIVERSES - Description", "2", "10,00", "3,00", "30,00"),
        ("APPEL - Description", "3", "5,00", "1,00", "5,00"),
    ]
    for i, (name, pos, unit, qty, total) in enumerate(rows):
        y = 130 + 30 * i
        runs += [
            (143, y, name),
            (80, y + 9, pos),
            (150, y + 9, unit),
            (215, y + 9, "PCE"),
            (300, y + 9, qty),
            (400, y + 9, total),
        ]
    found = extract_candidates(pdf_pages(runs))
    # THEN each position is a product at its unit price, and the header names none
    assert [(c.name, c.price, c.qty) for c in found] == [
        ("FOURNITURES DIVERSES - Description", Decimal("10.00"), Decimal(3)),
        ("APPEL - Description", Decimal("5.00"), Decimal(1)),
    ]
