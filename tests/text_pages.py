"""Documents drawn with PyMuPDF and read back through the text layer, as the worker reads them."""

import pymupdf
from angebae.ocr.types import Page, Word

FONT_SIZE = 10


def pdf_pages(*pages: list[tuple[float, float, str]], fontsize: float = FONT_SIZE) -> list[Page]:
    """Draw each page's (x, y, text) runs into a PDF and read its words back as the text layer."""
    doc = pymupdf.open()
    font = pymupdf.Font("helv")  # through TextWriter it has the full Unicode range (€, accents)
    for runs in pages:
        page = doc.new_page(width=595, height=842)
        writer = pymupdf.TextWriter(page.rect)
        for x, y, text in runs:
            size = fontsize * 1.6 if text.startswith("#") else fontsize  # "#": a title
            writer.append((x, y), text.lstrip("#"), font=font, fontsize=size)
        writer.write_text(page)
    return text_layer(doc)


def text_layer(doc: pymupdf.Document) -> list[Page]:
    """The pages' words as the worker reads a text layer."""
    return [
        Page(
            p.number + 1,
            p.rect.width,
            p.rect.height,
            [Word(w[4], w[0], w[1], w[2], w[3], 1.0, w[5], w[6]) for w in p.get_text("words")],
            "text",
        )
        for p in doc
    ]


def table(x_columns: list[float], rows: list[list[str]], *, top: float = 120, pitch: float = 16):
    """(x, y, text) runs for a grid: one list of cell texts per row ("" leaves a cell empty)."""
    runs = []
    for r, row in enumerate(rows):
        for x, text in zip(x_columns, row, strict=True):
            if text:
                runs.append((x, top + r * pitch, text))
    return runs
