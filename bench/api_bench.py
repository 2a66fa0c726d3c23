"""API benchmark: requests/s and p50/p95/p99 latency through the embedded local stack's gateway.

    .venv/bin/python bench/api_bench.py                       # 1, 8 and 32 clients, 200 requests a level
    .venv/bin/python bench/api_bench.py --requests 100 --login-requests 30 --levels 1 8

Starts `angebae local --no-worker --concurrency 2` (a process per function and slot, as Lambda's
concurrency; 2 = the CPUs of this machine) on free ports against a fresh database `angebae_apibench`
on BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), seeds ~2,000 products
by SQL and a bench admin (the CLI seeds it from ANGEBAE_ADMIN_EMAIL/ANGEBAE_ADMIN_PASSWORD), then
measures, per endpoint and client count, a bounded number of requests spread over that many threads,
each with its own keep-alive requests.Session:

    GET  /health                       public
    GET  /products?limit=20            Authorization: Bearer <token from one login>
    GET  /products?q=...&limit=20      search (full text, prefixes, one-letter typos)
    POST /admin/login                  right password (failures are rate-limited per email+address)

Each endpoint gets a warm-up (function processes started) before the timed levels. The raw bcrypt
verify time at the cost found in the stored hash (BCRYPT_COST, default 12) is measured in the same
run and printed beside login: login cannot be faster than one verify per request, and at most
`--concurrency` verifies run at once. Writes bench/out/api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "common" / "python"))
OUT = ROOT / "bench" / "out"
DB_NAME = "angebae_apibench"
EMAIL = "apibench@example.com"
PASSWORD = "api-bench-Password-1"

# `--what-if-nodelay`: the gateway writes a response's headers and body in two send() calls; with
# Nagle's algorithm on, the body waits for the client's delayed ACK (~40 ms on Linux) on every
# keep-alive request. This launcher runs the same CLI with the handler's disable_nagle_algorithm set,
# without touching infra/angebae_local/gateway.py, to show what that one-line change would give.
NODELAY_LAUNCHER = """
import sys
import angebae_local.gateway as g
from angebae_local.cli import main
original = g._handler_class
def patched(gw):
    handler = original(gw)
    handler.disable_nagle_algorithm = True
    return handler
g._handler_class = patched
sys.argv[0] = "angebae"
sys.exit(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(server: str, products: int) -> str:
    from products_bench import seed  # the catalog bench's seeding: one data set for both benches

    return seed(server, products, DB_NAME)


def drop_database(server: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


class Stack:
    """`angebae local` as a subprocess; its output goes to bench/out/api-stack.log."""

    def __init__(self, database_url: str, concurrency: int, nodelay: bool = False) -> None:
        self.port, self.aws_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        OUT.mkdir(parents=True, exist_ok=True)
        self.log = open(OUT / "api-stack.log", "w")  # noqa: SIM115
        env = dict(os.environ, ANGEBAE_ADMIN_EMAIL=EMAIL, ANGEBAE_ADMIN_PASSWORD=PASSWORD)
        cli = [str(Path(sys.executable).parent / "angebae")]
        if nodelay:  # what-if: the gateway's handler with Nagle off, patched in this process only
            cli = [sys.executable, "-c", NODELAY_LAUNCHER]
        cmd = [
            *cli,
            "local",
            "--no-worker",
            "--port",
            str(self.port),
            "--aws-port",
            str(self.aws_port),
            "--database-url",
            database_url,
            "--concurrency",
            str(concurrency),
            # The stage's throttling (50/s a method, 5/s for login) would cap what this measures.
            "--parameter-overrides",
            *(
                f"{name}=1000000"
                for name in (
                    "ThrottlingBurstLimit",
                    "ThrottlingRateLimit",
                    "LoginThrottlingBurstLimit",
                    "LoginThrottlingRateLimit",
                )
            ),
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 120) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"the local stack exited ({self.proc.returncode}): see {self.log.name}")
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    return time.perf_counter() - started
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the local stack did not answer /health in {timeout:.0f} s: see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run_level(call, clients: int, total: int) -> dict:
    """`total` calls of `call(session)` over `clients` threads; latencies in ms."""
    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    lock = threading.Lock()
    remaining = [total]

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                started = time.perf_counter()
                try:
                    status: int | str = call(session).status_code
                except requests.RequestException as exc:  # counted as an error, by kind
                    status = type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": wall,
        "rps": len(latencies) / wall,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "mean_ms": statistics.fmean(latencies),
        "errors": sum(n for s, n in statuses.items() if not (isinstance(s, int) and 200 <= s < 300)),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
    }


