"""Opening an uploaded document safely: type sniffing, size/page/pixel limits, clean failures.

PDFs open with PyMuPDF; images (PNG, JPEG, TIFF, WebP) with Pillow, which reads WebP, reports truncated
JPEGs (PyMuPDF silently renders them) and lets a JPEG decode at 1/2..1/8 scale. Every limit is checked
from headers and page sizes before any pixel is decoded: no page is ever rendered larger than
`Limits.max_pixels_per_page`.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass

from angebae.ocr.preprocess import even_lighting
from angebae.ocr.types import Word
from angebae.settings import Settings

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
WEBP = "image/webp"
SUPPORTED_TYPES = (PDF, PNG, JPEG, TIFF, WEBP)

_TYPE_ALIASES = {
    "application/x-pdf": PDF,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/x-png": PNG,
    "image/tif": TIFF,
    "pdf": PDF,
    "png": PNG,
    "jpg": JPEG,
    "jpeg": JPEG,
    "tif": TIFF,
    "tiff": TIFF,
    "webp": WEBP,
}

_UNDECLARED = {"application/octet-stream", "binary/octet-stream", ""}

# A page is "text" when its text layer has at least this many characters, or any text and no image
# covering half of the page (a scan with a small digital header still goes to OCR).
MIN_TEXT_CHARS = 200
MAX_IMAGE_COVERAGE = 0.5
MAX_GARBAGE_SHARE = 0.3  # fonts without a Unicode map extract as U+FFFD: such a layer is not text
_EXIF_ORIENTATION = 0x0112
_QUARTER_TURNS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
DEFAULT_IMAGE_DPI = 96  # what PyMuPDF assumes for an image without resolution info
# MuPDF messages that mean a page of a repaired (damaged) PDF lost part of itself; MuPDF logs them
# and carries on with a blank or partial page, which must not pass as a page without products.
_DAMAGE_MARKERS = ("non-page object in page tree", "cannot load content stream", "premature end of data")
# Messages that mean a page lost content in any PDF, repaired or not: a content stream that does not
# decompress (a checksum error alone, "incorrect data check", loses nothing), objects nested past
# MuPDF's limit, an object that cannot be loaded (a broken object stream), reference loops (in a
# font, a Type3 font drawing itself), a descendant font of no known type.
_LOSS_MARKERS = (
    "zlib error: invalid",
    "premature end of data",
    "stack overflow",
    "cannot load object",
    "cannot load content stream",
    "indirection cycle",
    "recursive type3 font",
    "unknown cid font type",
)


class DocumentError(Exception):
    """A document that can never be read as sent: record it on the job, do not retry.

    Codes: empty, too_large, unsupported_type, type_mismatch, corrupt, encrypted, no_pages,
    too_many_pages, invalid_pages, page_too_large, page_too_complex, unsupported_language,
    ocr_timeout, ocr_failed.
    """

    permanent = True

    def __init__(self, code: str, message: str, page: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.page = page

    def __reduce__(self):  # crosses process boundaries intact
        return (DocumentError, (self.code, self.message, self.page))


def _configured(name: str):
    return Settings.model_fields[name].default


@dataclass(frozen=True, slots=True)
class Limits:
    """What reading one document may cost. The first six are configurable (their defaults are the
    settings' own, angebae.settings); the rest are fixed here."""

    max_bytes: int = _configured("max_upload_bytes")
    max_pages: int = _configured("max_pages")
    max_pixels_per_page: int = _configured("max_pixels_per_page")
    page_timeout_seconds: float = _configured("ocr_page_timeout_seconds")
    dpi: int = _configured("ocr_dpi")
    min_dpi: int = 100  # below this Tesseract reads little; a page that needs less is page_too_large
    min_scan_dpi: int = 150  # scans this sharp are read at their own resolution, coarser ones upsampled
    # What reading a page's text layer may cost (page_too_complex past it). A glyph costs about one
    # byte of content stream, 0.13 us and 55 bytes of memory to extract: the content a page and all
    # pages together may decode to is counted before any is read (a real page holds 10-100 KB);
    # the page's process is killed past its time or memory, whatever the content is made of.
    max_content_bytes_per_page: int = 8 * 1024 * 1024
    max_content_bytes: int = 256 * 1024 * 1024
    # A page with at most this much content and no form XObjects has its text layer read in the
    # worker's own process (at most ~30 MB and ~70 ms): forking the pool for every native PDF would
    # cost more than reading it (native PDFs read at 0.46x the pages/s; bench/ocr_bench.py).
    max_inline_content_bytes: int = 512 * 1024
    text_timeout_seconds: float = 15.0
    text_memory_bytes: int = 512 * 1024 * 1024  # what a page's process may grow by reading its text
    # ... and by rendering and OCR'ing it: a 60-megapixel page of dense text takes Tesseract 1.3 GB
    page_memory_bytes: int = _configured("ocr_page_memory_mb") * 1024 * 1024

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            max_bytes=s.max_upload_bytes,
            max_pages=s.max_pages,
            max_pixels_per_page=s.max_pixels_per_page,
            page_timeout_seconds=s.ocr_page_timeout_seconds,
            dpi=s.ocr_dpi,
            page_memory_bytes=s.ocr_page_memory_mb * 1024 * 1024,
        )


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class GrayImage:
    """8-bit grayscale pixels, row by row; `points_per_pixel` maps pixels back to PDF points."""

    pixels: bytes
    width: int
    height: int
    stride: int
    points_per_pixel: float


