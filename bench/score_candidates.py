"""Score the product-candidate extractor against the sample documents: the project's evaluation.

    python bench/score_candidates.py [ROOT ...] [--cache DIR] [--only SUBSTR] [--show] [--json FILE]
                                     [--languages spa+eng] [--engine tesserocr|pytesseract] [--psm N]

ROOTs default to $ANGEBAE_SAMPLES (several joined with ':') or ../shared/samples/real and
../shared/samples/synthetic (from the project root). Every sample JSON below a root that lists items is
read through `angebae.ocr.pipeline.read_document` (text layer, OCR elsewhere), its candidates taken as
the worker takes them (`angebae.ocr.pipeline.choose_candidates`: an embedded e-invoice's XML where there
is one, else `extract_candidates`) and scored with `angebae.ocr.scoring` (items with a `line_type` are
not products). Printed: precision/recall/F1 (micro over items), SKU and quantity accuracy on the matched
items, pages/s per document, then the same per kind, per doc_type, per set (the root's name, or the
first folder below it) and overall; then how well candidate confidence separates hits from misses on the
real documents (AUROC, P/R/F1 keeping confidence >= 0.5 and >= 0.8).

`--against REV` also scores revision REV's extractor (a temporary git worktree) on the very same
pages in the same run, and prints F1 before and now side by side per kind, doc_type and set.

`--cache DIR` keeps each document's pages (JSON, keyed by the file's sha256 and the OCR settings):
a second run after an extractor change reads no PDF and runs no Tesseract. Read seconds of cached
documents are those measured when they were first read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "common" / "python"))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from angebae.ocr import scoring  # noqa: E402
from angebae.ocr.types import Page, Word  # noqa: E402
from angebae.settings import Settings as WorkerSettings  # noqa: E402

WORKER_LANGUAGES = WorkerSettings.model_fields["ocr_languages"].default
WORKER_PSM = WorkerSettings.model_fields["ocr_psm"].default

DEFAULT_ROOTS = tuple(ROOT.parent / "shared" / "samples" / kind for kind in ("real", "synthetic"))
THRESHOLDS = (0.5, 0.8)
CACHE_FORMAT = 1
GROUPINGS = ("kind", "doc_type", "set", "set_and_kind")


@dataclass
class Sample:
    path: Path  # the document
    meta: dict  # its JSON
    set: str

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def kind(self) -> str:
        return self.meta.get("kind") or "?"

    @property
    def doc_type(self) -> str:  # the synthetic samples call it `layout`
        return self.meta.get("doc_type") or self.meta.get("layout") or "?"


@dataclass
class Settings:
    languages: str
    engine: str | None = None
    psm: int | None = WORKER_PSM  # None: by input, as the worker does

    def key(self) -> str:
        text = json.dumps({"format": CACHE_FORMAT, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Result:
    """One document's figures (and, for --show, its candidates with their hit flags)."""

    name: str
    set: str
    kind: str
    doc_type: str
    pages: int = 0
    read_seconds: float = 0.0
    extract_seconds: float = 0.0
    cached: bool = False
    source: str = "layout"  # or "xml": the candidates came from an embedded e-invoice
    error: str | None = None
    items: list[dict] = field(default_factory=list)  # expected
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    candidates: list[dict] = field(default_factory=list)
    matched: list[bool] = field(default_factory=list)
    read: list = field(default_factory=list, repr=False)  # the pages, for --against

    @property
    def set_and_kind(self) -> str:  # the targets are per kind of the real set
        return f"{self.set} / {self.kind}"


COUNT_KEYS = ("tp", "fp", "fn", "sku_total", "sku_ok", "qty_total", "qty_ok")


def find_samples(roots: list[Path], only: str | None = None) -> list[Sample]:
    """Every sample JSON with items below the roots (the ones whose name contains `only`)."""
    out = []
    for root in roots:
        for meta_path in sorted(root.rglob("*.json")):
            meta = json.loads(meta_path.read_text())
            if not meta.get("items") or (only and only not in meta_path.stem):
                continue
            parts = meta_path.relative_to(root).parts
            set_name = parts[0] if len(parts) > 1 else root.name
            out.append(Sample(meta_path.with_name(meta["file"]), meta, set_name))
    return out


def default_languages(engine: str | None = None) -> str:
    """The worker's own default (OCR_LANGUAGES), so the figures are the product's."""
    return WORKER_LANGUAGES


