"""Catalog search and lists (issue 11): typos found on every PostgreSQL (no pg_trgm needed), exact matches
above typos, a Spanish/English name sort, prices within one currency; the catalog's and a job's candidates'
exports (CSV and XLSX through a presigned link on moto's S3)."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import zipfile
from decimal import Decimal

import pytest
import requests
from angebae.catalog.export import PRODUCT_COLUMNS
from catalog_support import Client, make_admin, make_candidate, walk_products
from catalog_support import create_product as create
from catalog_support import search_products as search
from support import load_function


@pytest.fixture
def fn(env):
    return load_function("products")


@pytest.fixture
def editor(fn, db):
    return Client(fn, make_admin(db, "editor"))


# --- typos -------------------------------------------------------------------------------------------

TOYS = [
    "Camión de juguete",
    "Tractor agrícola verde",
    "Muñeca de trapo",
    "Pingüino de peluche",
    "Llave inglesa",
    "Caja de herramientas",
]


@pytest.fixture(params=["with_pg_trgm", "without_pg_trgm"])
def toys(request, db, editor):
    """The catalog on this server as it is, or with pg_trgm dropped (as the embedded stack's server)."""
    if request.param == "without_pg_trgm":
        db.execute("DROP EXTENSION IF EXISTS pg_trgm CASCADE")
    for name in TOYS:
        create(editor, name)
    return editor


@pytest.mark.parametrize(
    "typo,found",
    [
        ("camoin", "Camión de juguete"),  # two letters swapped
        ("trator", "Tractor agrícola verde"),  # a letter missing
        ("muñca", "Muñeca de trapo"),  # a letter missing, ñ typed
        ("pingino", "Pingüino de peluche"),  # ü typed as nothing
        ("llaev", "Llave inglesa"),  # swapped at the end
        ("herrramientas", "Caja de herramientas"),  # a letter too many
        ("tractar", "Tractor agrícola verde"),  # a letter wrong
        ("CAMOIN de juguete", "Camión de juguete"),  # with other words, any case
    ],
)
def test_a_one_letter_typo_of_a_word_of_five_letters_or_more_finds_its_product(toys, typo, found):
    assert search(toys, typo) == [found]


@pytest.mark.parametrize("typo", ["lave", "caha", "trpo"])  # llave, caja, trapo: one letter off
def test_a_typo_in_a_word_under_five_letters_does_not_match_fuzzily(toys, typo):
    assert search(toys, typo) == []


def test_one_edit_per_word_matches_two_in_one_word_do_not(toys):
    assert search(toys, "traktor agricla") == ["Tractor agrícola verde"]
    assert search(toys, "trakto") == []  # a letter wrong and one missing
    assert search(toys, "cmaoin") == []  # two swaps


def test_a_renamed_product_is_found_by_a_typo_of_its_new_name(toys, db):
    product = toys.get("/products", query={"q": "trapo"})["json"]["items"][0]
    toys.patch("/products/{id}", id=product["id"], body={"name": "Marioneta de madera", "version": 1})
    assert search(toys, "marionta") == ["Marioneta de madera"]


def test_exact_matches_rank_above_fuzzy_ones(editor):
    # "camino" is one swap from "camion": a product named camino, camino, camino still ranks below
    # the one with the word typed
    fuzzy = create(editor, "Camino camino camino")
    exact = create(editor, "Camión azul")
    by_description = create(editor, "Volquete", description="un camión grande")
    found = editor.get("/products", query={"q": "camion"})["json"]["items"]
    assert [p["id"] for p in found] == [exact["id"], by_description["id"], fuzzy["id"]]
    # paging by relevance crosses from exact to fuzzy without losing or repeating any
    first = editor.get("/products", query={"q": "camion", "limit": "2"})["json"]
    second = editor.get("/products", query={"q": "camion", "limit": "2", "cursor": first["next_cursor"]})[
        "json"
    ]
    assert [p["id"] for p in first["items"] + second["items"]] == [
        exact["id"],
        by_description["id"],
        fuzzy["id"],
    ]
    assert second["next_cursor"] is None


def test_the_vocabulary_is_backfilled_and_learns_every_insert_and_rename(db, editor):
    create(editor, "Destornillador plano")
    words = {r["word"] for r in db.execute("SELECT DISTINCT word FROM search_words")}
    assert {"destornillador", "plano"} <= words
    db.execute("INSERT INTO products (name, slug) VALUES ('Pelota de playa', 'pelota')")  # outside the API
    assert search(editor, "pelotta") == ["Pelota de playa"]


# --- name sort ---------------------------------------------------------------------------------------

NAMES = ["Zorro", "avión", "Ábaco", "Ñandú", "Nube", "nube", "Oca", "Ñu"]


def walk(client, query):
    return [p["name"] for p in walk_products(client, query)]


def test_names_sort_with_accents_and_case_folded_and_enye_after_n(editor):
    for name in NAMES:
        create(editor, name)
    expected = ["Ábaco", "avión", "Nube", "nube", "Ñandú", "Ñu", "Oca", "Zorro"]
    assert walk(editor, {"sort": "name", "limit": "3"}) == expected  # pages cut across n / ñ / o
    assert walk(editor, {"sort": "name", "order": "desc", "limit": "2"}) == expected[::-1]


# --- currency ----------------------------------------------------------------------------------------


def test_the_currency_filter_and_price_sort_within_one_currency(editor):
    create(editor, "Uno", price="3", currency="EUR")
    create(editor, "Dos", price="1", currency="USD")
    create(editor, "Tres", price="2", currency="eur")
    create(editor, "Sin precio")
    assert walk(editor, {"currency": "eur", "sort": "price"}) == ["Tres", "Uno"]
    assert walk(editor, {"currency": "USD"}) == ["Dos"]
    assert walk(editor, {"currency": "EUR", "min_price": "2,5"}) == ["Uno"]


@pytest.mark.parametrize(
    "query", [{"sort": "price"}, {"min_price": "1"}, {"max_price": "1"}, {"sort": "price", "order": "desc"}]
)
def test_prices_compared_without_a_currency_are_400_saying_to_add_one(editor, query):
    response = editor.get("/products", query=query)
    assert response["statusCode"] == 400
    problems = " ".join(f["problem"] for f in response["json"]["error"]["details"]["fields"])
    assert "add currency" in problems


@pytest.mark.parametrize("currency", ["XYZ", "EURO", "xau", "1"])
def test_a_currency_filter_that_is_no_iso_4217_code_is_400(editor, currency):
    response = editor.get("/products", query={"currency": currency})
    assert response["statusCode"] == 400
    assert response["json"]["error"]["details"]["fields"][0]["field"] == "currency"


def test_media_list_refuses_unknown_filters(aws, db):
    client = Client(load_function("upload"), make_admin(db, "viewer"))
    response = client.get("/media", query={"status": "uploaded"})
    assert response["statusCode"] == 400
    assert response["json"]["error"]["details"]["fields"][0]["field"] == "status"


# --- export ------------------------------------------------------------------------------------------


@pytest.fixture
def shop(aws, db):
    """An editor and a viewer on the products function with the media bucket (moto)."""
    fn = load_function("products")
    editor, viewer = Client(fn, make_admin(db, "editor")), Client(fn, make_admin(db, "viewer"))
    create(
        editor,
        "Camión rojo",
        price="12.5",
        currency="EUR",
        status="active",
        sku="CR-1",
        stock=3,
        attributes={"color": "rojo"},
    )
    create(editor, "Camión azul", price="1234,56", currency="EUR", status="active")
    create(
        editor,
        '=HYPERLINK("http://x")',
        price="1",
        currency="EUR",
        status="active",
        description="+cmd|' /C calc'!A0",
    )
    create(editor, "Camión borrador", price="5", currency="EUR")
    create(editor, "Truck", price="9", currency="USD", status="active")
    return editor, viewer


def download(response) -> bytes:
    assert response["statusCode"] == 303, response["json"]
    location = response["headers"]["Location"]
    assert location == response["json"]["url"]
    got = requests.get(location, timeout=10)
    assert got.status_code == 200
    return got.content


def csv_rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the accents right
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def xlsx_texts(data: bytes) -> list[list[str]]:
    """The sheet's rows as text, read with openpyxl where installed, else from the XML in the zip."""
    if importlib.util.find_spec("openpyxl"):
        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
        return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert "[Content_Types].xml" in names and "xl/workbook.xml" in names
        shared = []
        if "xl/sharedStrings.xml" in names:
            shared = [
                re.sub(r"<[^>]+>", "", s)
                for s in re.findall(r"<si>(.*?)</si>", z.read("xl/sharedStrings.xml").decode(), re.S)
            ]
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    rows = []
    for row in re.findall(r"<row[^>]*>(.*?)</row>", sheet, re.S):
        cells = []
        for attrs, inner in re.findall(r"<c([^>]*)>(.*?)</c>", row, re.S):
            value = re.sub(r"<[^>]+>", "", inner)
            cells.append(shared[int(value)] if 't="s"' in attrs else value)
        rows.append(cells)
    return rows


def unescape(text: str) -> str:
    return text.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def test_the_catalog_exports_as_csv_with_the_list_filters(shop, aws):
    editor, _ = shop
    response = editor.get(
        "/products/export",
        query={
            "format": "csv",
            "q": "camion",
            "status": "active",
            "currency": "eur",
            "sort": "price",
            "order": "desc",
        },
    )
    rows = csv_rows(download(response))
    assert response["json"]["rows"] == 2 and response["json"]["format"] == "csv"
    assert [(r["name"], r["price"], r["currency"]) for r in rows] == [
        ("Camión azul", "1234.56", "EUR"),
        ("Camión rojo", "12.50", "EUR"),
    ]
    red = rows[1]
    assert (red["sku"], red["stock"], red["status"], red["attributes"]) == (
        "CR-1",
        "3",
        "active",
        '{"color":"rojo"}',
    )
    assert red["created_at"].endswith("Z") and red["images"] == "[]"
    keys = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix="exports/")["Contents"]]
    assert len(keys) == 1 and re.fullmatch(r"exports/[0-9a-f-]{36}\.csv", keys[0])


