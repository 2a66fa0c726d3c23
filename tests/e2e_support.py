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
import requests
from support import postgres_server_url, with_dbname

ROOT = Path(__file__).resolve().parents[1]
EMAIL, PASSWORD = "admin@example.com", "Local-stack-e2e-Passphrase-7"
BANNER = "angebae local stack is up"
MINISTACK_MODES = ("smoke", "full", "off")


def ministack_mode() -> str:
    """How much of the MiniStack e2e leg runs (tests/e2e/conftest.py): smoke, full or off."""
    mode = os.environ.get("ANGEBAE_E2E_MINISTACK", "smoke").strip().lower() or "smoke"
    if mode not in MINISTACK_MODES:
        raise pytest.UsageError(f"ANGEBAE_E2E_MINISTACK is one of {', '.join(MINISTACK_MODES)}, not {mode!r}")
    return mode


def ministack_unavailable() -> str | None:
    from angebae_local.ministack import why_unavailable

    if ministack_mode() == "off":
        return "ANGEBAE_E2E_MINISTACK=off"
    return why_unavailable()


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
    server = postgres_server_url()
    admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    name = f"angebae_e2e_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_dbname(server, name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass
class RunningStack:
    url: str
    database_url: str
    worker: bool
    proc: subprocess.Popen
    engine: str = "embedded"
    output: collections.deque = field(default_factory=lambda: collections.deque(maxlen=300))
    banner: dict[str, list[str]] = field(default_factory=dict)  # "S3/SQS", "bucket", "queue", "JWT key"

    @property
    def jwt_secret(self) -> str:
        return Path(self.banner["JWT key"][0]).read_text().strip()

    @property
    def aws_endpoint(self) -> str:
        return self.banner["S3/SQS"][0]

    def queue_url(self, logical_id: str) -> str:
        # angebae-local-OcrQueue (embedded), angebae-functions-OcrQueue-DFAB8EC8E8DC7 (CloudFormation)
        return next(u for u in self.banner["queue"] if logical_id in u.rsplit("/", 1)[-1].split("-"))

    def log_tail(self, lines: int = 80) -> str:
        return "".join(list(self.output)[-lines:])


def local_command(engine: str, port: int, database_url: str) -> list[str]:
    """`angebae local` on `engine` (embedded, ministack) on a free port, with a state dir of its own:
    the embedded stack keeps its S3 objects there, and the repo's .local/s3 must not collect every
    test run's uploads (objects of databases dropped since, all restored at each start)."""
    import atexit
    import shutil
    import tempfile

    args = [
        *angebae_command(),
        "local",
        "--engine",
        engine,
        "--port",
        str(port),
        "--database-url",
        database_url,
        "--template",
        str(ROOT / "template.yaml"),
    ]
    if engine == "embedded":
        state = tempfile.mkdtemp(prefix="angebae-e2e-")
        atexit.register(shutil.rmtree, state, True)
        return [*args, "--aws-port", "0", "--state-dir", state]
    return [*args, "--state-dir", tempfile.mkdtemp(prefix="angebae-ministack-")]


def start_stack(
    database_url: str,
    *,
    worker: bool,
    extra_args: tuple[str, ...] = (),
    timeout: float | None = None,
    engine: str = "embedded",
) -> RunningStack:
    """`extra_args`: e.g. ("--visibility-timeout", "3", "--env", "JOB_LEASE_SECONDS=10"). MiniStack's
    first start also makes its venvs and builds the layers: minutes, not seconds."""
    timeout = timeout or (120 if engine == "embedded" else 900)
    port = free_port()
    args = [*local_command(engine, port, database_url), *extra_args]
    if not worker:
        args.append("--no-worker")
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=stack_env(),
        start_new_session=engine != "embedded",
    )
    stack = RunningStack(f"http://127.0.0.1:{port}", database_url, worker, proc, engine)
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
    for line in list(stack.output):
        name, _, value = line.strip().partition("  ")
        if value and name in ("API", "S3/SQS", "bucket", "queue", "JWT key"):
            stack.banner.setdefault(name, []).append(value.split()[0].rstrip(","))
    if engine != "embedded":  # the API Gateway URL MiniStack gives the deployed API, in its local form
        stack.url = stack.banner["API"][0].rstrip("/")
    return stack


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def descendants(pid: int) -> list[int]:
    found = children(pid)
    for child in list(found):
        found += descendants(child)
    return found