class PageCache:
    """A document's pages as JSON in DIR/<sha256 of the file>-<settings key>.json."""

    def __init__(self, directory: Path, settings: Settings):
        self.directory = directory
        self.suffix = settings.key()
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, data: bytes) -> Path:
        return self.directory / f"{hashlib.sha256(data).hexdigest()}-{self.suffix}.json"

    def load(self, data: bytes) -> tuple[list[Page], float] | None:
        path = self._path(data)
        if not path.exists():
            return None
        stored = json.loads(path.read_text())
        pages = [
            Page(
                p["number"],
                p["width"],
                p["height"],
                [Word(*w) for w in p["words"]],
                p["source"],
                p["seconds"],
            )
            for p in stored["pages"]
        ]
        return pages, stored["read_seconds"]

    def store(self, data: bytes, pages: list[Page], read_seconds: float) -> None:
        stored = {
            "read_seconds": read_seconds,
            "pages": [
                {
                    "number": p.number,
                    "width": p.width,
                    "height": p.height,
                    "source": p.source,
                    "seconds": p.seconds,
                    "words": [
                        [w.text, w.x0, w.y0, w.x1, w.y1, w.confidence, w.block, w.line] for w in p.words
                    ],
                }
                for p in pages
            ],
        }
        path = self._path(data)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored))
        tmp.replace(path)


def read_pages(
    data: bytes, settings: Settings, cache: PageCache | None = None
) -> tuple[list[Page], float, bool]:
    """(pages in page order, seconds reading them took, whether they came from the cache)."""
    if cache is not None and (hit := cache.load(data)) is not None:
        return hit[0], hit[1], True
    from angebae.ocr.pipeline import read_document

    started = time.perf_counter()
    pages = sorted(
        read_document(data, languages=settings.languages, engine=settings.engine, psm=settings.psm),
        key=lambda page: page.number,
    )
    seconds = time.perf_counter() - started
    if cache is not None:
        cache.store(data, pages, seconds)
    return pages, seconds, False


def evaluate(sample: Sample, settings: Settings, cache: PageCache | None = None) -> Result:
    from angebae.ocr.document import DocumentError
    from angebae.ocr.pipeline import choose_candidates

    result = Result(sample.name, sample.set, sample.kind, sample.doc_type, items=sample.meta["items"])
    data = sample.path.read_bytes()
    try:
        pages, result.read_seconds, result.cached = read_pages(data, settings, cache)
    except DocumentError as exc:
        result.error = str(exc)
        result.counts["fn"] = scoring.score([], result.items)["fn"]
        return result
    result.pages = len(pages)
    result.read = pages
    started = time.perf_counter()
    # As the worker decides: an embedded e-invoice's items, else the layout reader's candidates.
    result.source, candidates = choose_candidates(data, pages)
    result.candidates = [c.to_json() for c in candidates]
    result.extract_seconds = time.perf_counter() - started
    result.matched = scoring.matched_candidates(result.candidates, result.items)
    figures = scoring.score(result.candidates, result.items) | scoring.field_agreement(
        result.candidates, result.items
    )
    result.counts = {key: figures[key] for key in COUNT_KEYS}
    return result


def figures(results: list[Result]) -> dict:
    """Micro-averaged P/R/F1, SKU/qty accuracy and speed over some documents."""
    counts = {key: sum(r.counts[key] for r in results) for key in COUNT_KEYS}
    pages = sum(r.pages for r in results)
    read = sum(r.read_seconds for r in results)
    return {
        "documents": len(results),
        **prf(counts["tp"], counts["fp"], counts["fn"]),
        **counts,
        "sku_accuracy": _ratio(counts["sku_ok"], counts["sku_total"]),
        "qty_accuracy": _ratio(counts["qty_ok"], counts["qty_total"]),
        "pages": pages,
        "read_seconds": read,
        "extract_seconds": sum(r.extract_seconds for r in results),
        "pages_per_second": _ratio(pages, read),
        "cached_documents": sum(r.cached for r in results),
        "errors": sum(r.error is not None for r in results),
    }


def confidence_figures(results: list[Result]) -> dict:
    """AUROC of candidate confidence (hit vs miss), and P/R/F1 keeping only confident candidates."""
    confidences = [c["confidence"] for r in results for c in r.candidates]
    labels = [hit for r in results for hit in r.matched]
    out = {"candidates": len(labels), "hits": sum(labels), "auroc": scoring.auroc(confidences, labels)}
    for threshold in THRESHOLDS:
        kept = [([c for c in r.candidates if c["confidence"] >= threshold], r.items) for r in results]
        counts = [scoring.score(candidates, items) for candidates, items in kept]
        tp, fp, fn = (sum(c[key] for c in counts) for key in ("tp", "fp", "fn"))
        out[f">={threshold}"] = {"kept": tp + fp, **prf(tp, fp, fn)}
    return out


def prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


LABEL_WIDTH = 56
HEADER = (
    f"{'document / group':<{LABEL_WIDTH}} {'docs':>4} "
    f"{'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4} "
    f"{'sku':>9} {'qty':>9} {'pages':>5} {'read s':>7} {'pages/s':>7} {'extract s':>9}"
)


def format_row(label: str, f: dict) -> str:
    def acc(ok: int, total: int) -> str:
        return f"{ok}/{total}" if total else "-"

    speed = f"{f['pages_per_second']:.2f}" if f["pages_per_second"] else "-"
    return (
        f"{_shorten(label, LABEL_WIDTH):<{LABEL_WIDTH}} {f['documents']:>4} "
        f"{f['precision']:>6.3f} {f['recall']:>6.3f} {f['f1']:>6.3f} "
        f"{f['tp']:>4} {f['fp']:>4} {f['fn']:>4} {acc(f['sku_ok'], f['sku_total']):>9} "
        f"{acc(f['qty_ok'], f['qty_total']):>9} {f['pages']:>5} {f['read_seconds']:>7.2f} {speed:>7} "
        f"{f['extract_seconds']:>9.3f}"
    )


def _shorten(text: str, width: int) -> str:
    """The start and the end of a long name (sample names differ at both ends)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "~" + text[len(text) - (width - 1 - head) :]


def report(results: list[Result]) -> dict:
    """Everything printed, as one JSON-able dict."""
    real = [r for r in results if r.set == "real"] or results
    return {
        "documents": {
            r.name: {"set": r.set, "kind": r.kind, "doc_type": r.doc_type, "error": r.error, **figures([r])}
            for r in results
        },
        **{
            f"by_{grouping}": {
                group: figures([r for r in results if getattr(r, grouping) == group])
                for group in sorted({getattr(r, grouping) for r in results})
            }
            for grouping in GROUPINGS
        },
        "overall": figures(results),
        "confidence_on": "real" if real is not results else "all",
        "confidence": confidence_figures(real),
    }


def print_report(out: dict) -> None:
    print(HEADER)
    for name, f in out["documents"].items():
        print(format_row(name, f) + (f"  ERROR {f['error']}" if f["error"] else ""))
    for grouping in GROUPINGS:
        print(f"\nper {grouping.replace('_', ' ')}")
        for group, f in out[f"by_{grouping}"].items():
            print(format_row(group, f))
    print()
    print(format_row("OVERALL", out["overall"]))
    overall = out["overall"]
    if overall["cached_documents"]:
        print(
            f"({overall['cached_documents']} of {overall['documents']} documents from the page cache: "
            "read seconds as measured when first read)"
        )
    conf = out["confidence"]
    auroc = "-" if conf["auroc"] is None else f"{conf['auroc']:.3f}"
    print(
        f"\nconfidence on {out['confidence_on']} documents: {conf['candidates']} candidates, "
        f"{conf['hits']} hits, AUROC {auroc}"
    )
    for threshold in THRESHOLDS:
        t = conf[f">={threshold}"]
        print(
            f"  keep confidence >= {threshold}: {t['kept']:>4} candidates  P {t['precision']:.3f}  "
            f"R {t['recall']:.3f}  F1 {t['f1']:.3f}"
        )


def show(sample: Sample, result: Result) -> None:
    """The document's expected items beside its candidates, for debugging."""
    print(f"\n== {sample.name} ({sample.set}, {sample.kind}, {sample.doc_type})")
    pairs = {ei: ci for ci, ei in scoring.match_pairs(result.candidates, result.items)}
    print("  expected:")
    for ei, item in enumerate(result.items):
        found = "not a product" if item.get("line_type") else "MISSED"
        found = f"cand #{pairs[ei]}" if ei in pairs else found
        print(f"    {_line(item)}  -> {found}")
    print("  candidates:")
    for ci, (cand, hit) in enumerate(zip(result.candidates, result.matched, strict=True)):
        print(f"    #{ci:<3} {'hit ' if hit else 'MISS'} conf {cand['confidence']:.2f}  {_line(cand)}")


