"""OCR engines behind one small interface: grayscale pixels in, words in PDF points out.

Two implementations of the same Tesseract call (measured in layers/ocr/README.md):
- `tesserocr` (default when importable): the model stays loaded in the process and raw pixels are
  handed over without encoding; about 2x faster per page than the subprocess route.
- `pytesseract`: one `tesseract` subprocess per page, fed a PGM file (a PNG encode costs more than
  the OCR of a sparse page).
Both produce Tesseract's TSV, parsed by one function.

Pages photographed or scanned sideways or upside down: `ocr_upright` OCRs a page once and, only
when that first pass reads badly, asks Tesseract's orientation detection (OSD) how the page is
turned, turns the pixels upright and OCRs them again (see `ocr_upright` for why not always).
"""

from __future__ import annotations

import functools
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Protocol

# Tesseract's OpenMP threads make several pages in parallel 2.5-4x slower: one thread per process,
# parallelism comes from processes. Set before any Tesseract library is loaded.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from angebae.ocr.document import DocumentError, GrayImage  # noqa: E402
from angebae.ocr.types import Word  # noqa: E402

TESSDATA_DIRS = (
    "/opt/share/tessdata",  # the OCR Lambda layer (layers/ocr/build.sh) where AWS mounts layers
    "/usr/share/tesseract-ocr/5/tessdata",  # Debian / Ubuntu
    "/usr/share/tesseract/tessdata",  # Amazon Linux, Fedora
    "/usr/local/share/tessdata",
)
# Tesseract's language names ("spa", "chi_sim", "deu_latf") joined by "+", at most five: the one rule,
# for the API's enqueue (a 422) and for the worker (the job fails "unsupported_language").
LANGUAGES_RE = re.compile(r"^[a-z][a-z0-9_]{2,15}(\+[a-z][a-z0-9_]{2,15}){0,4}$")

# OSD's orientation_conf (arbitrary units; tesserocr calls 15 "reasonably confident", OCRmyPDF's
# default threshold is 14) on rendered test pages and the real receipt photos turned 90/180/270:
# 3.8-5.1 on a sparse 4-line page, 4.4-8.7 on receipts, 8-14 on dense invoices; near-blank pages
# give 1.7 with a wrong script. 15 would leave most sparse pages sideways; below 2.5 OSD is guessing.
# A turn is kept only when the turned page also reads better than the first pass (`ocr_upright`).
MIN_ORIENTATION_CONFIDENCE = 2.5
# A first pass "reads well" when at least this share of its words has confidence >= 0.9:
# upright pages measured 0.40-0.44 (receipt photos, the worst) and ~0.9 (scans, rendered pages);
# the same pages turned 90/180/270 measured 0.01-0.06 (garbage words, mean confidence 0.36-0.64,
# which overlaps the receipts' 0.65-0.74 mean, hence the share instead of the mean).
MIN_CONFIDENT_SHARE = 0.2
# Fewer words than this is no text to orient (OSD wants 50 characters): a blank or near-blank page
# reads as 0-1 words, a turned page with text as dozens of garbage words. Saves OSD (1.5 s measured
# on a near-blank 200 DPI scan page) where it could only answer "not confident".
MIN_WORDS_FOR_OSD = 5
_CONFIDENT_WORD = 0.9
_QUARTER_TURN_TRANSPOSE = {90: "ROTATE_90", 180: "ROTATE_180", 270: "ROTATE_270"}


@dataclass(frozen=True, slots=True)
class Orientation:
    """Tesseract OSD's answer: turning the image `degrees` counter-clockwise (0, 90, 180, 270)
    makes it upright; `confidence` is OSD's orientation_conf."""

    degrees: int
    confidence: float


class OcrEngine(Protocol):
    name: str

    def languages(self) -> set[str]: ...

    def ocr_image(self, image: GrayImage, languages: str, timeout: float, psm: int = 3) -> list[Word]: ...

    def detect_orientation(self, image: GrayImage, timeout: float) -> Orientation | None: ...


