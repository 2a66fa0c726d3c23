"""Score the product-candidate extractor against the sample documents.

    python bench/score_candidates.py [SAMPLES_DIR]      (or ANGEBAE_SAMPLES=...)

For every sample JSON with items: read its pages (PDF text layer via PyMuPDF; scanned pages and
images through `angebae.ocr.pipeline.read_document` when that module exists, else pytesseract at
300 DPI, spa+eng, one thread), run `extract_candidates`, and print precision/recall/F1 per document
and overall (micro-averaged over all items).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "common" / "python"))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from angebae.ocr.candidates import extract_candidates  # noqa: E402
from angebae.ocr.scoring import score  # noqa: E402
from angebae.ocr.types import Page, Word  # noqa: E402

DEFAULT_SAMPLES = Path("/work/shared/samples")
OCR_DPI = 300
OCR_LANG = "spa+eng"


def samples_dir(argv: list[str]) -> Path:
    if len(argv) > 1:
        return Path(argv[1])
    return Path(os.environ.get("ANGEBAE_SAMPLES", DEFAULT_SAMPLES))


def load_samples(root: Path) -> list[tuple[Path, dict]]:
    """(document path, ground truth) for every sample that lists items."""
    out = []
    for meta_path in sorted(root.rglob("*.json")):
        meta = json.loads(meta_path.read_text())
        if meta.get("items"):
            out.append((meta_path.with_name(meta["file"]), meta))
    return out


def read_pages(path: Path) -> list[Page]:
    pipeline = _pipeline_module()
    if pipeline is not None and hasattr(pipeline, "read_document"):
        return _pages_from_pipeline(pipeline.read_document(path.read_bytes(), languages=OCR_LANG))
    return _read_pages_fallback(path)


def _pipeline_module():
    try:
        return importlib.import_module("angebae.ocr.pipeline")
    except ImportError:
        return None


def _pages_from_pipeline(result) -> list[Page]:
    """read_document yields pages as they finish (in any order) or returns an object carrying them."""
    pages = getattr(result, "pages", result)
    return sorted(pages, key=lambda page: page.number)


def _read_pages_fallback(path: Path) -> list[Page]:
    import pymupdf
    from PIL import Image

    if path.suffix.lower() != ".pdf":
        return [_ocr_image(Image.open(path), number=1)]
    pages = []
    with pymupdf.open(path) as doc:
        for page in doc:
            words = page.get_text("words")
            if any(w[4].strip() for w in words):
                pages.append(_text_layer_page(page, words))
            else:
                pix = page.get_pixmap(dpi=OCR_DPI, colorspace=pymupdf.csGRAY)
                image = Image.open(io.BytesIO(pix.tobytes("pgm")))
                pages.append(_ocr_image(image, number=page.number + 1))
    return pages


def _text_layer_page(page, words) -> Page:
    return Page(
        number=page.number + 1,
        width=page.rect.width,
        height=page.rect.height,
        words=[Word(w[4], w[0], w[1], w[2], w[3], 1.0, w[5], w[6]) for w in words if w[4].strip()],
        source="text",
    )


def _ocr_image(image, *, number: int) -> Page:
    import pytesseract

    started = time.perf_counter()
    data = pytesseract.image_to_data(
        image.convert("L"), lang=OCR_LANG, config="--oem 1", output_type=pytesseract.Output.DICT
    )
    words = []
    for i, text in enumerate(data["text"]):
        conf = float(data["conf"][i])
        if not text.strip() or conf < 0:
            continue
        x, y, w, h = data["left"][i], data["top"][i], data["width"][i], data["height"][i]
        line_id = data["block_num"][i] * 10_000 + data["par_num"][i] * 100 + data["line_num"][i]
        words.append(Word(text, x, y, x + w, y + h, conf / 100, data["block_num"][i], line_id))
    return Page(number, image.width, image.height, words, "ocr", time.perf_counter() - started)


def candidate_dicts(pages: list[Page], default_currency: str | None = None) -> list[dict]:
    return [c.to_json() for c in extract_candidates(pages, default_currency=default_currency)]


def main(argv: list[str]) -> int:
    root = samples_dir(argv)
    samples = load_samples(root)
    if not samples:
        print(f"no samples with items under {root}")
        return 1
    totals = {"tp": 0, "fp": 0, "fn": 0}
    print(f"{'document':<36} {'kind':<12} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}")
    for path, meta in samples:
        result = score(candidate_dicts(read_pages(path)), meta["items"])
        for key in totals:
            totals[key] += result[key]
        _print_row(path.stem, meta.get("kind", "?"), result)
    _print_row("OVERALL", "", _prf(**totals) | totals)
    return 0


def _print_row(label: str, kind: str, r: dict) -> None:
    print(
        f"{label[:36]:<36} {kind[:12]:<12} {r['precision']:>6.3f} {r['recall']:>6.3f} {r['f1']:>6.3f} "
        f"{r['tp']:>4} {r['fp']:>4} {r['fn']:>4}"
    )


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
