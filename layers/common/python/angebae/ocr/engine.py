"""OCR engines behind one small interface: grayscale pixels in, words in PDF points out.

Two implementations of the same Tesseract call (measured in layers/ocr/README.md):
- `tesserocr` (default when importable): the model stays loaded in the process and raw pixels are
  handed over without encoding; about 2x faster per page than the subprocess route.
- `pytesseract`: one `tesseract` subprocess per page, fed a PGM file (a PNG encode costs more than
  the OCR of a sparse page).
Both produce Tesseract's TSV, parsed by one function.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from typing import Protocol

# Tesseract's OpenMP threads make several pages in parallel 2.5-4x slower: one thread per process,
# parallelism comes from processes. Set before any Tesseract library is loaded.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from angebae.ocr.document import DocumentError, GrayImage  # noqa: E402
from angebae.ocr.types import Word  # noqa: E402

TESSDATA_DIRS = (
    "/opt/share/tessdata",  # the OCR Lambda layer (layers/ocr/build.sh)
    "/usr/share/tesseract-ocr/5/tessdata",  # Debian / Ubuntu
    "/usr/share/tesseract/tessdata",  # Amazon Linux, Fedora
    "/usr/local/share/tessdata",
)
_LANGUAGES_RE = re.compile(r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$")


class OcrEngine(Protocol):
    name: str

    def languages(self) -> set[str]: ...

    def ocr_image(self, image: GrayImage, languages: str, timeout: float, psm: int = 3) -> list[Word]: ...


def tessdata_dir() -> str | None:
    """TESSDATA_PREFIX if set, else the first known folder holding traineddata files."""
    env = os.environ.get("TESSDATA_PREFIX")
    if env:
        return env
    for folder in TESSDATA_DIRS:
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


def _check_languages(languages: str, available: set[str]) -> None:
    if not _LANGUAGES_RE.match(languages or ""):
        raise DocumentError("unsupported_language", f"invalid language list {languages!r}")
    missing = [lang for lang in languages.split("+") if lang not in available]
    if missing:
        raise DocumentError(
            "unsupported_language",
            f"language(s) not installed: {', '.join(missing)} (available: {', '.join(sorted(available))})",
        )


class TesserocrEngine:
    """libtesseract in-process; one loaded API per language set, reused for every page."""

    name = "tesserocr"

    def __init__(self) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self._path = tessdata_dir() or tesserocr.get_languages()[0]
        self._apis: dict[tuple[str, int], object] = {}

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
        header = f"P5\n{image.width} {image.height}\n255\n".encode()
        with tempfile.NamedTemporaryFile(suffix=".pgm") as f:
            f.write(header)
            if image.stride == image.width:
                f.write(image.pixels)
            else:
                for y in range(image.height):
                    f.write(image.pixels[y * image.stride : y * image.stride + image.width])
            f.flush()
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


@functools.lru_cache(maxsize=4)
def _command_languages(cmd: str) -> set[str]:
    import pytesseract

    return set(pytesseract.get_languages()) - {"osd"}


_ENGINES = {"tesserocr": TesserocrEngine, "pytesseract": PytesseractEngine}


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
