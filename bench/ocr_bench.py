"""OCR benchmark: our pipeline against a serial baseline and OCRmyPDF, document by document, in one run.

    .venv/bin/python bench/ocr_bench.py                 # samples + generated multi-page documents
    .venv/bin/python bench/ocr_bench.py --only scanned  # names containing "scanned"
    .venv/bin/python bench/ocr_bench.py --only scan,receipt  # ... "scan" or "receipt"
    .venv/bin/python bench/ocr_bench.py --no-ocrmypdf --no-generated
    .venv/bin/python bench/ocr_bench.py --engines FILE  # per-page engine comparison on FILE
    .venv/bin/python bench/ocr_bench.py --against acaba77 --no-baseline --no-pipeline-cli

Modes, each measured in a fresh process (imports done before the clock starts):
- pipeline: angebae.ocr.pipeline.read_document (text layer where a page has one, OCR elsewhere, one
  Tesseract process per CPU, grayscale pixels handed over raw).
- pipeline-cli: the same pipeline with engine="pytesseract", i.e. the system Tesseract CLI (the
  binary the baseline and OCRmyPDF use; the default engine is tesserocr, whose wheel bundles its own
  Tesseract 5.5), so engine and design can be told apart. Only on documents where the pipeline OCRs.
- pipeline@REV (--against REV): the pipeline mode run by REV's code: a detached git worktree of REV
  in a temp folder (removed at the end), whose layers/common/python the --one child puts first on
  sys.path (OCR_BENCH_CODE_ROOT; each row records the angebae.__file__ it ran). Measured in the same
  run as pipeline, document by document, the two in alternating order, so load hits both alike.
- baseline: one page at a time, every page rendered at 300 DPI (RGB) and handed to pytesseract as a
  PIL image (a PNG encode and a Tesseract start per page), text layer ignored.
- ocrmypdf: ocrmypdf.ocr() (its Python API; pip install ocrmypdf, needs Ghostscript) with
  `-l spa+eng --skip-text --sidecar FILE --output-type pdf --optimize 0 --jobs <CPUs>`:
  --skip-text keeps native pages' own text layer (as the pipeline does; --force-ocr would rasterise
  them like the baseline), PDF/A conversion and image optimisation are off (work the pipeline does
  not do). Images without a resolution get --image-dpi = pixel width / 8.27 in (A4), so OCRmyPDF
  OCRs the image's own pixels instead of upsampling. Its F1 comes from the words of its output
  PDF's text layer (PyMuPDF, with positions) through the same extract_candidates: the sidecar has
  no positions.
Seconds are end to end: reading the pages plus extract_candidates on them (the candidates are the
product; for OCRmyPDF, its ocr() call plus extract_candidates on its text layer's words).
All run with OMP_THREAD_LIMIT=1. Peak memory: the driver samples the measured process tree every
50 ms with psutil and keeps the largest sum of RSS (shared pages of forked workers count once per
process, so this overstates a forking pipeline) and of PSS (shared pages split: the fairer figure).
F1: angebae.ocr.scoring.score of the candidates against the JSON beside each document.
Documents: ANGEBAE_SAMPLES (default ../shared/samples from the project root), synthetic/ and real/,
not bad-*; plus two generated with PyMuPDF into bench/out/generated/ (a 10-page native PDF and a
6-page scanned PDF, with their expected items), so pages/s has multi-page inputs. Writes bench/out/ocr.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the checkout whose angebae package a --one child measures: this one, or a --against worktree
CODE_ENV = "OCR_BENCH_CODE_ROOT"
sys.path.insert(0, str(Path(os.environ.get(CODE_ENV) or ROOT) / "layers" / "common" / "python"))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

SAMPLES = Path(os.environ.get("ANGEBAE_SAMPLES") or ROOT.parent / "shared" / "samples")
OUT = ROOT / "bench" / "out"
LANGUAGES = "spa+eng"
MODES = ("pipeline", "pipeline-cli", "baseline", "ocrmypdf")
RESULT = "ocr-bench-result "  # the --one child's result line (the code measured may print too)


def sample_documents(only: str | None) -> list[Path]:
    found = []
    for folder in ("synthetic", "real"):
        for path in sorted((SAMPLES / folder).glob("*")):
            if path.suffix == ".json" or path.name.startswith("bad-"):
                continue
            if wanted(path.name, only):
                found.append(path)
    return found


def wanted(name: str, only: str | None) -> bool:
    """--only: names containing the text, or any of several joined with commas."""
    return only is None or any(part in name for part in only.split(","))


def expected_items(path: Path) -> list[dict] | None:
    meta = path.with_suffix(".json")
    return json.loads(meta.read_text()).get("items") if meta.exists() else None


# --- generated multi-page documents ------------------------------------------------------------

_NOUNS = [
    "Merino wool scarf",
    "Stainless steel bottle",
    "Kitchen knife set",
    "LED desk lamp",
    "Linen throw pillow",
    "Hardcover notebook",
    "Ground coffee",
    "Olive oil",
    "Running shoes",
    "Cotton towel",
    "Ceramic mug",
    "Bamboo cutting board",
    "Wireless mouse",
    "Travel backpack",
]
_SIZES = ["small", "large", "750 ml", "1 L", "A5", "pack of 6", "blue", "red", "5 pieces", "XL"]


def _catalog_items(rng: random.Random, count: int) -> list[dict]:
    items = []
    for i in range(count):
        name = f"{rng.choice(_NOUNS)} {rng.choice(_SIZES)} {i + 1}"
        price = f"{rng.randint(1, 1999)}.{rng.choice(['00', '49', '50', '90', '95', '99'])}"
        sku = f"{rng.choice(['AB', 'CM', 'ZX', 'MX', 'LP'])}-{rng.randint(1000, 99999)}"
        items.append({"name": name, "price": price, "sku": sku, "currency": "USD"})
    return items


def _draw_catalog(items: list[dict], per_page: int):
    import pymupdf

    doc = pymupdf.open()
    for first in range(0, len(items), per_page):
        page = doc.new_page(width=595, height=842)
        page.insert_text((50, 60), f"Spring Catalog - page {first // per_page + 1}", fontsize=16)
        y = 100
        for item in items[first : first + per_page]:
            whole, cents = item["price"].split(".")
            price = f"${int(whole):,}.{cents}"
            for text in (item["name"], f"SKU: {item['sku']}", f"Price: {price}"):
                page.insert_text((60, y), text, fontsize=11)
                y += 14
            y += 10
    return doc


def generated_documents(only: str | None) -> list[Path]:
    """A 10-page native catalog and a 6-page scanned one (300 DPI, noisy, slightly rotated)."""
    import io

    import pymupdf
    from PIL import Image, ImageFilter

    folder = OUT / "generated"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(6)
    per_page = 14  # 14 blocks of 52 pt fit between y=100 and the foot of an A4 page
    made = []
    native = folder / "gen-10p-native-pdf.pdf"
    if not native.exists():
        items = _catalog_items(rng, 10 * per_page)
        _draw_catalog(items, per_page).save(native)
        native.with_suffix(".json").write_text(json.dumps({"pages": 10, "items": items}, indent=1))
    made.append(native)
    scanned = folder / "gen-6p-scanned-pdf.pdf"
    if not scanned.exists():
        items = _catalog_items(rng, 6 * per_page)
        clean = _draw_catalog(items, per_page)
        out = pymupdf.open()
        for page in clean:
            pix = page.get_pixmap(dpi=300, colorspace=pymupdf.csGRAY)
            img = Image.frombytes("L", (pix.width, pix.height), pix.samples)
            img = img.rotate(rng.uniform(-0.8, 0.8), fillcolor=255, resample=Image.BICUBIC)
            noise = Image.effect_noise(img.size, 18)
            img = Image.blend(img, noise, 0.12).filter(ImageFilter.GaussianBlur(0.6))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=80, dpi=(300, 300))
            target = out.new_page(width=595, height=842)
            target.insert_image(target.rect, stream=buf.getvalue())
        out.save(scanned)
        scanned.with_suffix(".json").write_text(json.dumps({"pages": 6, "items": items}, indent=1))
    made.append(scanned)
    return [p for p in made if wanted(p.name, only)]


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


def image_dpi_for_ocrmypdf(path: Path) -> int | None:
    """None for PDFs and images that carry a resolution; else the A4 guess (pixel width / 8.27 in)."""
    from PIL import Image

    if path.suffix.lower() == ".pdf":
        return None
    with Image.open(path) as img:
        if img.info.get("dpi"):
            return None
        return max(72, round(img.width / 8.27))


def run_ocrmypdf(path: Path, workdir: Path, workers: int) -> tuple[list, dict]:
    """OCRmyPDF on `path`; pages built from its output PDF's text layer (words with positions)."""
    import ocrmypdf
    import pymupdf
    from angebae.ocr.types import Page, Word

    output, sidecar = workdir / "out.pdf", workdir / "sidecar.txt"
    options = dict(
        language=LANGUAGES.split("+"),
        skip_text=True,
        sidecar=sidecar,
        output_type="pdf",
        optimize=0,
        jobs=workers or _cpus(),
        progress_bar=False,
        tesseract_oem=1,
    )
    dpi = image_dpi_for_ocrmypdf(path)
    if dpi:
        options["image_dpi"] = dpi
    started = time.perf_counter()
    ocrmypdf.ocr(path, output, **options)
    seconds = time.perf_counter() - started
    pages = []
    skipped_text = 0
    with pymupdf.open(output) as doc:
        src = pymupdf.open(path) if path.suffix.lower() == ".pdf" else None
        for page in doc:
            raw = page.get_text("words", sort=True)
            words = [Word(w[4], w[0], w[1], w[2], w[3], 1.0, w[5], w[6]) for w in raw]
            # a page OCRmyPDF left alone (--skip-text) keeps its own text: count it as "text"
            native = src is not None and bool(src[page.number].get_text("text").strip())
            skipped_text += native
            pages.append(
                Page(page.number + 1, page.rect.width, page.rect.height, words, "text" if native else "ocr")
            )
        if src is not None:
            src.close()
    info = {
        "seconds_inside": seconds,
        "sidecar_chars": len(sidecar.read_text(errors="replace")),
        "image_dpi": dpi,
    }
    return pages, info


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def candidates_of(pages: list) -> list[dict]:
    from angebae.ocr.extract import extract_candidates

    return [c.to_json() for c in extract_candidates(sorted(pages, key=lambda p: p.number))]