def test_exported_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(shop):
    editor, _ = shop
    rows = csv_rows(
        download(editor.get("/products/export", query={"format": "csv", "currency": "EUR", "max_price": "1"}))
    )
    assert [(r["name"], r["description"]) for r in rows] == [
        ('\'=HYPERLINK("http://x")', "'+cmd|' /C calc'!A0")
    ]
    sheet = xlsx_texts(
        download(
            editor.get("/products/export", query={"format": "xlsx", "currency": "EUR", "max_price": "1"})
        )
    )
    assert unescape(sheet[1][1]) == '=HYPERLINK("http://x")'  # kept exact, as a text cell
    with zipfile.ZipFile(
        io.BytesIO(
            download(
                editor.get("/products/export", query={"format": "xlsx", "currency": "EUR", "max_price": "1"})
            )
        )
    ) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    assert "<f>" not in sheet_xml  # no formula anywhere
    assert 'quotePrefix="1"' in styles


def test_a_viewer_exports_the_catalog_as_xlsx(shop):
    _, viewer = shop
    response = viewer.get("/products/export", query={"format": "xlsx", "status": "active", "sort": "name"})
    sheet = xlsx_texts(download(response))
    assert sheet[0][:3] == ["id", "name", "slug"]
    names = [row[1] for row in sheet[1:]]
    assert [unescape(n) for n in names] == ['=HYPERLINK("http://x")', "Camión azul", "Camión rojo", "Truck"]
    assert response["json"]["rows"] == 4 and response["json"]["filename"].endswith(".xlsx")
    assert response["json"]["expires_at"].endswith("Z")


