"""Documents for the OCR tests, drawn with PyMuPDF and Pillow: good ones and every kind of bad one."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pymupdf
from PIL import Image

# The shared sample documents, optional: `../shared/samples` from the project root, or ANGEBAE_SAMPLES.
# The tests that read them skip, naming this folder, when it is not there.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("ANGEBAE_SAMPLES") or PROJECT_ROOT.parent / "shared" / "samples")
SAMPLES_MISSING = f"no shared samples at {SAMPLES} (set ANGEBAE_SAMPLES to where they are)"

PRODUCT_LINES = [
    "Merino wool scarf      AB-91444      12.49 USD",
    "Stainless steel bottle 750 ml      CM-85429      23.95 USD",
    "Kitchen knife set 5 pieces      ZX-59947      82.49 USD",
    "Natural silk blouse      ZX-23322      199.95 USD",
]
TEXT_ORIGIN = (72, 100)  # where the first line's baseline sits, in points
LINE_STEP = 24


def native_pdf(pages: int = 1, lines: list[str] = PRODUCT_LINES, size=(595, 842)) -> bytes:
    """A PDF whose pages carry a text layer."""
    doc = pymupdf.open()
    for _ in range(pages):
        _draw_lines(doc.new_page(width=size[0], height=size[1]), lines)
    return doc.tobytes()


def _draw_lines(page, lines: list[str]) -> None:
    x, y = TEXT_ORIGIN
    for i, line in enumerate(lines):
        page.insert_text((x, y + i * LINE_STEP), line, fontsize=14, fontname="helv")


def page_pixmap(lines: list[str] = PRODUCT_LINES, dpi: int = 200):
    """A grayscale picture of a text page, as a scanner would deliver it."""
    doc = pymupdf.open()
    _draw_lines(doc.new_page(), lines)
    return doc[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)


def scanned_pdf(pages: int = 1, lines: list[str] = PRODUCT_LINES, dpi: int = 200) -> bytes:
    """A PDF of image-only pages (no text layer), each a full-page scan."""
    png = page_pixmap(lines, dpi).tobytes("png")
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page()
        page.insert_image(page.rect, stream=png)
    return doc.tobytes()


def mixed_pdf() -> bytes:
    """Page 1 with a text layer, page 2 scanned."""
    doc = pymupdf.open(stream=native_pdf(1), filetype="pdf")
    doc.insert_pdf(pymupdf.open(stream=scanned_pdf(1), filetype="pdf"))
    return doc.tobytes()


def image_bytes(fmt: str, lines: list[str] = PRODUCT_LINES, dpi: int = 200) -> bytes:
    """The page picture as PNG, JPEG, TIFF or WEBP, with its resolution recorded."""
    pix = page_pixmap(lines, dpi)
    img = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    out = io.BytesIO()
    options = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    img.save(out, fmt, dpi=(dpi, dpi), **options)
    return out.getvalue()


def multipage_tiff(frames: int = 2) -> bytes:
    pix = page_pixmap(dpi=100)
    img = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    out = io.BytesIO()
    img.save(out, "TIFF", save_all=True, append_images=[img] * (frames - 1), dpi=(100, 100))
    return out.getvalue()


def encrypted_pdf() -> bytes:
    doc = pymupdf.open(stream=native_pdf(1), filetype="pdf")
    return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")


def header_only_pdf() -> bytes:
    return b"%PDF-1.3\nThis is not really a PDF.\n%%EOF\n"


def truncated_pdf(fraction: float = 0.5) -> bytes:
    """A PDF cut short, as by a failed upload: no xref, no trailer, objects missing."""
    data = native_pdf(3)
    return data[: int(len(data) * fraction)]


def zero_pages_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty (PyMuPDF refuses to save one, so it is written out)."""
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG")
    return data[: len(data) // 2]


def huge_page_pdf(side_pt: float = 8400) -> bytes:
    """A page of side_pt x side_pt points holding only a tiny image: 1.2 gigapixels at 300 DPI."""
    tiny = Image.new("L", (8, 8), 255)
    buf = io.BytesIO()
    tiny.save(buf, "PNG")
    doc = pymupdf.open()
    page = doc.new_page(width=side_pt, height=side_pt)
    page.insert_image(pymupdf.Rect(0, 0, 100, 100), stream=buf.getvalue())
    return doc.tobytes()
