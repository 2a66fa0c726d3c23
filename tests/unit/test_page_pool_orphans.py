"""A page process of the OCR pool dies with the function process that forked it (issue 12): on an
engine without a sandbox (MiniStack runs functions as plain processes) a SIGKILLed worker left its
page processes waiting for their next page until the whole emulator stopped (the chaos test on
MiniStack measured them still there after 60 s)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A function process: a pool of two page processes, idle, waiting for pages; it prints their pids.
FUNCTION = """
import multiprocessing, sys, time
from angebae.ocr.pipeline import _Worker
from angebae.ocr.document import DEFAULT_LIMITS
ctx = multiprocessing.get_context("fork")
workers = [_Worker(ctx, (b"%PDF-1.4", "application/pdf", "eng", DEFAULT_LIMITS, None, 3)) for _ in range(2)]
print(" ".join(str(w.process.pid) for w in workers), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_page_processes_end_when_their_function_process_is_killed():
    proc = subprocess.Popen(
        [sys.executable, "-c", FUNCTION],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "layers/common/python")},
    )
    pids = [int(p) for p in proc.stdout.readline().split()]
    try:
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)

        # before: both still waiting for a page after the 10 s
        assert [p for p in pids if _alive(p)] == []
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
