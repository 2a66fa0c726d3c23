"""Warnings on a job: a page that prints prices but gave no product says so, with its number."""

from __future__ import annotations

from decimal import Decimal

from angebae.ocr.extract import extract_candidates
from angebae.ocr.types import Candidate, Page, Word
from angebae.ocr.warnings import job_warnings, page_warnings, price_count


def page(number: int, *rows: tuple[float, str]) -> Page:
    """A page built word by word: (y, text) rows from x = 50, 6 units per character."""
    words = []
    for y, text in rows:
        x = 50.0
        for token in text.split():
            words.append(Word(token, x, y, x + 6 * len(token), y + 10, 0.95))
            x += 6 * len(token) + 4
    return Page(number, 600, 800, words, "ocr")


def candidate(page_number: int) -> Candidate:
    return Candidate("Tornillo", Decimal("12.50"), "EUR", None, None, page_number, (0, 0, 1, 1), 0.9)


PRODUCTS = ((100, "Tornillo hexagonal 12,50 €"), (120, "Tuerca M8 3,75 €"))


def test_a_page_with_prices_and_no_candidate_warns_with_its_number_and_count():
    # GIVEN page 1 with products read from it and page 2 printing two prices nobody read
    pages = [page(1, *PRODUCTS), page(2, (100, "12,50 € 3,75 €"))]
    # WHEN the warnings are computed
    warnings = page_warnings(pages, [candidate(1), candidate(1)])
    # THEN page 2 alone warns, naming itself and how many prices it prints
    assert warnings == [
        {
            "page": 2,
            "code": "prices_without_candidates",
            "message": "page 2 prints 2 prices but no product was read from it",
        }
    ]


def test_no_candidate_at_all_adds_a_document_warning_before_the_pages():
    # GIVEN a one-page document whose only price is a total
    pages = [page(1, (100, "Gracias por su compra"), (120, "Total 12,50 €"))]
    # WHEN no candidate came from it
    warnings = page_warnings(pages, [])
    # THEN the document says nothing was read although a page prints prices, then the page itself
    assert [w["code"] for w in warnings] == ["no_candidates", "prices_without_candidates"]
    assert "page" not in warnings[0] and "1 page prints prices" in warnings[0]["message"]
    assert warnings[1] == {
        "page": 1,
        "code": "prices_without_candidates",
        "message": "page 1 prints 1 price but no product was read from it",
    }


def test_pages_without_prices_or_with_candidates_do_not_warn():
    # GIVEN a cover page with a date, a phone number, a page number and a year, and a product page
    cover = page(1, (100, "Catalogo 2024"), (120, "Tel 0341 4567890"), (140, "15/03/2024"), (160, "1"))
    pages = [cover, page(2, *PRODUCTS)]
    # WHEN the product page gave candidates
    # THEN nothing warns: the cover prints no price-like amount
    assert price_count(cover, ",") == 0
    assert page_warnings(pages, [candidate(2)]) == []


def test_an_empty_document_or_one_without_prices_does_not_warn():
    assert page_warnings([], []) == []
    assert page_warnings([page(1, (100, "Solo texto, sin precios")), page(2)], []) == []


def test_amounts_follow_the_documents_decimal_separator():
    # GIVEN a document whose amounts use a decimal comma, and a page printing "1.250" (a thousand)
    pages = [page(1, *PRODUCTS), page(2, (100, "Stock 1.250 unidades"))]
    # THEN "1.250" is no price there: no warning
    assert page_warnings(pages, [candidate(1)]) == []


def test_a_job_from_an_embedded_e_invoice_never_warns_but_a_layout_job_does():
    # GIVEN a page printing prices and no candidate from it
    pages = [page(1, *PRODUCTS), page(2, (100, "12,50 €"))]
    # WHEN the candidates came from the XML, THEN no warning; from the layout, page 2 warns
    assert job_warnings("xml", pages, [1]) == []
    assert [w.get("page") for w in job_warnings("layout", pages, [1])] == [2]


def test_a_page_of_prices_without_names_gives_no_candidate_and_warns():
    # GIVEN a page of bare prices (no names): the layout reader takes no product from it
    pages = [page(1, (100, "12,50 €"), (120, "3,75 €"), (140, "0,95 €"))]
    candidates = extract_candidates(pages)
    # WHEN the warnings are computed from what the reader gave
    warnings = page_warnings(pages, candidates)
    # THEN the page warns with its three prices
    assert candidates == []
    assert warnings[-1]["message"] == "page 1 prints 3 prices but no product was read from it"
