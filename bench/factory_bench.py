"""Candidate F1 on documents drawn by the project's document factory, on seeds no test runs.

tests/unit/test_candidates_unseen.py draws invoices, catalogs (one column and grids) and price lists
in Spanish and English with random column orders, header words, currency styles, wrapped names and
page furniture; its tests run seeds 0-7. This reads the text layers of many more (`--seeds A:B`)
and prints micro P/R/F1 per kind; `--against REV` also scores revision REV's extractor and factory
(a temporary git worktree) on the same seeds, side by side.

    .venv/bin/python bench/factory_bench.py --seeds 200:500 --against 6f8ac6a
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def score(root: Path, first: int, last: int) -> dict[str, dict]:
    """{kind: {tp, fp, fn, f1}} over seeds first..last-1, with the code under `root`."""
    sys.path[:0] = [str(root / part) for part in ("tests/unit", "tests", "layers/common/python")]
    import test_candidates_unseen as factory

    try:
        from angebae.ocr.extract import extract_candidates
    except ImportError:  # a revision before the layer was grouped by domain (c57c59e)
        from angebae.ocr.candidates import extract_candidates
    from angebae.ocr.scoring import score as score_items
    from text_pages import text_layer

    out = {}
    for kind in sorted(factory.KINDS):
        tp = fp = fn = 0
        for seed in range(first, last):
            doc = factory.make(kind, seed)
            found = [c.to_json() for c in extract_candidates(text_layer(doc.pdf()))]
            result = score_items(found, doc.items)
            tp, fp, fn = tp + result["tp"], fp + result["fp"], fn + result["fn"]
        out[kind] = {"tp": tp, "fp": fp, "fn": fn, "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="200:500", help="A:B, seeds A to B-1 (default 200:500)")
    parser.add_argument("--against", metavar="REV", help="also score revision REV on the same seeds")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    first, last = (int(part) for part in args.seeds.split(":"))
    now = score(args.root, first, last)
    if args.json:
        print(json.dumps(now))
        return 0
    before = None
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "rev"
            git = ["git", "-C", str(ROOT), "worktree"]
            subprocess.run([*git, "add", "-q", "--detach", str(tree), args.against], check=True)
            try:
                run = subprocess.run(
                    [sys.executable, __file__, "--seeds", args.seeds, "--root", str(tree), "--json"],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                before = json.loads(run.stdout.strip().splitlines()[-1])
            finally:
                subprocess.run([*git, "remove", "--force", str(tree)], check=False)
    print(f"document factory, seeds {first}-{last - 1}, text layers")
    against = f"  F1 at {args.against}" if before else ""
    print(f"{'kind':<10} {'docs':>5} {'tp':>6} {'fp':>5} {'fn':>5} {'F1':>6}{against}")
    for kind, f in now.items():
        tail = f"  {before[kind]['f1']:.3f}" if before and kind in before else ""
        print(f"{kind:<10} {last - first:>5} {f['tp']:>6} {f['fp']:>5} {f['fn']:>5} {f['f1']:>6.3f}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