def tessdata_dir() -> str | None:
    """TESSDATA_PREFIX if set, else the OCR layer's models wherever the layer is mounted, else the
    first known folder holding traineddata files.

    The layer is `python/` (on sys.path, as every runtime puts a layer's python/) and `share/tessdata`
    beside it: AWS mounts it at /opt, MiniStack unpacks it under its temporary folder, so the models
    are found from the layer's own path on sys.path, never from where some engine mounts it."""
    env = os.environ.get("TESSDATA_PREFIX")
    if env:
        return env
    beside_layers = [
        os.path.join(os.path.dirname(os.path.abspath(entry)), "share", "tessdata")
        for entry in sys.path
        if entry and os.path.basename(os.path.normpath(entry)) == "python"
    ]
    for folder in (*dict.fromkeys(beside_layers), *TESSDATA_DIRS):
        if os.path.isdir(folder) and any(f.endswith(".traineddata") for f in os.listdir(folder)):
            return folder
    return None


def parse_tsv(tsv: str, points_per_pixel: float) -> list[Word]:
    """Words from Tesseract's TSV (image_to_data / GetTSVText), with 0..1 confidence.

    `block` is Tesseract's block number; `line` numbers lines within a block across its paragraphs,
    as PyMuPDF numbers text-layer lines.
    """
    words: list[Word] = []
    line_ids: dict[tuple[int, int, int], int] = {}
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) != 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        conf = float(cols[10])
        if not text or conf < 0:
            continue
        block, par, line = int(cols[2]), int(cols[3]), int(cols[4])
        key = (block, par, line)
        if key not in line_ids:
            line_ids[key] = sum(1 for b, _, _ in line_ids if b == block)
        left, top, width, height = (int(v) for v in cols[6:10])
        s = points_per_pixel
        words.append(
            Word(
                text=text,
                x0=left * s,
                y0=top * s,
                x1=(left + width) * s,
                y1=(top + height) * s,
                confidence=max(0.0, min(1.0, conf / 100.0)),
                block=block,
                line=line_ids[key],
            )
        )
    return words


def language_problem(languages: str, available: set[str] | None) -> tuple[str, str] | None:
    """(problem, message) when `languages` cannot be read, else None; `available` None: the installed
    languages are not known here (an API function without the OCR layer), only the form is checked."""
    if not LANGUAGES_RE.match(languages or ""):
        return (
            "invalid language list",
            "languages must look like 'spa' or 'spa+eng': Tesseract language "
            "names joined by '+', at most five.",
        )
    missing = sorted(set(languages.split("+")) - available) if available is not None else []
    if missing:
        return (
            "not installed",
            f"Language(s) not installed: {', '.join(missing)}; "
            f"available: {', '.join(sorted(available or ()))}.",
        )
    return None


def _check_languages(languages: str, available: set[str]) -> None:
    if problem := language_problem(languages, available):
        raise DocumentError("unsupported_language", problem[1])


class TesserocrEngine:
    """libtesseract in-process; one loaded API per language set, reused for every page."""

    name = "tesserocr"

    def __init__(self) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self._path = tessdata_dir() or tesserocr.get_languages()[0]
        self._apis: dict[tuple[str, int], object] = {}
        self._osd: Any = None  # tesserocr.PyTessBaseAPI for OSD, made on first use

    def languages(self) -> set[str]:
        return set(self._tesserocr.get_languages(self._path)[1]) - {"osd"}

    def _api(self, languages: str, psm: int):
        key = (languages, psm)
        if key not in self._apis:
            _check_languages(languages, self.languages())
            t = self._tesserocr
            self._apis[key] = t.PyTessBaseAPI(path=self._path, lang=languages, psm=psm, oem=t.OEM.LSTM_ONLY)
        return self._apis[key]

    def ocr_image(self, image: GrayImage, languages: str, timeout: float, psm: int = 3) -> list[Word]:
        api = self._api(languages, psm)
        api.SetImageBytes(image.pixels, image.width, image.height, 1, image.stride)
        # Recognize's timeout is in milliseconds; 0 would mean "no limit".
        if not api.Recognize(max(1, int(timeout * 1000))):
            api.Clear()
            raise DocumentError("ocr_timeout", f"OCR of a page took longer than {timeout:g} s")
        tsv = api.GetTSVText(0)
        api.Clear()
        return parse_tsv(tsv, image.points_per_pixel)

    def detect_orientation(self, image: GrayImage, timeout: float) -> Orientation | None:
        """OSD with osd.traineddata; None when it is not installed or OSD finds too little text.
        (DetectOrientationScript takes no time limit: the worker's hard deadline still applies.)"""
        if self._osd is None:
            if "osd" not in self._tesserocr.get_languages(self._path)[1]:
                return None
            t = self._tesserocr
            self._osd = t.PyTessBaseAPI(path=self._path, lang="osd", psm=t.PSM.OSD_ONLY)
        self._osd.SetImageBytes(image.pixels, image.width, image.height, 1, image.stride)
        found = self._osd.DetectOrientationScript()
        self._osd.Clear()
        if not found:
            return None
        return Orientation(int(found["orient_deg"]) % 360, float(found["orient_conf"]))


