"""OCR benchmark: our pipeline against a serial baseline, document by document.

    .venv/bin/python bench/ocr_bench.py                 # every sample document, side by side
    .venv/bin/python bench/ocr_bench.py --only scanned  # names containing "scanned"
    .venv/bin/python bench/ocr_bench.py --engines FILE  # per-page engine comparison on FILE

Pipeline: angebae.ocr.pipeline.read_document (text layer where a page has one, OCR elsewhere, one
process per CPU). Baseline: one page at a time, every page rendered at 300 DPI and handed to
pytesseract as a PIL image (a PNG encode and a Tesseract start per page), text layer ignored.
Both run with OMP_THREAD_LIMIT=1, so the ratio shows the design and not thread oversubscription.
Each measurement runs in a fresh process: peak RSS is the largest single process (the
parent or one OCR worker). F1 needs angebae.ocr.scoring and angebae.ocr.candidates.
Samples come from ANGEBAE_SAMPLES (default /work/shared/samples): synthetic/ and real/, not bad-*.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "common" / "python"))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

SAMPLES = Path(os.environ.get("ANGEBAE_SAMPLES", "/work/shared/samples"))
LANGUAGES = "spa+eng"


def sample_documents(only: str | None) -> list[Path]:
    found = []
    for folder in ("synthetic", "real"):
        for path in sorted((SAMPLES / folder).glob("*")):
            if path.suffix == ".json" or path.name.startswith("bad-"):
                continue
            if only is None or only in path.name:
                found.append(path)
    return found


def expected_items(path: Path) -> list[dict] | None:
    meta = path.with_suffix(".json")
    return json.loads(meta.read_text()).get("items") if meta.exists() else None


# --- one measurement (runs in its own process) -------------------------------------------------


def run_pipeline(data: bytes, workers: int, engine: str | None) -> list:
    from angebae.ocr.pipeline import read_document

    return list(read_document(data, languages=LANGUAGES, workers=workers, engine=engine))


def run_baseline(data: bytes) -> list:
    import pymupdf
    import pytesseract
    from angebae.ocr.document import sniff_type
    from angebae.ocr.engine import parse_tsv
    from angebae.ocr.types import Page
    from PIL import Image

    pages = []
    if sniff_type(data[:1024]) == "application/pdf":
        doc = pymupdf.open(stream=data, filetype="pdf")
        for page in doc:
            started = time.perf_counter()
            pix = page.get_pixmap(dpi=300)
            img = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
            tsv = pytesseract.image_to_data(img, lang=LANGUAGES, config="--oem 1 --psm 3")
            words = parse_tsv(tsv, 72 / 300)
            seconds = time.perf_counter() - started
            pages.append(Page(page.number + 1, page.rect.width, page.rect.height, words, "ocr", seconds))
    else:
        import io

        img = Image.open(io.BytesIO(data))
        tsv = pytesseract.image_to_data(img, lang=LANGUAGES, config="--oem 1 --psm 3")
        pages.append(Page(1, img.width, img.height, parse_tsv(tsv, 1.0), "ocr"))
    return pages


def f1_of(pages: list, items: list[dict] | None) -> float | None:
    try:
        from angebae.ocr.candidates import extract_candidates
        from angebae.ocr.scoring import score
    except ImportError:
        return None
    if items is None:
        return None
    pages = sorted(pages, key=lambda p: p.number)
    candidates = [c.to_json() for c in extract_candidates(pages)]
    return score(candidates, items)["f1"]


def measure(mode: str, path: Path, workers: int, engine: str | None) -> dict:
    import angebae.ocr.pipeline  # noqa: F401  (imports are not what is measured)
    import pymupdf  # noqa: F401
    import pytesseract  # noqa: F401

    data = path.read_bytes()
    started = time.perf_counter()
    pages = run_pipeline(data, workers, engine) if mode == "pipeline" else run_baseline(data)
    seconds = time.perf_counter() - started
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return {
        "pages": len(pages),
        "ocr_pages": sum(1 for p in pages if p.source == "ocr"),
        "seconds": seconds,
        "peak_rss_mb": peak_kb / 1024,
        "f1": f1_of(pages, expected_items(path)),
    }


def measure_in_subprocess(mode: str, path: Path, workers: int, engine: str | None) -> dict:
    cmd = [sys.executable, __file__, "--one", mode, str(path), "--workers", str(workers)]
    if engine:
        cmd += ["--engine", engine]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- report ------------------------------------------------------------------------------------


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def compare(paths: list[Path], workers: int, engine: str | None, baseline: bool) -> None:
    header = (
        f"{'document':34} {'pages':>5} {'ocr':>3} | {'pipe s':>6} {'p/s':>6} {'RSS MB':>6} {'F1':>5} | "
        f"{'base s':>6} {'p/s':>6} {'RSS MB':>6} {'F1':>5} | {'x faster':>8}"
    )
    print(header)
    print("-" * len(header))
    totals = {"pages": 0, "pipe": 0.0, "base": 0.0}
    for path in paths:
        pipe = measure_in_subprocess("pipeline", path, workers, engine)
        base = measure_in_subprocess("baseline", path, workers, engine) if baseline else {}
        if "error" in pipe or "error" in base:
            print(f"{path.name[:34]:34} error: {pipe.get('error') or base.get('error')}")
            continue
        pages = pipe["pages"]
        totals["pages"] += pages
        totals["pipe"] += pipe["seconds"]
        totals["base"] += base.get("seconds", 0.0)
        ratio = base["seconds"] / pipe["seconds"] if base else None
        print(
            f"{path.name[:34]:34} {pages:>5} {pipe['ocr_pages']:>3} | {pipe['seconds']:>6.2f} "
            f"{pages / pipe['seconds']:>6.1f} {pipe['peak_rss_mb']:>6.0f} {_fmt(pipe['f1'], '5.2f')} | "
            f"{_fmt(base.get('seconds'), '6.2f')} {_fmt(pages / base['seconds'] if base else None, '6.2f')} "
            f"{_fmt(base.get('peak_rss_mb'), '6.0f')} {_fmt(base.get('f1'), '5.2f')} | {_fmt(ratio, '8.1f')}"
        )
    if totals["pipe"]:
        pages, pipe = totals["pages"], totals["pipe"]
        line = f"total: {pages} pages, pipeline {pipe:.1f} s ({pages / pipe:.1f} p/s)"
        if baseline and totals["base"]:
            line += (
                f", baseline {totals['base']:.1f} s ({totals['pages'] / totals['base']:.2f} p/s), "
                f"{totals['base'] / totals['pipe']:.1f}x"
            )
        print(line)


def compare_engines(path: Path, page_number: int = 1) -> None:
    """Per-page OCR time of each engine route on one rendered page, psm 3 and 6 (second call warm)."""
    import tempfile

    import pytesseract
    from angebae.ocr.document import open_document
    from angebae.ocr.engine import PytesseractEngine, TesserocrEngine
    from PIL import Image

    doc = open_document(path.read_bytes())
    image = doc.render(page_number, doc.render_dpi(page_number))
    print(f"{path.name} page {page_number}: {image.width}x{image.height} px")
    pil = Image.frombytes("L", (image.width, image.height), image.pixels)

    def png_route(psm: int) -> list:
        return pytesseract.image_to_data(pil, lang=LANGUAGES, config=f"--oem 1 --psm {psm}")

    routes = {"pytesseract PNG (PIL image)": png_route}
    routes["pytesseract PGM file"] = lambda psm: PytesseractEngine().ocr_image(image, LANGUAGES, 300, psm)
    try:
        tesserocr_engine = TesserocrEngine()
        routes["tesserocr raw pixels"] = lambda psm: tesserocr_engine.ocr_image(image, LANGUAGES, 300, psm)
    except ImportError:
        pass
    with tempfile.TemporaryDirectory():
        for name, run in routes.items():
            for psm in (3, 6):
                run(psm)  # first call loads the model (tesserocr keeps it)
                started = time.perf_counter()
                result = run(psm)
                seconds = time.perf_counter() - started
                count = len(result) if isinstance(result, list) else result.count("\n")
                print(f"  {name:30} psm {psm}: {seconds:5.2f} s  ({count} words/rows)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="only documents whose file name contains this")
    parser.add_argument("--workers", type=int, default=0, help="OCR processes (0 = CPUs)")
    parser.add_argument("--engine", choices=["tesserocr", "pytesseract"], default=None)
    parser.add_argument("--no-baseline", action="store_true", help="pipeline only")
    parser.add_argument("--engines", type=Path, metavar="FILE", help="compare OCR engines on FILE")
    parser.add_argument("--one", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], Path(args.one[1]), args.workers, args.engine)))
    elif args.engines:
        compare_engines(args.engines)
    else:
        paths = sample_documents(args.only)
        if not paths:
            sys.exit(f"no sample documents under {SAMPLES} (set ANGEBAE_SAMPLES)")
        compare(paths, args.workers, args.engine, not args.no_baseline)


if __name__ == "__main__":
    main()