def test_xlsx_prices_are_number_cells_a_spreadsheet_can_sum(shop):
    editor, _ = shop
    query = {"q": "camion", "currency": "EUR", "sort": "price"}
    expected = [
        r["price"]
        for r in csv_rows(download(editor.get("/products/export", query={**query, "format": "csv"})))
    ]
    with zipfile.ZipFile(
        io.BytesIO(download(editor.get("/products/export", query={**query, "format": "xlsx"})))
    ) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    price_column = "ABCDEFGHIJKLMNOPQ"[PRODUCT_COLUMNS.index("price")]
    cells = re.findall(rf'<c r="{price_column}\d+"([^>]*)><v>([^<]*)</v>', sheet)
    # THEN each price is a number cell (no t="s" string type) holding the exact value the CSV gives
    assert len(expected) >= 2 and all("t=" not in attrs for attrs, _ in cells)
    assert [Decimal(v) for _, v in cells] == [Decimal(p) for p in expected]


@pytest.mark.parametrize(
    "query",
    [
        {"format": "pdf"},
        {},
        {"format": "csv", "colour": "red"},
        {"format": "csv", "sort": "price"},
        {"format": "csv", "currency": "XYZ"},
    ],
)
def test_an_unknown_format_or_filter_is_400(shop, query):
    editor, _ = shop
    response = editor.get("/products/export", query=query)
    assert response["statusCode"] == 400, response["json"]