class PytesseractEngine:
    """The `tesseract` command, one process per page, fed a PGM (no PNG encode)."""

    name = "pytesseract"

    def __init__(self) -> None:
        import pytesseract

        self._pytesseract = pytesseract

    def languages(self) -> set[str]:
        return _command_languages(self._pytesseract.pytesseract.tesseract_cmd)

    def ocr_image(self, image: GrayImage, languages: str, timeout: float, psm: int = 3) -> list[Word]:
        _check_languages(languages, self.languages())
        with tempfile.NamedTemporaryFile(suffix=".pgm") as f:
            _write_pgm(f, image)
            try:
                tsv = self._pytesseract.image_to_data(
                    f.name, lang=languages, config=f"--oem 1 --psm {psm}", timeout=timeout
                )
            except RuntimeError as exc:  # pytesseract's way of saying the subprocess was killed
                if "timeout" in str(exc).lower():
                    raise DocumentError(
                        "ocr_timeout", f"OCR of a page took longer than {timeout:g} s"
                    ) from exc
                raise
        return parse_tsv(tsv, image.points_per_pixel)

    def detect_orientation(self, image: GrayImage, timeout: float) -> Orientation | None:
        """`tesseract --psm 0`; None when osd.traineddata is missing or OSD finds too little text."""
        pytesseract = self._pytesseract
        if "osd" not in _command_all_languages(pytesseract.pytesseract.tesseract_cmd):
            return None
        with tempfile.NamedTemporaryFile(suffix=".pgm") as f:
            _write_pgm(f, image)
            try:
                found = pytesseract.image_to_osd(f.name, timeout=timeout, output_type=pytesseract.Output.DICT)
            except (pytesseract.TesseractError, RuntimeError):  # "Too few characters", timeout
                return None
        return Orientation(int(found["orientation"]) % 360, float(found["orientation_conf"]))


def _write_pgm(f, image: GrayImage) -> None:
    f.write(f"P5\n{image.width} {image.height}\n255\n".encode())
    if image.stride == image.width:
        f.write(image.pixels)
    else:
        for y in range(image.height):
            f.write(image.pixels[y * image.stride : y * image.stride + image.width])
    f.flush()


@functools.lru_cache(maxsize=4)
def _command_all_languages(cmd: str) -> frozenset[str]:
    import pytesseract

    return frozenset(pytesseract.get_languages())


def _command_languages(cmd: str) -> set[str]:
    return set(_command_all_languages(cmd)) - {"osd"}


_ENGINES: dict[str, type[OcrEngine]] = {"tesserocr": TesserocrEngine, "pytesseract": PytesseractEngine}


@functools.lru_cache(maxsize=4)
def get_engine(name: str | None = None) -> OcrEngine:
    """The engine named (or ANGEBAE_OCR_ENGINE); by default tesserocr, else pytesseract."""
    name = name or os.environ.get("ANGEBAE_OCR_ENGINE") or None
    if name:
        if name not in _ENGINES:
            raise ValueError(f"unknown OCR engine {name!r}; known: {', '.join(_ENGINES)}")
        return _ENGINES[name]()
    try:
        return TesserocrEngine()
    except ImportError:
        return PytesseractEngine()


def check_languages(languages: str, engine: str | None = None) -> None:
    """DocumentError("unsupported_language") unless each language of `languages` ("spa+eng") is installed."""
    _check_languages(languages, get_engine(engine).languages())


def ocr_image(
    image: GrayImage, languages: str = "spa+eng", timeout: float = 120.0, psm: int = 3
) -> list[Word]:
    """OCR one grayscale image with the default engine; positions in PDF points."""
    return get_engine().ocr_image(image, languages, timeout, psm)


