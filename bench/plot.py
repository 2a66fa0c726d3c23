"""Plots of the benchmark results (matplotlib, in the dev extras).

    .venv/bin/python bench/plot.py                    # reads bench/out/ocr.json and bench/out/api.json
    .venv/bin/python bench/plot.py --out docs/figures # where the PNGs go (default bench/out)

Writes ocr_throughput.png (pages/s against document pages, pipeline / baseline / OCRmyPDF; left:
documents with a text layer, right: documents that need OCR) and api_latency.png (p50 and p95 latency
against concurrent clients, one panel per endpoint; the login panel carries the bcrypt verify time,
and a dotted p50 from `api_bench.py --what-if-nodelay` when bench/out/api-nodelay.json exists).
A missing JSON skips its figure.
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


def plot_api(data: dict, out: Path, what_if: dict | None = None) -> Path:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    endpoints = data["endpoints"]
    fig, axes = plt.subplots(1, len(endpoints), figsize=(3.5 * len(endpoints), 4.2))
    verify = data.get("bcrypt_verify")
    for ax, (name, levels) in zip(axes, endpoints.items(), strict=True):
        xs = [lv["clients"] for lv in levels]
        ax.plot(xs, [lv["p50_ms"] for lv in levels], "o-", color="tab:blue", label="p50")
        ax.plot(xs, [lv["p95_ms"] for lv in levels], "s--", color="tab:red", label="p95")
        if what_if and name in what_if.get("endpoints", {}):
            alt = what_if["endpoints"][name]
            ax.plot(
                [lv["clients"] for lv in alt],
                [lv["p50_ms"] for lv in alt],
                "o:",
                color="tab:green",
                label="p50, what-if TCP_NODELAY",
                alpha=0.8,
            )
        if verify and "login" in name:
            ax.axhline(
                verify["median_ms"],
                color="black",
                lw=0.8,
                ls="-.",
                label=f"one bcrypt verify (cost {verify['cost']})",
            )
        for lv in levels:
            rps = f"{lv['rps']:.0f}/s" if lv["rps"] >= 10 else f"{lv['rps']:.1f}/s"
            ax.annotate(
                rps,
                (lv["clients"], lv["p95_ms"]),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=7.5,
                color="tab:red",
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlim(min(xs) / 1.6, max(xs) * 1.6)
        ax.set_yscale("log")
        ax.margins(y=0.15)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(1, 2, 3, 4, 5, 6, 7, 8, 9)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("concurrent clients")
        ax.grid(True, which="major", alpha=0.35)
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("latency, ms (log scale)")
    fig.suptitle(
        f"API latency through the local gateway (angebae local --concurrency {data.get('concurrency')}); "
        f"labels: requests/s\n{_machine_line(data)}",
        fontsize=10,
    )
    fig.tight_layout()
    path = out / "api_latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _f(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown(ocr: dict | None, api: dict | None, what_if: dict | None) -> str:
    """The README's tables, from the same JSON as the figures."""
    lines: list[str] = []
    if ocr:
        lines += [
            "| mode | documents | docs | pages | total s | s/doc | pages/s | x baseline (total time) "
            "| x baseline (geo. mean per doc) | peak tree RSS MB | peak tree PSS MB | mean F1 |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for mode, kinds in ocr["summary"].items():
            for kind, s in kinds.items():
                lines.append(
                    f"| {mode} | {kind} | {s['documents']} | {s['pages']} | {s['seconds']:.1f} | "
                    f"{s['seconds_per_doc']:.2f} | {_f(s['pages_per_s'], '.2f')} | "
                    f"{_f(s['speedup_total_time'], '.1f')} | {_f(s['speedup_geomean'], '.1f')} | "
                    f"{s['peak_tree_rss_mb']:.0f} | {s['peak_tree_pss_mb']:.0f} | {_f(s['mean_f1'], '.2f')} |"
                )
        lines += [
            "",
            "| document | kind | pages | " + " | ".join(f"{m} s (F1)" for m in ocr["modes"]) + " |",
            "|---|---|--:|" + "--:|" * len(ocr["modes"]),
        ]
        by_doc: dict[str, dict] = {}
        for r in ocr["rows"]:
            by_doc.setdefault(r["document"], {})[r["mode"]] = r
        for doc, modes in by_doc.items():
            first = modes["pipeline"]
            cells = []
            for m in ocr["modes"]:
                r = modes.get(m)
                if r is None or "error" in r:
                    cells.append("-" if r is None else "error")
                else:
                    cells.append(f"{r['seconds']:.2f} ({_f(r['f1'], '.2f')})")
            lines.append(
                f"| {doc} | {first['kind']} | {first.get('pages', '-')} | " + " | ".join(cells) + " |"
            )
        for mode, reason in ocr.get("skipped", {}).items():
            lines.append(f"\n{mode}: {reason}")
        lines.append("")
    if api:
        alt = (what_if or {}).get("endpoints", {})
        head = "| endpoint | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors |"
        sep = "|---|--:|--:|--:|--:|--:|--:|--:|"
        if alt:
            head += " what-if TCP_NODELAY: req/s | p50 ms |"
            sep += "--:|--:|"
        lines += [head, sep]
        for name, levels in api["endpoints"].items():
            for i, lv in enumerate(levels):
                row = (
                    f"| {name} | {lv['clients']} | {lv['requests']} | {lv['rps']:.1f} | {lv['p50_ms']:.0f} | "
                    f"{lv['p95_ms']:.0f} | {lv['p99_ms']:.0f} | {lv['errors']} |"
                )
                if alt:
                    other = alt.get(name, [None] * len(levels))[i]
                    row += f" {other['rps']:.1f} | {other['p50_ms']:.0f} |" if other else " - | - |"
                lines.append(row)
        verify = api.get("bcrypt_verify")
        if verify:
            lines.append(
                f"\nbcrypt verify at cost {verify['cost']}, same run: {verify['median_ms']:.0f} ms median "
                f"(min {verify['min_ms']:.0f} ms, {verify['rounds']} rounds)"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ocr", type=Path, default=OUT / "ocr.json")
    parser.add_argument("--api", type=Path, default=OUT / "api.json")
    parser.add_argument(
        "--api-what-if",
        type=Path,
        default=OUT / "api-nodelay.json",
        help="api_bench.py --what-if-nodelay output, drawn as a dotted p50 when present",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--markdown", action="store_true", help="also print the README's tables")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    what_if = json.loads(args.api_what_if.read_text()) if args.api_what_if.exists() else None
    for source, plot in ((args.ocr, plot_ocr), (args.api, lambda d, o: plot_api(d, o, what_if))):
        if source.exists():
            print(f"wrote {plot(json.loads(source.read_text()), args.out)}")
        else:
            print(f"skipped: {source} not found (run the benchmark first)")
    if args.markdown:
        load = lambda path: json.loads(path.read_text()) if path.exists() else None  # noqa: E731
        print(markdown(load(args.ocr), load(args.api), what_if))


if __name__ == "__main__":
    main()
