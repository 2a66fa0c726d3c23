"""Pages photographed or scanned sideways or upside down are read upright (real Tesseract, OSD).

The page: a small sheet with a few product lines drawn with PyMuPDF, rendered to gray pixels and
turned as a phone or a scanner would deliver it, then read by the pipeline like any upload.
"""

from __future__ import annotations

import io

import pymupdf
import pytest
from angebae.ocr.document import GrayImage
from angebae.ocr.engine import get_engine, ocr_upright, rotate_image
from angebae.ocr.extract import extract_candidates
from angebae.ocr.pipeline import read_document
from PIL import Image

pytestmark = pytest.mark.ocr

LINES = [
    "Merino wool scarf      AB-91444      12.49 USD",
    "Stainless steel bottle 750 ml      CM-85429      23.95 USD",
    "Kitchen knife set 5 pieces      ZX-59947      82.49 USD",
    "Natural silk blouse      ZX-23322      199.95 USD",
]
PAGE = (430, 160)  # points: a small sheet, so that each OCR pass takes a fraction of a second
DPI = 200


def _upright_gray() -> Image.Image:
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE[0], height=PAGE[1])
    for i, line in enumerate(LINES):
        page.insert_text((24, 40 + i * 28), line, fontsize=12, fontname="helv")
    pix = page.get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY)
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()


def _scanned_pdf(img: Image.Image) -> bytes:
    """An image-only PDF page the size of the (turned) picture at DPI."""
    doc = pymupdf.open()
    page = doc.new_page(width=img.width * 72 / DPI, height=img.height * 72 / DPI)
    page.insert_image(page.rect, stream=_png(img))
    return doc.tobytes()


def _products(data: bytes):
    pages = list(read_document(data, languages="eng", workers=1))
    return pages, sorted((c.name, c.price) for c in extract_candidates(pages))


@pytest.fixture(scope="module")
def upright():
    return _products(_scanned_pdf(_upright_gray()))


def test_upright_page_is_read_without_orientation_detection(upright):
    # GIVEN the page the right way up
    gray = _upright_gray()
    image = GrayImage(gray.tobytes(), gray.width, gray.height, gray.width, 72 / DPI)
    # WHEN it is OCR'd
    read = ocr_upright(get_engine(), image, "eng", 60.0, 3)
    # THEN the first pass reads well: no OSD, no turn, and the products all come out
    assert (read.rotation, read.orientation) == (0, None)
    pages, products = upright
    assert (round(pages[0].width), round(pages[0].height)) == PAGE
    assert sorted(str(price) for _, price in products) == ["12.49", "199.95", "23.95", "82.49"]


@pytest.mark.parametrize(("degrees", "as_png"), [(90, False), (180, False), (270, False), (90, True)])
def test_turned_page_reads_as_the_upright_one(upright, degrees, as_png):
    # GIVEN the page turned `degrees` counter-clockwise, as a scanned PDF page or a PNG upload
    turned = _upright_gray().rotate(degrees, expand=True)
    data = _png(turned) if as_png else _scanned_pdf(turned)
    # WHEN it is read and its candidates extracted
    pages, products = _products(data)
    # THEN the page is described upright (size and words) and gives the same products and prices
    page = pages[0]
    assert (round(page.width), round(page.height)) == PAGE
    assert all(0 <= w.x0 < w.x1 <= page.width + 1 and 0 <= w.y0 < w.y1 <= page.height + 1 for w in page.words)
    assert products == upright[1]


def test_rotate_image_turns_counter_clockwise():
    # GIVEN a 3x2 image whose top-left pixel is black
    image = GrayImage(bytes([0, 255, 255, 255, 255, 255]), 3, 2, 3, 0.5)
    # WHEN it is turned a quarter counter-clockwise
    turned = rotate_image(image, 90)
    # THEN it is 2x3 and the black pixel sits at the bottom left
    assert (turned.width, turned.height, turned.points_per_pixel) == (2, 3, 0.5)
    assert turned.pixels == bytes([255, 255, 255, 255, 0, 255])


def test_both_engines_tell_the_same_orientation():
    # GIVEN the page upside down
    gray = _upright_gray().rotate(180)
    image = GrayImage(gray.tobytes(), gray.width, gray.height, gray.width, 72 / DPI)
    # WHEN each engine's OSD looks at it
    found = [get_engine(name).detect_orientation(image, 30.0) for name in ("tesserocr", "pytesseract")]
    # THEN both say: turn it 180 degrees
    assert [f.degrees for f in found] == [180, 180]