@dataclass(frozen=True, slots=True)
class UprightOcr:
    """The words of a page read upright. `rotation`: degrees (0, 90, 180, 270) the pixels were
    turned counter-clockwise before the words were read; `orientation`: OSD's answer, None when
    OSD did not run (the first pass read well) or found nothing."""

    words: list[Word]
    rotation: int
    orientation: Orientation | None
    width: int  # pixels of the image the words were read from (turned when rotation is 90/270)
    height: int


def ocr_upright(ocr: OcrEngine, image: GrayImage, languages: str, timeout: float, psm: int = 3) -> UprightOcr:
    """OCR `image`; when that reads badly (`reads_well`), detect its orientation with OSD and, when
    OSD is confident (MIN_ORIENTATION_CONFIDENCE) that it is turned, OCR it again turned upright and
    keep the better reading.

    Convention: the words are always in points of the page as it is meant to be read, origin at its
    top left: after a turn they are read from the turned pixels, so a quarter turn swaps the page's
    width and height (the caller's Page must use the turned size; see `rotation`).

    Why only after a bad first pass, measured on an upright A4 page at 300 DPI (tesserocr wheel,
    Tesseract 5.5; pytesseract, system Tesseract 5.3 CLI; one thread, 2 shared cores): OSD costs
    390 ms (4-line page) to 900-1340 ms (dense invoices) with tesserocr, 1190-2900 ms with
    pytesseract, against OCR of the same pages in 1020-1280 ms (tesserocr) and 1930-2550 ms
    (pytesseract): always running it would cost 40-100% of the OCR time. Checking the first pass
    costs nothing, and turned pages read as garbage (see MIN_CONFIDENT_SHARE), or, for text
    running top to bottom, as words in boxes taller than wide (Tesseract's psm 3 reads vertical
    lines) - so upright pages pay OSD only when they read badly anyway (near-blank pages).
    """
    started = time.monotonic()
    words = ocr.ocr_image(image, languages, timeout, psm)
    first = UprightOcr(words, 0, None, image.width, image.height)
    detect = getattr(ocr, "detect_orientation", None)
    if reads_well(words) or len(words) < MIN_WORDS_FOR_OSD or detect is None:
        return first
    found = detect(image, timeout)
    first = UprightOcr(words, 0, found, image.width, image.height)
    if found is None or found.degrees == 0 or found.confidence < MIN_ORIENTATION_CONFIDENCE:
        return first
    turned = rotate_image(image, found.degrees)
    remaining = max(1.0, timeout - (time.monotonic() - started))
    again = ocr.ocr_image(turned, languages, remaining, psm)
    if _reading_score(again) <= _reading_score(words):
        return first
    return UprightOcr(again, found.degrees, found, turned.width, turned.height)


def reads_well(words: list[Word]) -> bool:
    """True when a first OCR pass looks like an upright page: enough confident words
    (MIN_CONFIDENT_SHARE) and not mostly words in boxes taller than wide (a sideways page)."""
    if not words:
        return False
    confident = sum(1 for w in words if w.confidence >= _CONFIDENT_WORD) / len(words)
    return confident >= MIN_CONFIDENT_SHARE and not _sideways(words)


def _sideways(words: list[Word]) -> bool:
    """Most words of three or more characters stand in boxes taller than wide."""
    long_words = [w for w in words if len(w.text) >= 3]
    tall = sum(1 for w in long_words if (w.y1 - w.y0) > (w.x1 - w.x0))
    return len(long_words) >= 3 and tall > len(long_words) / 2


def _reading_score(words: list[Word]) -> float:
    """Median word confidence; 0 for a sideways reading (good text, but in the wrong frame)."""
    if not words or _sideways(words):
        return 0.0
    return statistics.median(w.confidence for w in words)


def rotate_image(image: GrayImage, degrees: int) -> GrayImage:
    """The pixels turned `degrees` (90, 180, 270) counter-clockwise; points_per_pixel unchanged."""
    from PIL import Image

    degrees %= 360
    if degrees == 0:
        return image
    gray = Image.frombuffer("L", (image.width, image.height), image.pixels, "raw", "L", image.stride, 1)
    turned = gray.transpose(getattr(Image.Transpose, _QUARTER_TURN_TRANSPOSE[degrees]))
    return GrayImage(turned.tobytes(), turned.width, turned.height, turned.width, image.points_per_pixel)
