"""bench/load_uploads.py, bounded for CI: 10 documents uploaded at once through the shared stack, each
read exactly once, the worker's memory under its function's MemorySize. Timings are printed, not asserted."""

from __future__ import annotations

import importlib.util

import pytest
from e2e_support import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.ocr]

WORKER_MEMORY_MIB = 3008  # template.yaml: OcrWorkerFunction MemorySize


def load_bench():
    spec = importlib.util.spec_from_file_location("load_uploads", ROOT / "bench" / "load_uploads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ten_concurrent_uploads_each_read_exactly_once(worker_stack):
    bench = load_bench()

    figures = bench.run_load(worker_stack, docs=10, threads=5, timeout=150)

    print(bench.report(figures))
    assert bench.check(figures) == [], figures
    assert 0 < figures["worker_tree_rss_mib"] < WORKER_MEMORY_MIB, figures
