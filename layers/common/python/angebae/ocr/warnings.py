"""What a succeeded job says besides its candidates: pages that print prices but gave no product.

A page whose words hold price-like amounts (printed with a currency, or with two decimals) and from
which the layout reader took no candidate was most likely misread (a layout the tables and blocks do
not know, prices without names, a bad scan), and the reviewer should look at it rather than trust an
empty result. Totals-only pages ("Total 12,50 €") warn too: a human decides they hold no product.
An embedded e-invoice's items are exact, so a job whose source is "xml" never warns.
"""

from __future__ import annotations

from collections.abc import Iterable

from angebae.ocr.layout import document_context, find_amounts, is_price_like
from angebae.ocr.types import Candidate, Page

PRICES_WITHOUT_CANDIDATES = "prices_without_candidates"
NO_CANDIDATES = "no_candidates"


def page_warnings(pages: list[Page], candidates: list[Candidate]) -> list[dict]:
    """One warning per page that prints prices but gave no candidate, after a document-level one
    when no page gave any."""
    return _warnings(pages, {c.page for c in candidates})


def job_warnings(source: str, pages: list[Page], candidate_pages: Iterable[int]) -> list[dict]:
    """The warnings a job stores: none for an e-invoice's items (source "xml"), else those of
    page_warnings for the pages the stored candidates came from."""
    return [] if source == "xml" else _warnings(pages, set(candidate_pages))


def price_count(page: Page, hint: str | None) -> int:
    """How many price-like amounts the page's words print."""
    return sum(1 for amount in find_amounts(page.words, hint) if is_price_like(amount))


def _warnings(pages: list[Page], read: set[int]) -> list[dict]:
    hint = document_context(pages, None).hint
    silent = [
        (page.number, n) for page in pages if page.number not in read and (n := price_count(page, hint))
    ]
    out = [
        {
            "page": number,
            "code": PRICES_WITHOUT_CANDIDATES,
            "message": f"page {number} prints {_prices(n)} but no product was read from it",
        }
        for number, n in silent
    ]
    if silent and not read:
        priced = len(silent)
        out.insert(
            0,
            {
                "code": NO_CANDIDATES,
                "message": f"no product was read from the document although {priced} "
                f"page{'s' if priced > 1 else ''} print{'' if priced > 1 else 's'} prices",
            },
        )
    return out


def _prices(n: int) -> str:
    return f"{n} price" if n == 1 else f"{n} prices"
