"""The local paths side by side: `angebae local --demo` on each engine, as a user runs it.

    .venv/bin/python bench/local_engines.py                       # embedded, then ministack
    .venv/bin/python bench/local_engines.py --engines ministack --runs 2

Each run: a fresh database on the local PostgreSQL (TEST_DATABASE_URL, default postgres@127.0.0.1:5432),
`angebae local --engine E --demo` on a free port (MiniStack with a state folder of its own, so a fresh
MiniStack and a fresh deployment; its venvs, wheels and SAM build cache are reused when present),
then SIGTERM. Printed per run: start (command to banner), the demo (the generated 2-page catalog:
upload request to OCR result, as the demo prints it), the whole tree's RSS once the demo is done
(every process under the command, sampled from /proc), its largest RSS during the run, the stop
time, and what was left running after the stop (must be nothing).
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "infra"), str(ROOT / "layers" / "common" / "python")]

from e2e_support import descendants, free_port, fresh_database, local_command, stack_env  # noqa: E402

DEMO_RESULT = re.compile(r"([\d.]+) s from upload request to result")


def tree_rss_mib(pid: int) -> float:
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def run_once(engine: str) -> dict:
    with fresh_database() as database_url:
        cmd = [*local_command(engine, free_port(), database_url), "--demo"]
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=stack_env(),
            start_new_session=True,
        )
        got: dict = {"engine": engine, "peak_mib": 0.0}
        done = threading.Event()

        def read() -> None:
            for line in proc.stdout:
                if "angebae local stack is up" in line and "start_s" not in got:
                    got["start_s"] = time.monotonic() - started
                if m := DEMO_RESULT.search(line):
                    got["demo_s"] = float(m.group(1))
                if "SUCCEEDED" in line or "FAILED" in line:
                    got["ok"] = "SUCCEEDED" in line
                if "the stack keeps running" in line:
                    done.set()
            done.set()

        threading.Thread(target=read, daemon=True).start()
        while not done.wait(0.2):
            got["peak_mib"] = max(got["peak_mib"], tree_rss_mib(proc.pid))
        time.sleep(1)
        got["after_demo_mib"] = tree_rss_mib(proc.pid)
        group = [proc.pid, *descendants(proc.pid)]
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        got["stop_s"] = time.monotonic() - stopping
        time.sleep(0.5)
        got["left_running"] = [
            p
            for p in group
            if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text()
        ]
        return got


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", nargs="+", default=["embedded", "ministack"])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print("| engine | start s | demo s | tree RSS after demo MiB | peak RSS MiB | stop s | left running |")
    print("|---|--:|--:|--:|--:|--:|---|")
    ok = True
    for engine in args.engines:
        for _ in range(args.runs):
            r = run_once(engine)
            ok &= bool(r.get("ok")) and not r["left_running"]
            start, demo = r.get("start_s", float("nan")), r.get("demo_s", float("nan"))
            print(
                f"| {engine} | {start:.1f} | {demo:.1f} | "
                f"{r['after_demo_mib']:.0f} | {r['peak_mib']:.0f} | {r['stop_s']:.1f} | "
                f"{r['left_running'] or 'nothing'} |",
                flush=True,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
