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
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
HEAVY = ("boto3", "botocore", "pymupdf", "fitz", "pytesseract", "tesserocr", "PIL")
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT / "layers/common/python"),
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    "JWT_SECRET": "bench-" + "k" * 40,
    "TOTP_ENCRYPTION_KEY": "bench-" + "t" * 40,
    "MEDIA_BUCKET": "bench",
    "OCR_QUEUE_URL": "http://127.0.0.1:1/queue/bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}

# -S: no site processing, then the layer and site-packages on sys.path, as Lambda's /opt/python is:
# a development install's .pth import hooks would otherwise be charged to the first `import angebae`.
PROBE = """
import sys
sys.path[:0] = [{layer!r}, {site!r}]
import importlib.util, json, time
started = time.perf_counter()
{body}
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def run_probe(body: str) -> dict:
    probe = PROBE.format(
        body=body,
        heavy=HEAVY,
        layer=str(ROOT / "layers/common/python"),
        site=sysconfig.get_paths()["purelib"],
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", probe], env=ENV, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_all(bodies: dict[str, str]) -> dict[str, tuple[float, list[str]]]:
    """Median seconds per body; runs are interleaved so that machine noise hits every body alike."""
    samples: dict[str, list[float]] = {name: [] for name in bodies}
    heavy: dict[str, list[str]] = {}
    for _ in range(RUNS):
        for name, body in bodies.items():
            result = run_probe(body)
            samples[name].append(result["seconds"])
            heavy[name] = result["heavy"]
    return {name: (statistics.median(s), heavy[name]) for name, s in samples.items()}


def import_function(name: str) -> str:
    path = ROOT / "functions" / name / "app.py"
    body = (
        f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)"
    )
    source = path.read_text()
    if "signed_in(" in source:
        body += "\nimport angebae.auth.sessions  # imported by the first signed-in request"
    if "angebae.aws" in source:
        # boto3 is imported on first use: charge the clients to the cold start, as the first call would
        body += "\nfrom angebae.aws import s3_client, sqs_client; s3_client(); sqs_client()"
    return body


FLOOR = (
    "import psycopg, psycopg.rows, jwt, bcrypt\n"
    "from pydantic import BaseModel, Field\nfrom chalice import Chalice, Response"
)
FLOOR_AWS = FLOOR + "\nimport boto3; boto3.client('s3'); boto3.client('sqs')"


def main() -> None:
    # The floor imports the entry points the functions use: `import pydantic` alone defers most of
    # pydantic (lazy attributes); any user of BaseModel pays the rest.
    functions = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())
    bodies = {"floor": FLOOR, "floor_aws": FLOOR_AWS, **{n: import_function(n) for n in functions}}
    if "ocr_worker" in functions:
        ocr_libs = "\nimport pymupdf, tesserocr, PIL.Image"
        bodies["ocr_worker + OCR libs"] = import_function("ocr_worker") + ocr_libs
    # What Powertools would add on top of a function (issue 10): its Logger (this project's logs.py
    # matches it: function, request_id, cold_start on every line) and Parameters (imported only where
    # a secret is read from Secrets Manager, i.e. on AWS).
    if "categories" in functions:
        categories = import_function("categories")
        bodies["categories + Powertools Logger"] = (
            categories + "\nfrom aws_lambda_powertools import Logger; Logger('x')"
        )
        bodies["categories + Powertools Parameters"] = (
            categories + "\nfrom aws_lambda_powertools.utilities import parameters"
        )
    results = measure_all(bodies)
    floor, floor_aws = results.pop("floor")[0], results.pop("floor_aws")[0]
    print(f"cold import, median of {RUNS} fresh interpreters, interleaved ({sys.version.split()[0]})\n")
    print(f"{'floor: psycopg, jwt, bcrypt, pydantic BaseModel, chalice':<58}{floor:>8.3f} s")
    print(f"{'floor + boto3 with an S3 and an SQS client':<58}{floor_aws:>8.3f} s\n")
    print(f"{'function':<24}{'seconds':>9}{'floor':>9}{'ratio':>8}  heavy modules loaded")
    for name, (seconds, heavy) in results.items():
        base = floor_aws if {"boto3", "botocore"} & set(heavy) else floor
        print(f"{name:<24}{seconds:>9.3f}{base:>9.3f}{seconds / base:>8.2f}  {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