def function_pids(stack: RunningStack, logical_id: str = "OcrWorkerFunction") -> list[int]:
    """The stack's live processes of one function (its OCR subprocesses, which inherit its
    environment, not included). The function is named by its logical id on the embedded stack, by
    CloudFormation's name (angebae-functions-OcrWorkerFunction-<suffix>) on MiniStack."""

    def named(pid: int) -> bool:
        with contextlib.suppress(OSError):
            for var in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                if var.startswith(b"AWS_LAMBDA_FUNCTION_NAME="):
                    return logical_id in var.decode(errors="replace").split("=", 1)[1].split("-")
        return False

    found = [pid for pid in descendants(stack.proc.pid) if named(pid)]
    return [pid for pid in found if _parent(pid) not in found]


def _parent(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return None


def peak_rss_kib(pid: int) -> int:
    """VmHWM of a live process (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster on a free port that a test may stop and start again.
    As root, the server runs as the `postgres` user (initdb refuses root)."""

    BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    if not (BIN / "pg_ctl").is_file():  # no Debian server: the binaries the pgserver wheel ships
        with contextlib.suppress(ImportError):
            import pgserver

            BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"

    def __init__(self) -> None:
        import tempfile

        base = Path(tempfile.mkdtemp(prefix="angebae-pg-"))  # pytest's tmp dirs are root-only
        self.base, self.dir, self.port = base, base / "pgdata", free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if not (self.BIN / "pg_ctl").is_file():
            pytest.skip(f"no PostgreSQL binaries in {self.BIN}")
        if self._as:
            os.chmod(base, 0o777)
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.BIN / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> PrivatePostgres:
        self._run(
            "pg_ctl",
            "-D",
            str(self.dir),
            "-w",
            "-l",
            str(self.dir / "server.log"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-w", "-m", mode, "stop")

    def remove(self) -> None:
        import shutil

        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def stop_stack(stack: RunningStack) -> None:
    stack.proc.terminate()
    try:
        stack.proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        stack.proc.kill()
        stack.proc.wait()


def login(api: str) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{api}/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=60)
    assert r.status_code == 200, r.text
    return s


def upload(
    api: str, s: requests.Session, filename: str, content: bytes, content_type: str, size: int | None = None
) -> str:
    """Upload ticket from the API, then a multipart POST of the file straight to S3; the media id."""
    media_id, r = post_upload(api, s, filename, content, content_type, size)
    assert r.status_code in (200, 201, 204), r.text
    return media_id


def post_upload(
    api: str, s: requests.Session, filename: str, content: bytes, content_type: str, size: int | None = None
) -> tuple[str, requests.Response]:
    """The media id and S3's answer to the presigned POST (which an engine may refuse, as AWS does)."""
    r = s.post(
        f"{api}/media/uploads",
        json={
            "filename": filename,
            "content_type": content_type,
            "size": len(content) if size is None else size,
        },
        timeout=60,
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    post = ticket["upload"]
    assert post["url"].startswith(("http://127.0.0.1:", "http://localhost:")), post["url"]
    assert post["fields"]["key"].startswith("uploads/")
    r = requests.post(
        post["url"], data=post["fields"], files={"file": (filename, content, content_type)}, timeout=60
    )
    return ticket["media"]["id"], r


def wait_until(predicate, timeout: float, interval: float = 0.3):
    """predicate()'s first truthy value, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