def test_an_export_of_more_rows_than_it_holds_is_400_naming_the_limit(shop, db):
    from angebae.catalog.export import MAX_ROWS

    editor, _ = shop
    db.execute(
        "INSERT INTO products (name, slug) SELECT 'P ' || i, 'p-' || i FROM generate_series(1, %s) i",
        (MAX_ROWS,),
    )
    response = editor.get("/products/export", query={"format": "csv"})
    assert response["statusCode"] == 400
    assert response["json"]["error"]["code"] == "export_too_large"
    assert response["json"]["error"]["details"] == {"max_rows": MAX_ROWS}
    assert editor.get("/products/export", query={"format": "csv", "status": "active"})["statusCode"] == 303


def test_exporting_needs_a_session(aws, env):
    assert (
        Client(load_function("products"), None).get("/products/export", query={"format": "csv"})["statusCode"]
        == 401
    )


def test_a_jobs_candidates_export_as_csv_and_xlsx(aws, db):
    status = Client(load_function("ocr_status"), make_admin(db, "viewer"))
    first = make_candidate(db, name="Tornillo M8", price="1.2500", sku="T-8")
    job_id = first["job_id"]
    db.execute(
        """INSERT INTO product_candidates (job_id, media_id, page_number, position, name, price,
                                                  currency, qty, bbox, confidence, raw)
                  VALUES (%s, %s, 1, 3, '@SUM(1+1)', 3, 'EUR', 2, '{1,2,3,4}', 0.5, 'x')""",
        (job_id, first["media_id"]),
    )
    rows = csv_rows(
        download(status.get("/ocr/jobs/{id}/candidates/export", id=job_id, query={"format": "csv"}))
    )
    assert [(r["page_number"], r["name"], r["price"], r["qty"]) for r in rows] == [
        ("1", "'@SUM(1+1)", "3.00", "2"),
        ("2", "Tornillo M8", "1.25", "10"),
    ]  # quantities: plain decimals
    assert (rows[1]["sku"], rows[1]["status"], rows[0]["bbox"]) == ("T-8", "pending", "[1.0,2.0,3.0,4.0]")
    response = status.get("/ocr/jobs/{id}/candidates/export", id=job_id, query={"format": "xlsx"})
    sheet = xlsx_texts(download(response))
    assert sheet[0][:6] == ["id", "job_id", "media_id", "page_number", "position", "name"]
    assert [row[5] for row in sheet[1:]] == ["@SUM(1+1)", "Tornillo M8"]
    assert response["json"]["rows"] == 2


def test_exporting_an_unknown_job_is_404_and_a_bad_format_400(aws, db):
    status = Client(load_function("ocr_status"), make_admin(db, "viewer"))
    missing = "8a5c7a4e-0000-4000-8000-000000000000"
    assert (
        status.get("/ocr/jobs/{id}/candidates/export", id=missing, query={"format": "csv"})["statusCode"]
        == 404
    )
    job_id = make_candidate(db)["job_id"]
    assert (
        status.get("/ocr/jobs/{id}/candidates/export", id=job_id, query={"format": "ods"})["statusCode"]
        == 400
    )