def f1_of(candidates: list[dict], items: list[dict] | None) -> float | None:
    try:
        from angebae.ocr.scoring import score
    except ImportError:
        return None
    return None if items is None else score(candidates, items)["f1"]


def measure(mode: str, path: Path, workers: int, engine: str | None) -> dict:
    import tempfile

    import angebae
    import angebae.ocr.extract  # noqa: F401  (imports are not what is measured)
    import angebae.ocr.pipeline  # noqa: F401
    import pymupdf  # noqa: F401
    import pytesseract  # noqa: F401

    if mode == "ocrmypdf":
        import ocrmypdf  # noqa: F401

    data = path.read_bytes()
    extra: dict = {}
    print("ready", flush=True)  # the driver's memory sampler starts its clock here
    started = time.perf_counter()
    if mode == "pipeline":
        pages = run_pipeline(data, workers, engine)
    elif mode == "pipeline-cli":
        pages = run_pipeline(data, workers, "pytesseract")
    elif mode == "baseline":
        pages = run_baseline(data)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            pages, extra = run_ocrmypdf(path, Path(tmp), workers)
    read_seconds = time.perf_counter() - started
    if mode == "ocrmypdf":
        read_seconds = extra.pop("seconds_inside")  # reading its output back is not OCRmyPDF's time
    started = time.perf_counter()
    candidates = candidates_of(pages)
    extract_seconds = time.perf_counter() - started
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return {
        "pages": len(pages),
        "ocr_pages": sum(1 for p in pages if p.source == "ocr"),
        "seconds": read_seconds + extract_seconds,
        "read_seconds": read_seconds,
        "extract_seconds": extract_seconds,
        "candidates": len(candidates),
        "max_single_rss_mb": peak_kb / 1024,
        "f1": f1_of(candidates, expected_items(path)),
        "angebae": angebae.__file__,
        **extra,
    }