def bcrypt_verify(cost: int, rounds: int = 5) -> dict:
    from angebae.auth.passwords import hash_password, verify_password

    hashed = hash_password(PASSWORD, cost)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert verify_password(PASSWORD, hashed)
        times.append((time.perf_counter() - started) * 1000)
    return {"cost": cost, "rounds": rounds, "median_ms": statistics.median(times), "min_ms": min(times)}


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg_1m": round(os.getloadavg()[0], 2),  # other work on the machine: the noise to expect
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients")
    parser.add_argument("--requests", type=int, default=200, help="requests per level (login aside)")
    parser.add_argument("--login-requests", type=int, default=60, help="logins per level")
    parser.add_argument("--products", type=int, default=2000, help="products seeded")
    parser.add_argument("--concurrency", type=int, default=2, help="processes per function in the stack")
    parser.add_argument(
        "--what-if-nodelay",
        action="store_true",
        help="run the gateway with TCP_NODELAY patched in (not what ships): see NODELAY_LAUNCHER",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--out", type=Path, default=OUT / "api.json")
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    started = time.perf_counter()
    url = fresh_database(server, args.products)
    at_start = machine()
    print(f"machine: {at_start}")
    print(f"database {DB_NAME}: {args.products:,} products seeded in {time.perf_counter() - started:.1f} s")
    stack = Stack(url, args.concurrency, args.what_if_nodelay)
    results: dict = {"endpoints": {}}
    try:
        ready = stack.wait_ready()
        print(f"local stack up in {ready:.1f} s at {stack.url} (--concurrency {args.concurrency}, no worker)")
        with psycopg.connect(url) as conn:
            stored = conn.execute(
                "SELECT password_hash FROM admin_users WHERE email = %s", (EMAIL,)
            ).fetchone()
        cost = int(stored[0].split("$")[2])
        login = requests.post(
            stack.url + "/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
        )
        login.raise_for_status()
        bearer = {"Authorization": f"Bearer {login.json()['token']}"}
        api = stack.url

        endpoints = {
            "GET /health": (lambda s: s.get(api + "/health", timeout=60), args.requests),
            "GET /products": (
                lambda s: s.get(api + "/products", params={"limit": 20}, headers=bearer, timeout=60),
                args.requests,
            ),
            "GET /products?q=": (
                lambda s: s.get(
                    api + "/products", params={"q": "martillo rojo", "limit": 20}, headers=bearer, timeout=60
                ),
                args.requests,
            ),
            "POST /admin/login": (
                lambda s: s.post(
                    api + "/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=120
                ),
                args.login_requests,
            ),
        }
        header = (
            f"{'endpoint':18} {'clients':>7} {'n':>4} | {'req/s':>7} | {'p50 ms':>7} {'p95 ms':>7} "
            f"{'p99 ms':>7} | {'errors':>6}"
        )
        print(header)
        print("-" * len(header))
        for name, (call, total) in endpoints.items():
            run_level(call, args.concurrency, 2 * args.concurrency)  # warm: every process of the pool started
            levels = []
            for clients in args.levels:
                r = run_level(call, clients, total)
                levels.append(r)
                print(
                    f"{name:18} {clients:>7} {r['requests']:>4} | {r['rps']:>7.1f} | {r['p50_ms']:>7.1f} "
                    f"{r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f} | {r['errors']:>6}"
                )
            results["endpoints"][name] = levels
        verify = bcrypt_verify(cost)
        results["bcrypt_verify"] = verify
        best_login = max(r["rps"] for r in results["endpoints"]["POST /admin/login"])
        bound = args.concurrency * 1000 / verify["median_ms"]
        print(
            f"\nbcrypt verify at cost {cost} (this process, same run): {verify['median_ms']:.0f} ms median "
            f"(min {verify['min_ms']:.0f}) -> at most {bound:.1f} logins/s "
            f"with {args.concurrency} processes; "
            f"measured best {best_login:.1f}/s; login p50 at 1 client "
            f"{results['endpoints']['POST /admin/login'][0]['p50_ms']:.0f} ms"
        )
    finally:
        stack.stop()
        if not args.keep:
            drop_database(server)
    results.update(
        machine=at_start,
        loadavg_1m_at_end=round(os.getloadavg()[0], 2),
        concurrency=args.concurrency,
        products=args.products,
        levels=args.levels,
        what_if_nodelay=args.what_if_nodelay,
        stack_ready_seconds=ready,
        command=" ".join([Path(sys.executable).name, *sys.argv]),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
