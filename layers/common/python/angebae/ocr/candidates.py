"""Product candidates from positioned words, in stages (each its own module):

    words -> lines and cells (layout)
          -> rows of tables, read by content: money, quantities, codes, arithmetic (tables)
          -> catalog blocks for what lies outside the tables: a price under its name (blocks)
          -> candidates with a confidence that says how much evidence agreed

Totals, taxes, payments, fees, discounts, labels ("Date:"), dates and phone numbers never become
candidates: the words that say so are data files per language (vocabulary/).
"""

from __future__ import annotations

from angebae.ocr.blocks import Segment, read_blocks
from angebae.ocr.layout import document_context, group_lines
from angebae.ocr.tables import read_table
from angebae.ocr.types import Candidate, Page

__all__ = ["extract_candidates", "group_lines"]


def extract_candidates(pages: list[Page], *, default_currency: str | None = None) -> list[Candidate]:
    """Product candidates (name, unit price, currency, SKU, quantity) of a document's pages."""
    ctx = document_context(pages, default_currency)
    out: list[Candidate] = []
    carried: list[Segment] = []
    for page in pages:
        lines = group_lines(page.words)
        table_candidates, used, span = read_table(page, lines, ctx)
        out.extend(table_candidates)
        # What lies between a table's rows is theirs (notes, gross prices); blocks live outside.
        free = [ln for ln in lines if id(ln) not in used and (span is None or not span[0] <= ln.y0 <= span[1])]
        block_candidates, carried = read_blocks(page, free, ctx, carried)
        out.extend(block_candidates)
    return out