def _tree_memory(proc) -> tuple[float, float]:
    """Sum of RSS and of PSS (MB) over `proc` and its descendants, now."""
    import psutil

    rss = pss = 0
    try:
        members = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0.0, 0.0
    for member in members:
        try:
            full = member.memory_full_info()
            rss += full.rss
            pss += getattr(full, "pss", full.rss)
        except psutil.Error:
            continue
    return rss / 2**20, pss / 2**20


def measure_in_subprocess(
    mode: str, path: Path, workers: int, engine: str | None, code: Path | None = None
) -> dict:
    """`mode` on `path` in a fresh process, importing angebae from the checkout `code` (default ROOT)."""
    import psutil

    cmd = [sys.executable, __file__, "--one", mode, str(path), "--workers", str(workers)]
    if engine:
        cmd += ["--engine", engine]
    env = {**os.environ, CODE_ENV: str(code or ROOT)}
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    proc = psutil.Process(child.pid)
    peak_rss = peak_pss = 0.0
    import threading

    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_pss
        while not done.is_set():
            rss, pss = _tree_memory(proc)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = child.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
    done.set()
    sampler.join()
    if child.returncode != 0:
        return {"error": (stderr.strip().splitlines() or ["failed"])[-1]}
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT)]
    if not lines:
        return {"error": f"no result line in the child's output: {stdout.strip()[-90:]!r}"}
    result = json.loads(lines[-1][len(RESULT) :])
    expected = (code or ROOT).resolve() / "layers" / "common" / "python"
    if not Path(result["angebae"]).resolve().is_relative_to(expected):
        return {"error": f"imported angebae from {result['angebae']}, not from {expected}"}
    result["peak_tree_rss_mb"] = peak_rss
    result["peak_tree_pss_mb"] = peak_pss
    return result