@contextlib.contextmanager
def reading(what: str, page: int | None = None) -> Iterator[None]:
    """Whatever a document library raises while reading the document is the document's fault: the
    error is classified by where it happened (here), not by its type. MuPDF raises RuntimeError,
    ValueError and its FzError* classes, Pillow OSError, SyntaxError, struct.error and more; a loop
    or a nesting bomb may give RecursionError; an allocation that fails, MemoryError."""
    try:
        yield
    except DocumentError:
        raise
    except MemoryError:
        raise DocumentError(
            "page_too_complex", f"{what}: it needs more memory than a page may use", page
        ) from None
    except Exception as exc:
        raise DocumentError("corrupt", f"{what} ({exc or type(exc).__name__})", page) from None


def sniff_type(head: bytes) -> str | None:
    """The document's MIME type from its first bytes, or None when it is none we read."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if b"%PDF-" in head[:1024]:  # readers accept leading garbage before the header
        return PDF
    return None


def normalize_type(declared: str | None) -> str | None:
    """A declared MIME type (or bare extension) in canonical form; None when nothing was declared.

    "application/octet-stream" (and S3's "binary/octet-stream") say "some bytes": no declaration.
    """
    if not declared:
        return None
    value = declared.split(";")[0].strip().lower().lstrip(".")
    if value in _UNDECLARED:
        return None
    return _TYPE_ALIASES.get(value, value)


def open_document(data: bytes, declared_type: str | None = None, limits: Limits = DEFAULT_LIMITS):
    """A PdfDocument or ImageDocument, after the checks that need no rendering.

    Raises DocumentError: empty, too_large, unsupported_type, type_mismatch, corrupt, encrypted,
    no_pages, too_many_pages (the document's page count against `limits.max_pages`).
    """
    if not data:
        raise DocumentError("empty", "the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise DocumentError("too_large", f"the file has {len(data)} bytes; the limit is {limits.max_bytes}")
    actual = sniff_type(data[:1024])
    declared = normalize_type(declared_type)
    if declared is not None and declared not in SUPPORTED_TYPES:
        raise DocumentError("unsupported_type", f"{declared_type!r} is not a supported type")
    if actual is None:
        raise DocumentError("unsupported_type", "the content is not a PDF, PNG, JPEG, TIFF or WebP file")
    if declared is not None and declared != actual:
        raise DocumentError("type_mismatch", f"declared as {declared} but the content is {actual}")
    doc = PdfDocument(data, limits) if actual == PDF else ImageDocument(data, actual, limits)
    if doc.page_count > limits.max_pages:
        count = doc.page_count
        doc.close()
        raise DocumentError(
            "too_many_pages", f"the document has {count} pages; the limit is {limits.max_pages}"
        )
    return doc


def _fit_dpi(width_pt: float, height_pt: float, limits: Limits, page: int) -> float:
    """limits.dpi, or the highest DPI at which the page stays within the pixel cap."""
    pixels = (width_pt * limits.dpi / 72) * (height_pt * limits.dpi / 72)
    if pixels <= limits.max_pixels_per_page:
        return float(limits.dpi)
    dpi = math.floor(limits.dpi * math.sqrt(limits.max_pixels_per_page / pixels))
    if dpi < limits.min_dpi:
        raise DocumentError(
            "page_too_large",
            f"page {page} is {width_pt:.0f}x{height_pt:.0f} pt: {pixels / 1e6:.0f} megapixels at "
            f"{limits.dpi} DPI, over the limit of {limits.max_pixels_per_page / 1e6:.0f} "
            f"even at {limits.min_dpi} DPI",
            page,
        )
    return float(dpi)


class PdfDocument:
    mime = PDF

    def __init__(self, data: bytes, limits: Limits):
        import pymupdf

        self._pymupdf = pymupdf
        self.limits = limits
        pymupdf.TOOLS.mupdf_display_errors(False)  # they end up in the DocumentError instead
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        with reading("not a readable PDF"):  # FileDataError, EmptyFileError, RuntimeError from MuPDF
            self._doc = pymupdf.open(stream=data, filetype="pdf")
        try:
            with reading("not a readable PDF"):  # a looping page tree: "Invalid number of pages"
                if self._doc.needs_pass:
                    raise DocumentError("encrypted", "the PDF is password-protected")
                self._count = self._doc.page_count
                # A truncated file "repairs" to zero pages, an xref that loops loses them all:
                # damage (MuPDF said so on opening), not an empty document.
                damaged = (
                    self._doc.is_repaired
                    or self._doc.pdf_catalog() <= 0
                    or bool(pymupdf.TOOLS.mupdf_warnings(reset=True).strip())
                )
        except DocumentError:
            self.close()
            raise
        if self._count == 0:
            self.close()
            if damaged:
                raise DocumentError("corrupt", "the PDF is damaged or truncated: no page could be found")
            raise DocumentError("no_pages", "the PDF has no pages")

    @property
    def page_count(self) -> int:
        return self._count

    def close(self) -> None:
        self._doc.close()

    def _page(self, number: int):
        with reading(f"page {number} cannot be read", number):
            return self._doc.load_page(number - 1)

    def _check_damage(self, number: int) -> None:
        """Raises corrupt when MuPDF reported losing part of this page (read since the last check)."""
        messages = self._pymupdf.TOOLS.mupdf_warnings(reset=True)
        markers = _LOSS_MARKERS + (_DAMAGE_MARKERS if self._doc.is_repaired else ())
        for line in messages.splitlines():
            if any(marker in line for marker in markers):
                raise DocumentError("corrupt", f"page {number} is damaged ({line.strip()})", number)

    def page_size(self, number: int) -> tuple[float, float]:
        page = self._page(number)
        with reading(f"page {number} cannot be read", number):
            rect = page.rect
            return rect.width, rect.height

    def check_content(self, numbers: list[int]) -> set[int]:
        """page_too_complex when a page's content streams (and the form XObjects it draws) decode to
        more than `limits.max_content_bytes_per_page`, or the pages' together to more than
        `limits.max_content_bytes` (a stream that several pages draw counts on each). Streams are
        decoded through MuPDF's own filters and counted, never held: bounded time and memory.

        Returns the pages light enough to read in the caller's own process: content of at most
        `limits.max_inline_content_bytes`, counting each form as often as the page draws it (a form
        may be drawn any number of times, so its glyphs are not bounded by its size)."""
        decoded: dict[int, int] = {}
        per_page, total = self.limits.max_content_bytes_per_page, 0
        light: set[int] = set()
        for number in numbers:
            page = self._page(number)
            with reading(f"page {number} cannot be read", number):
                forms = {x[0] for x in page.get_xobjects()}
                xrefs = set(page.get_contents()) | forms
            size = 0
            for xref in sorted(xrefs):
                if xref not in decoded:
                    decoded[xref] = self._decoded_size(xref, per_page + 1)
                size += decoded[xref]
            total += size
            if size > per_page:
                raise DocumentError(
                    "page_too_complex",
                    f"page {number}'s content decodes to more than {_mib(per_page)}, the limit per page",
                    number,
                )
            if total > self.limits.max_content_bytes:
                raise DocumentError(
                    "page_too_complex",
                    f"the pages' content decodes to more than "
                    f"{_mib(self.limits.max_content_bytes)} in all (at page {number})",
                    number,
                )
            if size <= self.limits.max_inline_content_bytes and self._forms_bounded(page, forms, decoded):
                light.add(number)
        return light

    def _forms_bounded(self, page, forms: set[int], decoded: dict[int, int]) -> bool:
        """Whether the forms a light page draws keep its text within the inline budget: none of them
        draws another, and the page's draws times the largest form fit in it."""
        if not forms:
            return True
        with reading(f"page {page.number + 1} cannot be read", page.number + 1):
            if any(self._doc.xref_get_key(xref, "Resources/XObject")[0] != "null" for xref in forms):
                return False  # forms drawing forms: only the killable pool bounds them
            content = b"".join(self._doc.xref_stream(xref) or b"" for xref in page.get_contents())
        cost = content.count(b"Do") * max(decoded[xref] for xref in forms)
        return cost <= self.limits.max_inline_content_bytes

    def _decoded_size(self, xref: int, cap: int) -> int:
        """The stream's decoded length, counted up to `cap`; a stream that breaks counts what it gave
        (the damage is reported when the page is read)."""
        mupdf = self._pymupdf.mupdf
        counted = 0
        try:
            stream = mupdf.pdf_open_stream_number(mupdf.pdf_document_from_fz_document(self._doc.this), xref)
            while counted < cap and (step := mupdf.fz_skip(stream, min(1 << 20, cap - counted))) > 0:
                counted += step
        except Exception:
            pass
        return counted

    def text_words(self, number: int) -> list[Word] | None:
        """The page's text-layer words, or None when the page has no real text (OCR it)."""
        self._pymupdf.TOOLS.mupdf_warnings(reset=True)
        page = self._page(number)
        with reading(f"page {number} cannot be read", number):
            raw = page.get_text("words", sort=True)
            images = page.get_image_info() if raw else []
        self._check_damage(number)
        if not _is_real_text("".join(w[4] for w in raw), images, page.rect):
            return None
        return [Word(w[4], w[0], w[1], w[2], w[3], 1.0, w[5], w[6]) for w in raw]

    def render_dpi(self, number: int) -> float:
        """The DPI to render this page at; DocumentError page_too_large when no DPI fits the caps."""
        page = self._page(number)
        cap = self.limits.max_pixels_per_page
        with reading(f"page {number} cannot be read", number):
            images = page.get_images(full=True)
        for image in images:
            width, height = image[2], image[3]
            if width * height > cap:
                raise DocumentError(
                    "page_too_large",
                    f"page {number} holds a {width}x{height} image, "
                    f"over the limit of {cap / 1e6:.0f} megapixels",
                    number,
                )
        dpi = _fit_dpi(page.rect.width, page.rect.height, self.limits, number)
        return min(dpi, self._scan_dpi(page) or dpi)

    def _scan_dpi(self, page) -> float | None:
        """A scanned page (one image over most of it) at its own resolution, when that is at least
        `limits.min_scan_dpi`: upsampling a 200 DPI scan to 300 blurs its commas ("3,3333" read as
        "33393"), and costs more OCR time."""
        try:
            infos = page.get_image_info()
        except Exception:
            return None
        area = max(page.rect.width * page.rect.height, 1.0)
        for info in infos:
            x0, y0, x1, y1 = info["bbox"]
            if (x1 - x0) * (y1 - y0) >= MAX_IMAGE_COVERAGE * area and x1 > x0:
                native = info["width"] / ((x1 - x0) / 72)
                return native if native >= self.limits.min_scan_dpi else None
        return None

    def render(self, number: int, dpi: float) -> GrayImage:
        self._pymupdf.TOOLS.mupdf_warnings(reset=True)
        page = self._page(number)
        zoom = dpi / 72
        with reading(f"page {number} cannot be rendered", number):
            pix = page.get_pixmap(
                matrix=self._pymupdf.Matrix(zoom, zoom), colorspace=self._pymupdf.csGRAY, alpha=False
            )
        self._check_damage(number)
        return GrayImage(pix.samples, pix.width, pix.height, pix.stride, 72 / dpi)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def _is_real_text(chars: str, images: list[dict], rect) -> bool:
    chars = "".join(chars.split())
    if not chars:
        return False
    garbage = sum(1 for c in chars if c == "\ufffd" or ord(c) < 32)
    if garbage > MAX_GARBAGE_SHARE * len(chars):
        return False
    if len(chars) >= MIN_TEXT_CHARS:
        return True
    page_area = max(rect.width * rect.height, 1.0)
    covered = 0.0
    for image in images:
        x0, y0, x1, y1 = image["bbox"]
        w = min(x1, rect.x1) - max(x0, rect.x0)
        h = min(y1, rect.y1) - max(y0, rect.y0)
        covered += max(w, 0) * max(h, 0)
    return covered / page_area < MAX_IMAGE_COVERAGE


class ImageDocument:
    """One page per frame (multi-page TIFF); pixels decoded only in `render`."""

    def __init__(self, data: bytes, mime: str, limits: Limits):
        from PIL import Image

        self._image_module = Image
        self._data = data
        self.mime = mime
        self.limits = limits
        try:
            self._img = Image.open(io.BytesIO(data))
            self._frames = getattr(self._img, "n_frames", 1)
        except Image.DecompressionBombError as exc:
            raise DocumentError("page_too_large", f"the image is too large ({exc})", 1) from None
        except Exception as exc:
            raise DocumentError("corrupt", f"not a readable image ({exc})") from None
        if self._frames < 1:
            raise DocumentError("no_pages", "the image has no frames")

    @property
    def page_count(self) -> int:
        return self._frames

    def close(self) -> None:
        self._img.close()

    def _seek(self, number: int) -> None:
        with reading(f"image frame {number} cannot be read", number):
            self._img.seek(number - 1)

    def _native_dpi(self) -> float:
        dpi = self._img.info.get("dpi")
        if dpi is None:
            return DEFAULT_IMAGE_DPI
        try:
            value = float(dpi[0])
        except (TypeError, ValueError, IndexError):
            return DEFAULT_IMAGE_DPI
        return value if 50 <= value <= 2400 else DEFAULT_IMAGE_DPI

    def page_size(self, number: int) -> tuple[float, float]:
        """The page as it is meant to be seen: a phone photo's EXIF orientation applied."""
        self._seek(number)
        scale = 72 / self._native_dpi()
        width, height = self._img.width * scale, self._img.height * scale
        return (height, width) if self._exif_orientation() in _QUARTER_TURNS else (width, height)

    def _exif_orientation(self) -> int:
        try:
            return int(self._img.getexif().get(_EXIF_ORIENTATION, 1))
        except Exception:  # a broken EXIF block says nothing about the pixels
            return 1

    def check_content(self, numbers: list[int]) -> set[int]:
        """An image has no content streams (its pixels are capped by render_dpi) and no page to
        read in the caller's process: every frame is OCR'd in the pool."""
        return set()

    def text_words(self, number: int) -> list[Word] | None:
        return None

    def render_dpi(self, number: int) -> float:
        """The image's own resolution (never upscaled); JPEGs over the cap decode at 1/2..1/8."""
        self._seek(number)
        native = self._native_dpi()
        pixels = self._img.width * self._img.height
        cap = self.limits.max_pixels_per_page
        if pixels <= cap:
            return native
        if self._img.format == "JPEG":
            for factor in (2, 4, 8):
                if pixels / factor**2 <= cap:
                    return native / factor
        raise DocumentError(
            "page_too_large",
            f"page {number} is a {self._img.width}x{self._img.height} image, over the limit of "
            f"{cap / 1e6:.0f} megapixels",
            number,
        )

    def render(self, number: int, dpi: float) -> GrayImage:
        width_pt, _ = self.page_size(number)
        native = self._native_dpi()
        try:
            # A fresh image object: draft() and decoding must not change the sizes page_size reports.
            img = self._image_module.open(io.BytesIO(self._data))
            img.seek(number - 1)
            if dpi < native:  # only a JPEG over the pixel cap (render_dpi): decode at 1/factor
                factor = round(native / dpi)
                img.draft("L", (img.width // factor, img.height // factor))
            gray = _upright(_to_gray(img), self._exif_orientation())
            gray = even_lighting(gray, dpi)
        except Exception as exc:  # "image file is truncated", broken streams
            raise DocumentError("corrupt", f"the image cannot be decoded ({exc})", number) from None
        return GrayImage(gray.tobytes(), gray.width, gray.height, gray.width, width_pt / gray.width)


def _upright(gray, orientation: int):
    """Pixels turned as EXIF orientation 2..8 says (phones store them as the sensor saw them)."""
    from PIL import Image

    transpose = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    return gray.transpose(transpose) if transpose is not None else gray


def _to_gray(img):
    """8-bit gray; transparent areas become white paper rather than black."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        from PIL import Image

        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("L")
    return img.convert("L")
