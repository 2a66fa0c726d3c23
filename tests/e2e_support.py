"""Helpers of the e2e tests: `angebae local` in a subprocess on free loopback ports, fresh databases."""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
EMAIL, PASSWORD = "admin@example.com", "Local-stack-e2e-Passphrase-7"
NEEDED = ["functions/health/app.py", "functions/login/app.py", "functions/logout/app.py"]
BANNER = "angebae local stack is up"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def angebae_command() -> list[str]:
    """The installed `angebae` script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("angebae")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "angebae_local.cli"]


def stack_env() -> dict[str, str]:
    return dict(os.environ, ANGEBAE_ADMIN_EMAIL=EMAIL, ANGEBAE_ADMIN_PASSWORD=PASSWORD)


@contextlib.contextmanager
def fresh_database():
    """A new, empty database on the test server (the stack migrates it); dropped afterwards."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}")
    name = f"angebae_e2e_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass
class RunningStack:
    url: str
    database_url: str
    worker: bool
    proc: subprocess.Popen
    output: collections.deque = field(default_factory=lambda: collections.deque(maxlen=300))

    def log_tail(self, lines: int = 80) -> str:
        return "".join(list(self.output)[-lines:])


def start_stack(database_url: str, *, worker: bool, timeout: float = 120) -> RunningStack:
    port = free_port()
    args = [*angebae_command(), "local", "--port", str(port), "--aws-port", "0",
            "--database-url", database_url, "--template", str(ROOT / "template.yaml")]
    if not worker:
        args.append("--no-worker")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=stack_env())
    stack = RunningStack(f"http://127.0.0.1:{port}", database_url, worker, proc)
    up = threading.Event()

    def drain() -> None:  # read all output, always: a full pipe would block the stack
        for line in proc.stdout:
            stack.output.append(line)
            if BANNER in line:
                up.set()
        up.set()

    threading.Thread(target=drain, daemon=True).start()
    if not up.wait(timeout) or proc.poll() is not None:
        proc.kill()
        pytest.fail("angebae local did not start:\n" + stack.log_tail())
    return stack


def stop_stack(stack: RunningStack) -> None:
    stack.proc.terminate()
    try:
        stack.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stack.proc.kill()
        stack.proc.wait()


def wait_until(predicate, timeout: float, interval: float = 0.3):
    """predicate()'s first truthy value, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