# --- report ------------------------------------------------------------------------------------


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def kind_of(path: Path, pipeline: dict) -> str:
    """image; native (the pipeline found a text layer on every page); else scanned."""
    if path.suffix.lower() != ".pdf":
        return "image"
    return "native" if pipeline.get("ocr_pages") == 0 else "scanned"


def ocrmypdf_status() -> str | None:
    """None when OCRmyPDF can run here, else why it is skipped."""
    import shutil

    try:
        import ocrmypdf  # noqa: F401
    except ImportError as exc:
        return f"skipped: ocrmypdf is not installed ({exc}); .venv/bin/pip install ocrmypdf"
    if not shutil.which("gs"):
        return "skipped: Ghostscript (gs) not found; apt-get install -y ghostscript"
    return None


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        found = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
        tess = found.stdout.split("\n")[0]
    except OSError:
        tess = "not found"
    info = {"nproc": _cpus(), "cpu": cpu, "python": platform.python_version(), "tesseract": tess}
    info["loadavg_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine: the noise to expect
    try:
        import tesserocr

        bundled = tesserocr.tesseract_version().split()[1]
        info["tesserocr"] = f"{tesserocr.__version__} (bundled Tesseract {bundled})"
    except Exception:  # noqa: BLE001
        pass
    try:
        import ocrmypdf

        info["ocrmypdf"] = ocrmypdf.__version__
        gs = subprocess.run(["gs", "--version"], capture_output=True, text=True)
        info["ghostscript"] = gs.stdout.strip()
    except Exception:  # noqa: BLE001
        pass
    return info


def compare(
    paths: list[Path],
    workers: int,
    engine: str | None,
    modes: list[str],
    skipped: dict,
    against: dict[str, Path] | None = None,
) -> dict:
    """Every mode on every document; `against` maps a mode "pipeline@REV" to REV's worktree."""
    against = against or {}
    header = (
        f"{'document':32} {'kind':7} {'mode':16} {'pages':>5} {'ocr':>3} | {'s/doc':>6} {'pages/s':>7} "
        f"{'x base':>6} | {'RSS MB':>6} {'PSS MB':>6} | {'F1':>4}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for index, path in enumerate(paths):
        # the current pipeline and each REV's, in turns, first one then the other (load hits both)
        pipelines = {mode: ROOT for mode in modes if mode == "pipeline"} | against
        order = list(pipelines) if index % 2 == 0 else list(pipelines)[::-1]
        measured = {
            mode: measure_in_subprocess("pipeline", path, workers, engine, pipelines[mode]) for mode in order
        }
        results = {mode: measured[mode] for mode in pipelines}
        for mode in modes:
            if mode in results:
                continue
            if mode == "pipeline-cli" and not results["pipeline"].get("ocr_pages"):
                continue  # no OCR in the pipeline: the engine does not matter
            results[mode] = measure_in_subprocess(mode, path, workers, engine)
        base = results.get("baseline", {})
        for mode in (m for m in modes if m in results):
            r = results[mode]
            row = {"document": path.name, "kind": kind_of(path, results["pipeline"]), "mode": mode, **r}
            rows.append(row)
            if "error" in r:
                print(f"{path.name[:32]:32} {row['kind']:7} {mode:16} error: {r['error'][:90]}")
                continue
            r["pages_per_s"] = r["pages"] / r["seconds"]
            ratio = base["seconds"] / r["seconds"] if base.get("seconds") else None
            row.update(pages_per_s=r["pages_per_s"], speedup_vs_baseline=ratio)
            print(
                f"{path.name[:32]:32} {row['kind']:7} {mode:16} {r['pages']:>5} {r['ocr_pages']:>3} | "
                f"{r['seconds']:>6.2f} {r['pages_per_s']:>7.2f} {_fmt(ratio, '6.1f')} | "
                f"{r['peak_tree_rss_mb']:>6.0f} {r['peak_tree_pss_mb']:>6.0f} | {_fmt(r['f1'], '4.2f')}"
            )
        print()
    summary = summarize(rows, modes)
    print_summary(summary)
    side_by_side = {mode[len("pipeline@") :]: compare_revisions(rows, mode) for mode in against}
    for rev, table in side_by_side.items():
        print_revisions(table, rev)
    for mode, reason in skipped.items():
        print(f"{mode}: {reason}")
    return {"rows": rows, "summary": summary, "side_by_side": side_by_side}


def summarize(rows: list[dict], modes: list[str]) -> dict:
    import statistics

    out: dict = {}
    for mode in modes:
        for kind in ("all", "native", "scanned", "image"):
            mine = [r for r in rows if r["mode"] == mode and "error" not in r]
            mine = [r for r in mine if kind in ("all", r["kind"])]
            if not mine:
                continue
            pages = sum(r["pages"] for r in mine)
            seconds = sum(r["seconds"] for r in mine)
            ratios = [r["speedup_vs_baseline"] for r in mine if r.get("speedup_vs_baseline")]
            out.setdefault(mode, {})[kind] = {
                "documents": len(mine),
                "pages": pages,
                "seconds": seconds,
                "seconds_per_doc": seconds / len(mine),
                "pages_per_s": pages / seconds if seconds else None,
                "speedup_total_time": None,
                "speedup_geomean": statistics.geometric_mean(ratios) if ratios else None,
                "peak_tree_rss_mb": max(r["peak_tree_rss_mb"] for r in mine),
                "peak_tree_pss_mb": max(r["peak_tree_pss_mb"] for r in mine),
                "mean_f1": _mean_f1(mine),
            }
    # total baseline time over the same documents / this mode's total time
    base_seconds = {r["document"]: r["seconds"] for r in rows if r["mode"] == "baseline" and "error" not in r}
    for mode in out:
        for kind, s in out[mode].items():
            mine = [r for r in rows if r["mode"] == mode and "error" not in r and kind in ("all", r["kind"])]
            if mine and all(r["document"] in base_seconds for r in mine) and s["seconds"]:
                s["speedup_total_time"] = sum(base_seconds[r["document"]] for r in mine) / s["seconds"]
    return out


def print_summary(summary: dict) -> None:
    header = (
        f"{'mode':16} {'docs':7} {'n':>2} {'pages':>5} | {'total s':>7} {'s/doc':>6} {'pages/s':>7} | "
        f"{'x base (time)':>13} {'x base (geo)':>12} | {'max RSS':>7} {'max PSS':>7} | {'mean F1':>7}"
    )
    print("summary")
    print(header)
    print("-" * len(header))
    for mode, kinds in summary.items():
        for kind, s in kinds.items():
            print(
                f"{mode:16} {kind:7} {s['documents']:>2} {s['pages']:>5} | {s['seconds']:>7.1f} "
                f"{s['seconds_per_doc']:>6.2f} {_fmt(s['pages_per_s'], '7.2f')} | "
                f"{_fmt(s['speedup_total_time'], '13.1f')} {_fmt(s['speedup_geomean'], '12.1f')} | "
                f"{s['peak_tree_rss_mb']:>7.0f} {s['peak_tree_pss_mb']:>7.0f} | {_fmt(s['mean_f1'], '7.2f')}"
            )


KIND_LABELS = {"native": "native-pdf", "scanned": "scanned-pdf", "image": "image", "all": "all"}


def compare_revisions(rows: list[dict], mode: str) -> dict:
    """Per kind, `pipeline` against `mode` (pipeline@REV) on the documents both read, and OCRmyPDF's
    time over the pipeline's on those of them it read too. Ratio = pages/s now / pages/s at REV."""
    import statistics

    def by_document(name: str) -> dict[str, dict]:
        return {r["document"]: r for r in rows if r["mode"] == name and "error" not in r}

    now, rev, ocrmypdf = by_document("pipeline"), by_document(mode), by_document("ocrmypdf")
    out = {}
    for kind in ("native", "scanned", "image", "all"):
        docs = [d for d in now if d in rev and kind in ("all", now[d]["kind"])]
        if not docs:
            continue
        pages = sum(now[d]["pages"] for d in docs)
        now_s, rev_s = (sum(side[d]["seconds"] for d in docs) for side in (now, rev))
        theirs = [d for d in docs if d in ocrmypdf]
        mine_s = sum(now[d]["seconds"] for d in theirs)
        out[kind] = {
            "documents": len(docs),
            "pages": pages,
            "seconds": now_s,
            "seconds_rev": rev_s,
            "pages_per_s": pages / now_s,
            "pages_per_s_rev": pages / rev_s,
            "ratio": rev_s / now_s,
            "ratio_geomean": statistics.geometric_mean([rev[d]["seconds"] / now[d]["seconds"] for d in docs]),
            "extract_seconds": sum(now[d]["extract_seconds"] for d in docs),
            "extract_seconds_rev": sum(rev[d]["extract_seconds"] for d in docs),
            "mean_f1": _mean_f1(now[d] for d in docs),
            "mean_f1_rev": _mean_f1(rev[d] for d in docs),
            "ocrmypdf_documents": len(theirs),
            "ocrmypdf_x_slower": sum(ocrmypdf[d]["seconds"] for d in theirs) / mine_s if theirs else None,
        }
    return out


def _mean_f1(rows) -> float | None:
    f1s = [r["f1"] for r in rows if r.get("f1") is not None]
    return sum(f1s) / len(f1s) if f1s else None


def _verdict(ratio: float) -> str:
    if ratio < 0.9:
        return f"{(1 - ratio) * 100:.0f}% slower"
    return "within 10%" if ratio <= 1.1 else f"{(ratio - 1) * 100:.0f}% faster"


def print_revisions(table: dict, rev: str) -> None:
    header = (
        f"{'kind':11} {'n':>3} {'pages':>5} | {'pages/s':>8} {'@' + rev:>10} {'ratio':>5} {'geo':>5} "
        f"{'verdict':>11} | {'extract s':>9} {'@' + rev:>10} | {'F1':>4} {'@' + rev:>10} | "
        f"{'OCRmyPDF x slower':>17}"
    )
    print(f"\nside by side: pipeline (this checkout) and pipeline@{rev}, end to end (read + extract)")
    print(header)
    print("-" * len(header))
    for kind, t in table.items():
        print(
            f"{KIND_LABELS[kind]:11} {t['documents']:>3} {t['pages']:>5} | {t['pages_per_s']:>8.2f} "
            f"{t['pages_per_s_rev']:>10.2f} {t['ratio']:>5.2f} {t['ratio_geomean']:>5.2f} "
            f"{_verdict(t['ratio']):>11} | "
            f"{t['extract_seconds']:>9.2f} {t['extract_seconds_rev']:>10.2f} | {_fmt(t['mean_f1'], '4.2f')} "
            f"{_fmt(t['mean_f1_rev'], '10.2f')} | {_fmt(t['ocrmypdf_x_slower'], '17.1f')}"
        )
    print("ratio = pages/s now / at REV over the kind's total time; geo = geometric mean per document")


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


def git(*argv: str, check: bool = False) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *argv], capture_output=True, text=True, check=check
    ).stdout.strip()


