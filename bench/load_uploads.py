"""Load: N documents uploaded at once through `angebae local`, each read by the OCR worker exactly once.

    .venv/bin/python bench/load_uploads.py                 # 50 documents, 8 client threads
    .venv/bin/python bench/load_uploads.py --docs 200 --threads 16

Starts `angebae local` with its worker on a fresh database of the local PostgreSQL (TEST_DATABASE_URL,
default postgres@127.0.0.1:5432), as the e2e tests do. Each client thread logs in once, then per
document asks for an upload ticket (POST /media/uploads) and POSTs the file to S3 with it; S3 notifies
SQS and the worker takes it from there. Documents alternate: a 1-page PDF with a text layer, a 2-page
scanned PDF (image only, Tesseract), each with an item of its own. Checked: one media row and one job per
document, every job succeeded on its first attempt, no duplicate candidates. Printed: wall time,
documents/min, upload latency (ticket + file POST) p50/p95, time to result (upload done -> job
finished) p50/p95, and the worker's peak memory: VmHWM of its function process and of its OCR
processes, and the largest RSS of the whole tree, sampled from /proc every 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "infra"), str(ROOT / "layers" / "common" / "python")]

from e2e_support import (  # noqa: E402
    EMAIL,
    PASSWORD,
    RunningStack,
    descendants,
    fresh_database,
    function_pids,
    peak_rss_kib,
    start_stack,
    stop_stack,
)
from fixtures_docs import PRODUCT_LINES, native_pdf, scanned_pdf  # noqa: E402


def document(i: int) -> tuple[str, bytes]:
    lines = [*PRODUCT_LINES[:3], f"Load test item {i}      LT-{10000 + i}      {i % 90 + 10}.99 USD"]
    if i % 2:
        return f"scan-{i}.pdf", scanned_pdf(2, lines, dpi=150)
    return f"native-{i}.pdf", native_pdf(1, lines)


class MemorySampler(threading.Thread):
    """Peak VmHWM per process of the worker's tree, and the tree's largest RSS sum."""

    def __init__(self, stack: RunningStack, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.stack, self.interval, self.stop = stack, interval, threading.Event()
        self.function_hwm = self.child_hwm = self.tree_rss = 0  # KiB

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def sample(self) -> None:
        total = 0
        for pid in function_pids(self.stack):
            self.function_hwm = max(self.function_hwm, peak_rss_kib(pid))
            total += _rss_kib(pid)
            for child in descendants(pid):
                self.child_hwm = max(self.child_hwm, peak_rss_kib(child))
                total += _rss_kib(child)
        self.tree_rss = max(self.tree_rss, total)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _upload(api: str, local: threading.local, i: int) -> tuple[str, float, float]:
    """(media id, seconds for ticket + file POST, time.time() when the file was in S3)."""
    if not hasattr(local, "session"):
        local.session = requests.Session()
        r = local.session.post(f"{api}/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=120)
        r.raise_for_status()
    name, data = document(i)
    started = time.perf_counter()
    r = local.session.post(
        f"{api}/media/uploads",
        timeout=120,
        json={"filename": name, "content_type": "application/pdf", "size": len(data)},
    )
    r.raise_for_status()
    ticket = r.json()
    post = ticket["upload"]
    r = requests.post(
        post["url"], data=post["fields"], files={"file": (name, data, "application/pdf")}, timeout=120
    )
    r.raise_for_status()
    return ticket["media"]["id"], time.perf_counter() - started, time.time()


def _jobs(database_url: str, media_ids: list[str]) -> list[dict]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(
            """SELECT j.*, (SELECT count(*) FROM product_candidates c WHERE c.job_id = j.id) AS candidates,
                      (SELECT count(DISTINCT (c.page_number, c.position)) FROM product_candidates c
                        WHERE c.job_id = j.id) AS distinct_candidates
               FROM ocr_jobs j WHERE j.media_id = ANY(%s::uuid[])""",
            (media_ids,),
        ).fetchall()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_load(stack: RunningStack, docs: int, threads: int, timeout: float = 600) -> dict:
    """Upload `docs` documents with `threads` clients, wait for their jobs; figures and invariants."""
    sampler = MemorySampler(stack)
    sampler.start()
    local = threading.local()
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        uploads = list(pool.map(lambda i: _upload(stack.url, local, i), range(docs)))
    uploaded = time.perf_counter() - started
    media_ids = [m for m, _, _ in uploads]
    deadline = time.monotonic() + timeout
    while True:
        jobs = _jobs(stack.database_url, media_ids)
        if len(jobs) >= docs and all(j["status"] in ("succeeded", "failed") for j in jobs):
            break
        if time.monotonic() > deadline:
            sampler.stop.set()
            raise TimeoutError(
                f"{sum(j['status'] == 'succeeded' for j in jobs)}/{docs} jobs succeeded "
                f"after {timeout:g} s\n{stack.log_tail()}"
            )
        time.sleep(0.25)
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    sampler.sample()
    done_at = {m: t for m, _, t in uploads}
    to_result = [
        (j["finished_at"] - datetime.fromtimestamp(done_at[str(j["media_id"])], UTC)).total_seconds()
        for j in jobs
    ]
    latency = [s for _, s, _ in uploads]
    return {
        "docs": docs,
        "threads": threads,
        "media": len(set(media_ids)),
        "jobs": len(jobs),
        "jobs_per_media": len({j["media_id"] for j in jobs}),
        "succeeded": sum(j["status"] == "succeeded" for j in jobs),
        "first_attempt": sum(j["attempts"] == 1 for j in jobs),
        "duplicate_candidates": sum(j["candidates"] - j["distinct_candidates"] for j in jobs),
        "jobs_without_candidates": sum(j["candidates"] == 0 for j in jobs),
        "failed": [(str(j["media_id"]), j["error_code"]) for j in jobs if j["status"] != "succeeded"],
        "wall_s": wall,
        "upload_phase_s": uploaded,
        "docs_per_min": docs / wall * 60,
        "upload_p50_s": percentile(latency, 0.5),
        "upload_p95_s": percentile(latency, 0.95),
        "result_p50_s": percentile(to_result, 0.5),
        "result_p95_s": percentile(to_result, 0.95),
        "worker_hwm_mib": sampler.function_hwm / 1024,
        "ocr_child_hwm_mib": sampler.child_hwm / 1024,
        "worker_tree_rss_mib": sampler.tree_rss / 1024,
    }


def check(figures: dict) -> list[str]:
    """What is wrong with the run: every document one media row, one job, succeeded once."""
    n = figures["docs"]
    problems = [
        f"{k} = {figures[k]}, expected {n}"
        for k in ("media", "jobs", "jobs_per_media", "succeeded", "first_attempt")
        if figures[k] != n
    ]
    if figures["duplicate_candidates"]:
        problems.append(f"{figures['duplicate_candidates']} duplicate candidates")
    if figures["jobs_without_candidates"]:
        problems.append(f"{figures['jobs_without_candidates']} jobs without candidates")
    return problems + [f"job of media {m} failed: {code}" for m, code in figures["failed"]]


def report(f: dict) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return "\n".join(
        [
            f"machine        {os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}",
            f"documents      {f['docs']} (half 1-page native, half 2-page scanned), "
            f"{f['threads']} client threads",
            f"checked        {f['media']} media, {f['jobs']} jobs, {f['succeeded']} succeeded, "
            f"{f['first_attempt']} on the first attempt, {f['duplicate_candidates']} duplicate candidates",
            f"wall time      {f['wall_s']:.1f} s (uploads done after {f['upload_phase_s']:.1f} s)",
            f"throughput     {f['docs_per_min']:.1f} documents/min",
            f"upload         p50 {f['upload_p50_s'] * 1000:.0f} ms, p95 {f['upload_p95_s'] * 1000:.0f} ms "
            "(ticket + file POST)",
            f"to result      p50 {f['result_p50_s']:.1f} s, p95 {f['result_p95_s']:.1f} s "
            "(upload done -> job finished)",
            f"worker memory  function process VmHWM {f['worker_hwm_mib']:.0f} MiB, OCR process VmHWM "
            f"{f['ocr_child_hwm_mib']:.0f} MiB, whole tree RSS peak {f['worker_tree_rss_mib']:.0f} MiB",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the jobs")
    args = parser.parse_args()
    with fresh_database() as database_url:
        stack = start_stack(database_url, worker=True)
        try:
            figures = run_load(stack, args.docs, args.threads, args.timeout)
        finally:
            stop_stack(stack)
    print(report(figures))
    problems = check(figures)
    for problem in problems:
        print("PROBLEM", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
