"""Plots of the benchmark results (matplotlib, in the dev extras).

    .venv/bin/python bench/plot.py                    # reads bench/out/ocr.json and bench/out/api.json
    .venv/bin/python bench/plot.py --out docs/figures # where the PNGs go (default bench/out)

Writes ocr_throughput.png (pages/s against document pages, pipeline / baseline / OCRmyPDF; left:
documents with a text layer, right: documents that need OCR) and api_latency.png (p50 and p95 latency
against concurrent clients, one panel per endpoint). A missing JSON skips its figure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
COLORS = {
    "pipeline": "tab:blue",
    "pipeline-cli": "tab:cyan",
    "baseline": "tab:gray",
    "ocrmypdf": "tab:orange",
}
MARKERS = {"native": "o", "scanned": "s", "image": "^"}
LABELS = {
    "pipeline": "our pipeline (tesserocr)",
    "pipeline-cli": "our pipeline, Tesseract CLI",
    "baseline": "serial baseline (300 DPI, every page)",
    "ocrmypdf": "OCRmyPDF",
}


def _machine_line(data: dict) -> str:
    m = data.get("machine", {})
    return f"{m.get('nproc', '?')} CPUs ({m.get('cpu', '?')}), Python {m.get('python', '?')}"


def plot_ocr(data: dict, out: Path) -> Path:
    rows = [r for r in data["rows"] if "error" not in r]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    panels = [
        ("Text-layer PDFs (native)", {"native"}),
        ("Needs OCR (scanned PDFs, images)", {"scanned", "image"}),
    ]
    for ax, (title, kinds) in zip(axes, panels, strict=True):
        for mode in data["modes"]:
            mine = sorted(
                (r for r in rows if r["mode"] == mode and r["kind"] in kinds), key=lambda r: r["pages"]
            )
            if not mine:
                continue
            for kind in sorted(kinds):
                pts = [r for r in mine if r["kind"] == kind]
                ax.scatter(
                    [r["pages"] for r in pts],
                    [r["pages_per_s"] for r in pts],
                    color=COLORS[mode],
                    marker=MARKERS[kind],
                    s=42,
                    alpha=0.85,
                    zorder=3,
                )
            # total throughput per page count (sum of pages / sum of seconds), as a line
            by_pages: dict[int, list] = {}
            for r in mine:
                by_pages.setdefault(r["pages"], []).append(r)
            xs = sorted(by_pages)
            ys = [sum(r["pages"] for r in by_pages[x]) / sum(r["seconds"] for r in by_pages[x]) for x in xs]
            ax.plot(xs, ys, color=COLORS[mode], lw=1.5, label=LABELS[mode])
        ax.set_yscale("log")
        ax.set_xlabel("pages in the document")
        ax.set_title(title, fontsize=11)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(sorted({r["pages"] for r in rows if r["kind"] in kinds}))
    axes[0].set_ylabel("pages per second (log scale)")
    handles, labels = axes[1].get_legend_handles_labels()
    shapes = [
        plt.Line2D([], [], color="black", marker=MARKERS[k], ls="", label=f"{k} document") for k in MARKERS
    ]
    axes[1].legend(handles + shapes, labels + [s.get_label() for s in shapes], fontsize=8, loc="upper right")
    fig.suptitle(
        f"OCR throughput, one run: points = documents, lines = totals by size\n{_machine_line(data)}",
        fontsize=11,
    )
    fig.tight_layout()
    path = out / "ocr_throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_api(data: dict, out: Path) -> Path:
    endpoints = data["endpoints"]
    fig, axes = plt.subplots(1, len(endpoints), figsize=(3.4 * len(endpoints), 4.0))
    for ax, (name, levels) in zip(axes, endpoints.items(), strict=True):
        xs = [lv["clients"] for lv in levels]
        ax.plot(xs, [lv["p50_ms"] for lv in levels], "o-", color="tab:blue", label="p50")
        ax.plot(xs, [lv["p95_ms"] for lv in levels], "s--", color="tab:red", label="p95")
        for lv in levels:
            ax.annotate(
                f"{lv['rps']:.0f}/s" if lv["rps"] >= 10 else f"{lv['rps']:.1f}/s",
                (lv["clients"], lv["p50_ms"]),
                textcoords="offset points",
                xytext=(0, -14),
                ha="center",
                fontsize=7,
                color="tab:blue",
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("concurrent clients")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency, ms (log scale)")
    axes[0].legend(fontsize=8)
    verify = data.get("bcrypt_verify")
    extra = f"; bcrypt verify at cost {verify['cost']}: {verify['median_ms']:.0f} ms" if verify else ""
    fig.suptitle(
        f"API latency through the local gateway (--concurrency {data.get('concurrency')}), "
        f"labels = requests/s{extra}\n{_machine_line(data)}",
        fontsize=10,
    )
    fig.tight_layout()
    path = out / "api_latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ocr", type=Path, default=OUT / "ocr.json")
    parser.add_argument("--api", type=Path, default=OUT / "api.json")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for source, plot in ((args.ocr, plot_ocr), (args.api, plot_api)):
        if source.exists():
            print(f"wrote {plot(json.loads(source.read_text()), args.out)}")
        else:
            print(f"skipped: {source} not found (run the benchmark first)")


if __name__ == "__main__":
    main()
