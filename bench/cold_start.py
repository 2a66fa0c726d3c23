"""Cold import time of each function's module beside the libraries it cannot avoid, in one run.

Each figure is the median of N fresh interpreters (`python -c 'import ...'`), so caches of the
previous import never help. Usage: python bench/cold_start.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
HEAVY = ("boto3", "botocore", "pymupdf", "fitz", "pytesseract", "tesserocr", "PIL")
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT / "layers/common/python"),
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    "JWT_SECRET": "bench-" + "k" * 40,
    "MEDIA_BUCKET": "bench",
    "OCR_QUEUE_URL": "http://127.0.0.1:1/queue/bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}

PROBE = """
import importlib.util, json, sys, time
started = time.perf_counter()
{body}
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def measure(body: str, cwd: Path = ROOT) -> tuple[float, list[str]]:
    samples, heavy = [], []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", PROBE.format(body=body, heavy=HEAVY)], env=ENV,
                             cwd=cwd, capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        samples.append(result["seconds"])
        heavy = result["heavy"]
    return statistics.median(samples), heavy


def import_function(name: str) -> str:
    path = ROOT / "functions" / name / "app.py"
    return (f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)")


def main() -> None:
    floor_libs = "import psycopg, jwt, bcrypt, pydantic, chalice"
    floor, _ = measure(floor_libs)
    floor_aws, _ = measure(floor_libs + "\nimport boto3; boto3.client('s3'); boto3.client('sqs')")
    print(f"cold import, median of {RUNS} fresh interpreters ({sys.version.split()[0]})\n")
    print(f"{'module':<28}{'seconds':>9}{'floor':>9}{'ratio':>8}  heavy modules loaded")
    print(f"{'floor: psycopg+jwt+bcrypt+pydantic+chalice':<28}{floor:>9.3f}")
    print(f"{'floor + boto3 (s3, sqs)':<28}{floor_aws:>9.3f}")
    for name in sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()):
        seconds, heavy = measure(import_function(name))
        base = floor if not ({"boto3", "botocore"} & set(heavy)) else floor_aws
        print(f"{name:<28}{seconds:>9.3f}{base:>9.3f}{seconds / base:>8.2f}  {', '.join(heavy) or '-'}")
    for label, body in (("ocr_worker + OCR imports", import_function("ocr_worker")
                         + "\nimport pymupdf, pytesseract"),):
        if (ROOT / "functions/ocr_worker/app.py").exists():
            seconds, heavy = measure(body)
            print(f"{label:<28}{seconds:>9.3f}{floor_aws:>9.3f}{seconds / floor_aws:>8.2f}  {', '.join(heavy)}")


if __name__ == "__main__":
    main()