def _line(row: dict) -> str:
    extra = f" [{row['line_type']}]" if row.get("line_type") else ""
    name = (row.get("name") or "")[:48]
    price, sku, qty = (str(row.get(key)) for key in ("price", "sku", "qty"))
    return f"{name!r:<50} price {price:>10}  sku {sku:<14} qty {qty}{extra}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "roots",
        nargs="*",
        type=Path,
        help="sample folders (default: $ANGEBAE_SAMPLES or " + " and ".join(map(str, DEFAULT_ROOTS)) + ")",
    )
    parser.add_argument("--cache", type=Path, help="keep/read each document's pages in this folder")
    parser.add_argument("--only", help="only documents whose name contains this")
    parser.add_argument("--show", action="store_true", help="print candidates beside the expected items")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--against", metavar="REV", help="also score REV's extractor on the same pages")
    parser.add_argument("--languages", help="Tesseract languages (default: the worker's default)")
    parser.add_argument(
        "--engine", choices=("tesserocr", "pytesseract"), help="OCR engine (default: the pipeline's)"
    )
    parser.add_argument(
        "--psm", type=int, default=WORKER_PSM, help="Tesseract page segmentation mode (default: by input)"
    )
    args = parser.parse_args(argv)
    if not args.roots:
        env = os.environ.get("ANGEBAE_SAMPLES")
        args.roots = [Path(p) for p in env.split(os.pathsep) if p] if env else list(DEFAULT_ROOTS)
    return args


# Run by REV's interpreter path: its own extract_candidates on the pickled pages, candidates as JSON.
_BASELINE = """
import json, pickle, sys
sys.path.insert(0, sys.argv[1])
try:
    from angebae.ocr.extract import extract_candidates
except ImportError:  # a revision before the layer was grouped by domain (c57c59e)
    from angebae.ocr.candidates import extract_candidates
pages = pickle.loads(open(sys.argv[2], "rb").read())
out = {name: [c.to_json() for c in extract_candidates(p)] for name, p in pages.items()}
open(sys.argv[3], "w").write(json.dumps(out, default=str))
"""


def baseline_candidates(rev: str, results: list[Result]) -> dict[str, list[dict]]:
    """REV's candidates for every document's pages (the same Page objects read in this run)."""
    from ocr_bench import worktree  # the bench's temporary git worktree of a revision

    with worktree(rev) as tree, tempfile.TemporaryDirectory() as tmp:
        pages, out = Path(tmp) / "pages.pickle", Path(tmp) / "candidates.json"
        pages.write_bytes(pickle.dumps({r.name: r.read for r in results if r.error is None}))
        code = str(tree / "layers" / "common" / "python")
        subprocess.run([sys.executable, "-c", _BASELINE, code, str(pages), str(out)], check=True)
        return json.loads(out.read_text())


def before_and_now(rev: str, results: list[Result]) -> dict:
    """F1 of REV's extractor and of today's, per set and per kind and doc_type within it, on the
    same pages."""
    old = baseline_candidates(rev, results)
    before = {r.name: scoring.score(old.get(r.name, []), r.items) for r in results}
    groups: dict[str, list[Result]] = {}
    for r in results:  # each set, and each kind within it (a real scan is no synthetic scan)
        groups.setdefault(r.set, []).append(r)
        groups.setdefault(f"{r.set} / {r.kind}", []).append(r)
        groups.setdefault(f"{r.set} / {r.doc_type}", []).append(r)
    table: dict = {}
    for label in sorted(groups):
        members = groups[label]
        then = prf(*(sum(before[r.name][k] for r in members) for k in ("tp", "fp", "fn")))
        table[label] = {"documents": len(members), "before": then["f1"], "now": figures(members)["f1"]}
    return table


def print_before_and_now(rev: str, table: dict) -> None:
    print(f"\nF1 at {rev} and now, same pages, same run")
    for label, row in table.items():
        print(f"  {label:<34} {row['documents']:>4} docs   {row['before']:.3f} -> {row['now']:.3f}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    samples = find_samples(args.roots, args.only)
    if not samples:
        print(f"no samples with items under {', '.join(map(str, args.roots))}")
        return 1
    settings = Settings(args.languages or default_languages(args.engine), args.engine, args.psm)
    cache = PageCache(args.cache, settings) if args.cache else None
    print(
        f"{len(samples)} documents; languages {settings.languages}; engine {settings.engine or 'default'}; "
        f"psm {settings.psm}; cache {args.cache or 'off'}\n"
    )
    results = []
    for sample in samples:
        results.append(evaluate(sample, settings, cache))
        if args.show:
            show(sample, results[-1])
    if args.show:
        print()
    out = report(results)
    print_report(out)
    if args.against:
        out["against"] = {"rev": args.against, "f1": before_and_now(args.against, results)}
        print_before_and_now(args.against, out["against"]["f1"])
    if args.json:
        args.json.write_text(json.dumps({"settings": asdict(settings), **out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
