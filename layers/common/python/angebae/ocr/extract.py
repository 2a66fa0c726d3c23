"""Product candidates from positioned words, in stages (each its own module):

    words -> lines and cells, old prices set aside ("Antes 12,00 / Ahora 9,90") (layout)
          -> rows of tables, read by content: money, quantities, codes, arithmetic (tables)
          -> catalog blocks for what lies outside the tables: a price under its name (blocks)
          -> candidates with a confidence that says how much evidence agreed

Totals, taxes, payments, fees, discounts, labels ("Date:"), dates and phone numbers never become
candidates: the words that say so are data files per language (vocabulary/).
"""

from __future__ import annotations

from angebae.ocr.blocks import Segment, read_blocks
from angebae.ocr.layout import document_context, group_lines, set_aside_old_prices
from angebae.ocr.tables import continue_on_next_page, read_table, reconcile
from angebae.ocr.types import Candidate, Page

__all__ = ["extract_candidates", "group_lines"]


def extract_candidates(pages: list[Page], *, default_currency: str | None = None) -> list[Candidate]:
    """Product candidates (name, unit price, currency, SKU, quantity) of a document's pages."""
    ctx = document_context(pages, default_currency)
    page_lines = [(page, set_aside_old_prices(group_lines(page.words), ctx.hint)) for page in pages]
    out: list[Candidate] = []
    open_row = None
    for page, lines in page_lines:
        if open_row is not None:
            continue_on_next_page(open_row, lines, ctx)
        read = read_table(page, lines, ctx)
        out.extend(read.candidates)
        open_row = read.open_row
    ocr_pages = {page.number for page in pages if page.source == "ocr"}
    reconcile(out, [line for _, lines in page_lines for line in lines], ocr_pages, ctx)
    if out:
        # A document with a table is an invoice, a receipt or a price list: what lies around its
        # tables (addresses, totals, notes, terms, margins) is no catalog block.
        return out
    carried: list[Segment] = []
    for page, lines in page_lines:
        block_candidates, carried = read_blocks(page, lines, ctx, carried)
        out.extend(block_candidates)
    return out