def checkout() -> str:
    """This checkout's HEAD and how many files under layers/common/python differ from it."""
    dirty = git("status", "--porcelain", "--", "layers/common/python").splitlines()
    head = git("rev-parse", "--short", "HEAD")
    return f"working tree at {head} ({len(dirty)} uncommitted files in layers/common/python)"


@contextlib.contextmanager
def worktree(rev: str | None):
    """A detached git worktree of `rev` in a temp folder (None without a rev), removed afterwards."""
    if rev is None:
        yield None
        return
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
    tree = tmp / rev.replace("/", "_")
    git("worktree", "add", "--detach", str(tree), rev, check=True)
    try:
        yield tree
    finally:
        git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="only documents whose file name contains this (or any of a,b,c)")
    parser.add_argument("--workers", type=int, default=0, help="OCR processes (0 = CPUs)")
    parser.add_argument("--engine", choices=["tesserocr", "pytesseract"], default=None)
    parser.add_argument("--no-baseline", action="store_true", help="skip the serial baseline")
    parser.add_argument("--no-pipeline-cli", action="store_true", help="skip the pipeline on pytesseract")
    parser.add_argument("--no-ocrmypdf", action="store_true", help="skip OCRmyPDF")
    parser.add_argument("--no-generated", action="store_true", help="samples only")
    parser.add_argument("--out", type=Path, default=OUT / "ocr.json", help="JSON results")
    parser.add_argument("--engines", type=Path, metavar="FILE", help="compare OCR engines on FILE")
    parser.add_argument(
        "--against", metavar="REV", help="also measure the pipeline at git revision REV (mode pipeline@REV)"
    )
    parser.add_argument("--one", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(RESULT + json.dumps(measure(args.one[0], Path(args.one[1]), args.workers, args.engine)))
        return
    if args.engines:
        compare_engines(args.engines)
        return
    paths = sample_documents(args.only)
    if not args.no_generated:
        paths += generated_documents(args.only)
    if not paths:
        sys.exit(f"no sample documents under {SAMPLES} (set ANGEBAE_SAMPLES)")
    modes = ["pipeline"] + ([f"pipeline@{args.against}"] if args.against else [])
    skipped = {}
    if args.no_pipeline_cli:
        skipped["pipeline-cli"] = "skipped: --no-pipeline-cli"
    else:
        modes.append("pipeline-cli")
    if args.no_baseline:
        skipped["baseline"] = "skipped: --no-baseline"
    else:
        modes.append("baseline")
    reason = "skipped: --no-ocrmypdf" if args.no_ocrmypdf else ocrmypdf_status()
    if reason:
        skipped["ocrmypdf"] = reason
    else:
        modes.append("ocrmypdf")
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"code: {checkout()}")
    print(f"OMP_THREAD_LIMIT={os.environ.get('OMP_THREAD_LIMIT')}, workers={args.workers or _cpus()}\n")
    started = time.perf_counter()
    with worktree(args.against) as tree:
        against = {f"pipeline@{args.against}": tree} if tree else {}
        result = compare(paths, args.workers, args.engine, modes, skipped, against)
    result.update(
        machine=info,
        code=checkout(),
        against=args.against,
        modes=modes,
        skipped=skipped,
        workers=args.workers or _cpus(),
        wall_seconds=time.perf_counter() - started,
        command=" ".join([Path(sys.executable).name, *sys.argv]),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out} ({result['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
