"""A photographed page's uneven lighting is evened out before OCR (real Tesseract and Pillow).

The page: product lines drawn with PyMuPDF on a small sheet, then lit as a phone photo is lit from
one side: the paper darkens from white on the left to mid gray on the right, and the ink with it.
"""

from __future__ import annotations

import io
from decimal import Decimal

import pymupdf
import pytest
from angebae.ocr.extract import extract_candidates
from angebae.ocr.pipeline import read_document
from angebae.ocr.preprocess import background_spread, even_lighting
from PIL import Image, ImageChops

pytestmark = pytest.mark.ocr

LINES = [
    ("Merino wool scarf", "12.49"),
    ("Stainless steel bottle", "23.95"),
    ("Kitchen knife set", "82.49"),
    ("Natural silk blouse", "199.95"),
]
DPI = 200


def _sheet() -> Image.Image:
    doc = pymupdf.open()
    page = doc.new_page(width=430, height=160)
    for i, (name, price) in enumerate(LINES):
        page.insert_text((24, 40 + i * 28), name, fontsize=12, fontname="helv")
        page.insert_text((330, 40 + i * 28), f"{price} USD", fontsize=12, fontname="helv")
    pix = page.get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY)
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def _lit_from_the_left(img: Image.Image, darkest: int) -> Image.Image:
    """The page multiplied by light falling from 255 (left edge) to `darkest` (right edge)."""
    ramp = Image.linear_gradient("L").rotate(90, expand=True).resize(img.size)  # 255 left .. 0 right
    light = ramp.point(lambda v: darkest + v * (255 - darkest) // 255)
    return ImageChops.multiply(img, light)


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()


def _products(data: bytes) -> list[tuple[str, Decimal]]:
    pages = list(read_document(data, languages="eng", workers=1))
    return [(c.name, c.price) for c in extract_candidates(pages)]


def test_a_page_lit_from_one_side_is_read_whole():
    # GIVEN a photo whose right half, where the prices are, lies in shadow (paper at 25-45% of white)
    photo = _lit_from_the_left(_sheet(), darkest=60)
    # WHEN it is read as an upload
    found = _products(_png(photo))
    # THEN every product is read with its price, the shaded ones too
    assert found == [(name, Decimal(price)) for name, price in LINES]


def test_evenly_lit_pages_are_left_as_they_are():
    # GIVEN a clean render (a scan, a screenshot) and the same page in shadow
    clean, shaded = _sheet(), _lit_from_the_left(_sheet(), darkest=60)
    # WHEN lighting is evened out
    # THEN the clean page comes back untouched, and the shaded one with its paper white again
    assert background_spread(clean, DPI) <= 2
    assert even_lighting(clean, DPI) is clean
    assert background_spread(shaded, DPI) > 100
    assert background_spread(even_lighting(shaded, DPI), DPI) < 40
