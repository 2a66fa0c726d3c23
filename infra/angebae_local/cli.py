"""`angebae`: run the stack locally without Docker, invoke one function, migrate, seed, OCR a file."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import mimetypes
import os
import re
import secrets
import shutil
import signal
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from .aws import PortInUse, check_port_free
from .db import DatabaseUnavailable, open_database
from .stack import LocalStack, StackOptions
from .template import TemplateError, find_template

DEFAULT_ADMIN_EMAIL = "admin@example.com"


class CliError(Exception):
    """Ends the command with its message on one line, no traceback, and exit status 1."""

    status = 1


class MissingInput(CliError):
    """What the command needs was neither given nor typed (no terminal, empty input): exit status 2."""

    status = 2


def aws_endpoint(value: str) -> str:
    """A URL as given, or `localstack`: the edge URL the localstack-client tooling resolves."""
    if value.strip().lower() == "localstack":
        from localstack_client.config import get_service_endpoint

        return get_service_endpoint("s3")
    return value


def events_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template", type=Path, default=None, help="template.yaml (default: found upward)")
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL (default: $DATABASE_URL, else embedded pgserver in .local/)",
    )


def _state_dir_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"{what} (default: .local/ beside the template)",
    )


def _version() -> str:
    """The installed distribution's version (pyproject.toml's), as `pip show` reports it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("angebae-functions")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="angebae", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("local", help="start API, S3/SQS, database, functions and queue pollers")
    _common(p)
    p.add_argument(
        "--engine",
        choices=("embedded", "ministack"),
        default="embedded",
        help="embedded: this project's gateway, pollers and moto (default); ministack: the "
        "template deployed with the SAM CLI to MiniStack, no Docker (Python 3.12 needed)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="API port (default 3000; with --engine ministack MiniStack's port, default 4566)",
    )
    _state_dir_option(p, "keys, embedded database (DIR/pgdata), stored objects, MiniStack's state")
    p.add_argument(
        "--aws-endpoint",
        type=aws_endpoint,
        help="use this S3/SQS endpoint instead of moto; 'localstack' finds a running LocalStack "
        "as the localstack-client tooling does (LOCALSTACK_HOST, default localhost:4566)",
    )
    p.add_argument("--aws-port", type=int, default=4566, help="port of the embedded moto server")
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="processes per function, and SQS batches in flight at once up to the template's "
        "MaximumConcurrency (default 1)",
    )
    p.add_argument("--no-worker", action="store_true", help="do not poll the OCR queue (no tesseract needed)")
    p.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="template parameters, as sam takes them (e.g. MaxReceiveCount=3)",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a variable the template gives a function (e.g. JOB_LEASE_SECONDS=10)",
    )
    p.add_argument(
        "--visibility-timeout",
        type=int,
        metavar="SECONDS",
        help="every queue's visibility timeout (default: the template's)",
    )
    p.add_argument(
        "--schedule-interval",
        type=float,
        metavar="SECONDS",
        help="run every scheduled function (the OCR reaper) this often (default: the template's rate)",
    )
    p.add_argument(
        "--events-url",
        type=events_url,
        default=None,
        metavar="URL",
        help="POST every OCR job-finished event (ocr.job.succeeded, ocr.job.failed) as JSON to "
        "URL (default: $JOB_EVENTS_WEBHOOK_URL; either way each event is also logged)",
    )
    p.add_argument(
        "--demo",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="once up, upload FILE (default: a generated 2-page catalog) over HTTP as a client "
        "would, follow its OCR job and print the candidates",
    )
    p.add_argument(
        "--demo-exit",
        action="store_true",
        help="with --demo: then stop the stack, exit 0 when the job succeeded, else 1",
    )

    p = sub.add_parser("invoke", help="invoke one function with an event file (sam local invoke, no Docker)")
    _common(p)
    p.add_argument("function", help="function name (login) or logical id (LoginFunction)")
    p.add_argument("-e", "--event", required=True, help="event JSON file, '-' for stdin")
    p.add_argument(
        "--aws-endpoint",
        type=aws_endpoint,
        help="S3/SQS endpoint, or 'localstack' (default: a throwaway moto server)",
    )
    _state_dir_option(p, "keys and, without --database-url, the embedded database (DIR/pgdata)")

    p = sub.add_parser("migrate", help="apply database migrations")
    _common(p)
    _state_dir_option(
        p,
        "the state of `angebae local --state-dir DIR`: without --database-url, its "
        "embedded database in DIR/pgdata",
    )

    p = sub.add_parser("seed-admin", help="create or update an admin user (idempotent)")
    _common(p)
    p.add_argument("--email", default=os.environ.get("ANGEBAE_ADMIN_EMAIL"))
    p.add_argument("--password", default=os.environ.get("ANGEBAE_ADMIN_PASSWORD"))
    p.add_argument("--role", default="admin", help="viewer, editor or admin (default: admin)")
    _state_dir_option(
        p,
        "the state of `angebae local --state-dir DIR`: without --database-url, its "
        "embedded database in DIR/pgdata",
    )

    p = sub.add_parser(
        "ocr",
        help="read a PDF or image and print the product candidates",
        description="Read FILE as the OCR worker does (an embedded e-invoice's XML, else the "
        "text layer, else Tesseract) and print the product candidates it finds.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="a PDF, PNG, JPEG, TIFF or WebP file")
    p.add_argument(
        "--lang",
        default="spa+eng",
        metavar="LANGS",
        help="Tesseract languages joined with '+', for scanned pages and images: spa, eng, deu, "
        "fra, nld, ita, por (default: spa+eng)",
    )
    p.add_argument("--json", action="store_true", help="print only the JSON result on stdout")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    commands = {
        "local": cmd_local,
        "invoke": cmd_invoke,
        "migrate": cmd_migrate,
        "seed-admin": cmd_seed_admin,
        "ocr": cmd_ocr,
    }
    try:
        return commands[args.command](args)
    except (CliError, PortInUse, DatabaseUnavailable, TemplateError, OSError) as exc:
        sys.stderr.write(f"angebae {args.command}: {exc}\n")
        return getattr(exc, "status", 1)
    except KeyboardInterrupt:
        return 130


def _template(args) -> Path:
    path = (args.template or find_template()).resolve()
    if not path.is_file():
        raise CliError(f"template not found: {path}")
    return path


def _state_dir(template: Path, given: Path | None = None) -> Path:
    return given.resolve() if given else template.parent / ".local"


def _layer_call(module: str, name: str):
    """A function of the shared layer, imported only when the command needs it."""
    try:
        fn = getattr(__import__(module, fromlist=[name]), name)
    except (ImportError, AttributeError) as exc:
        raise CliError(f"{module}.{name} is not available: {exc}") from None

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # domain and driver errors end the command in one line
            if type(exc).__module__.split(".")[0] in ("angebae", "psycopg"):
                raise CliError(str(exc)) from None  # main() prefixes "angebae <command>: "
            raise

    return call


# ---- local ---------------------------------------------------------------------------------------


def cmd_local(args) -> int:
    template = _template(args)
    if args.engine == "ministack":
        return _local_ministack(args, template)
    args.port = args.port or 3000
    if not args.no_worker and shutil.which("tesseract") is None:
        raise CliError(
            "tesseract not found on PATH: apt-get install tesseract-ocr tesseract-ocr-spa "
            "(or run with --no-worker)"
        )
    demo_file = _demo_file(args)
    check_port_free(args.port)
    opts = StackOptions(
        template,
        _state_dir(template, args.state_dir),
        aws_endpoint=args.aws_endpoint,
        aws_port=args.aws_port,
        database_url=args.database_url,
        api_port=args.port,
        pool_size=max(1, args.concurrency),
        queue_visibility=args.visibility_timeout,
        schedule_seconds=args.schedule_interval,
        events_url=args.events_url or _env_events_url(),
        parameters=_pairs(args.parameter_overrides, "--parameter-overrides"),
    )
    opts.env_overrides.update(_pairs(args.env, "--env"))
    stack = LocalStack(opts)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stack.start_backends()
        assert stack.db is not None
        _layer_call("angebae.migrations", "apply_migrations")(stack.db.url)
        email, password = _dev_admin(opts.state_dir)
        _layer_call("angebae.auth.admins", "seed_admin")(stack.db.url, email, password, role="admin")
        gateway = stack.start_gateway()
        if not args.no_worker:
            stack.start_pollers()
            stack.start_schedules()
        _banner(stack, gateway.url, email, password)
        if demo_file is not None:
            from .demo import run_demo

            ok = run_demo(gateway.url, email, password, Path(demo_file) if demo_file else None)
            if args.demo_exit:
                return 0 if ok else 1
            print("the stack keeps running (Ctrl-C stops it)", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sys.stderr.write("stopping...\n")
        stack.stop()
    return 0


# Options of the embedded engine that MiniStack has no counterpart for (it runs its own pollers, one
# process per function and its own EventBridge schedules).
_EMBEDDED_ONLY = {
    "aws_endpoint": None,
    "aws_port": 4566,
    "concurrency": 1,
    "no_worker": False,
    "schedule_interval": None,
    "events_url": None,
}


def _env_events_url() -> str | None:
    """JOB_EVENTS_WEBHOOK_URL, checked as --events-url is (a CliError naming the variable)."""
    value = os.environ.get("JOB_EVENTS_WEBHOOK_URL", "").strip()
    try:
        return events_url(value) if value else None
    except argparse.ArgumentTypeError as exc:
        raise CliError(f"JOB_EVENTS_WEBHOOK_URL: {exc}") from None


def _local_ministack(args, template: Path) -> int:
    from . import ministack

    if given := [k for k, default in _EMBEDDED_ONLY.items() if getattr(args, k) != default]:
        raise CliError(f"--{given[0].replace('_', '-')} is an option of the embedded engine only")
    demo_file = _demo_file(args)
    port = args.port or 4566
    check_port_free(port)
    state_dir = _state_dir(template, args.state_dir)
    opts = ministack.MiniStackOptions(
        template,
        state_dir,
        port=port,
        database_url=args.database_url,
        parameters=_pairs(args.parameter_overrides, "--parameter-overrides"),
        env_overrides=_pairs(args.env, "--env"),
        queue_visibility=args.visibility_timeout,
    )
    email, password = _dev_admin(state_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        return ministack.run(
            opts, email=email, password=password, demo_file=demo_file, demo_exit=args.demo_exit, stop=stop
        )
    except ministack.MiniStackError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        return 0


def _pairs(items: list[str], option: str) -> dict[str, str]:
    if bad := [i for i in items if "=" not in i or i.startswith("=")]:
        raise CliError(f"{option} takes NAME=VALUE, not {bad[0]!r}")
    return dict(i.split("=", 1) for i in items)


def _demo_file(args) -> Path | str | None:
    """None: no demo; "": the generated catalog; else the file to upload."""
    if args.demo is None and not args.demo_exit:
        return None
    if args.no_worker:
        raise CliError("--demo needs the OCR worker: drop --no-worker")
    if not args.demo:
        return ""
    path = Path(args.demo)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    return path


def _dev_admin(state_dir: Path) -> tuple[str, str]:
    """Dev admin credentials: from the environment, else generated once and kept in .local/."""
    email = os.environ.get("ANGEBAE_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL)
    password = os.environ.get("ANGEBAE_ADMIN_PASSWORD")
    if password:
        return email, password
    path = state_dir / "dev_admin_password"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(12))
    return email, path.read_text().strip()


def _banner(stack: LocalStack, api_url: str, email: str, password: str) -> None:
    res = stack.resources
    assert res is not None and stack.db is not None
    db = database_shown(stack.db, stack.opts.state_dir)
    events = stack.opts.events_url
    lines = [
        "angebae local stack is up (Ctrl-C stops it)",
        f"  API          {api_url}   (docs: {api_url}/docs when an OpenAPI description exists)",
        f"  S3/SQS       {stack.endpoint}" + ("  (moto)" if stack.moto else ""),
        f"  bucket       {', '.join(res.buckets.values())}",
        *(f"  queue        {q.url}" for q in res.queues.values()),
        f"  database     {db}",
        f"  JWT key      {stack.jwt_secret_path}",
        f"  dev admin    {email} / {password}   (local only)",
        f"  workers      {len(stack.pollers)} queue poller(s)",
        *([f"  job events   POSTed to {_hide_password(events)} (and logged)"] if events else []),
    ]
    width = min(max(map(len, lines)), 100)
    print("\n".join(["=" * width, *lines, "=" * width]), flush=True)


def database_shown(db, state_dir: Path) -> str:
    """The banner's database: where the embedded one keeps its data, else the URL without password."""
    if db.embedded:
        return f"embedded pgserver in {_shown_path(state_dir / 'pgdata')}"
    return _hide_password(db.url)


def _shown_path(path: Path) -> str:
    """A path relative to the working directory when under it (".local/pgdata"), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


# ---- invoke, migrate, seed-admin ----------------------------------------------------------------


def cmd_invoke(args) -> int:
    template = _template(args)
    raw = sys.stdin.read() if args.event == "-" else Path(args.event).read_text()
    try:
        event = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(f"{args.event} is not JSON: {exc}") from None
    opts = StackOptions(
        template,
        _state_dir(template, args.state_dir),
        aws_endpoint=args.aws_endpoint,
        aws_port=0,
        database_url=args.database_url,
    )
    stack = LocalStack(opts)
    try:
        stack.template.function(args.function)  # fail fast on an unknown name
        stack.start_backends()
        outcome = stack.invoke(args.function, event)
    finally:
        stack.stop()
    print(json.dumps(outcome.as_json(), indent=2))
    return 0 if outcome.ok else 1


def _database_url(args) -> tuple[str, Any]:
    template = _template(args)
    db = open_database(args.database_url, _state_dir(template, args.state_dir) / "pgdata")
    return db.url, db


def cmd_migrate(args) -> int:
    apply_migrations = _layer_call("angebae.migrations", "apply_migrations")
    url, db = _database_url(args)
    try:
        applied = apply_migrations(url)
    finally:
        db.stop()
    print(
        f"applied {len(applied)} migration(s)"
        + (": " + ", ".join(map(str, applied)) if applied else " (up to date)")
    )
    return 0


def cmd_seed_admin(args) -> int:
    seed_admin = _layer_call("angebae.auth.admins", "seed_admin")
    email = args.email or _typed("email", "email: ").strip()
    password = args.password
    if not password:
        password = _typed("password", "password: ", secret=True)
        if password != _typed("password", "again: ", secret=True):
            raise CliError("passwords do not match")
    url, db = _database_url(args)
    try:
        outcome = seed_admin(url, email, password, role=args.role)
    finally:
        db.stop()
    print(f"{args.role} {email.strip().lower()} " + SEED_OUTCOMES[outcome])
    return 0


SEED_OUTCOMES = {
    "created": "created",
    "updated": "already existed: password, role and active flag updated (audited)",
    "unchanged": "already existed with this password and role: nothing changed",
}


def _typed(what: str, prompt: str, secret: bool = False) -> str:
    """A line typed at a prompt (hidden for a secret), else one line of stdin when it is no terminal
    (no prompt, no getpass warning); nothing typed or read is a MissingInput."""
    if sys.stdin.isatty():
        try:
            answer = getpass.getpass(prompt) if secret else input(prompt)
        except EOFError:
            answer = ""
    else:
        answer = sys.stdin.readline().rstrip("\r\n")
    if not answer.strip():
        option = (
            "--email or ANGEBAE_ADMIN_EMAIL" if what == "email" else "--password or ANGEBAE_ADMIN_PASSWORD"
        )
        raise MissingInput(f"no {what} given: pass {option}, or type it at the prompt")
    return answer


# ---- ocr -----------------------------------------------------------------------------------------

# bbox: [x0, y0, x1, y1] in the page's coordinates: points (1/72 inch) from the top-left corner, y
# down; a PDF's own points, an image's pixels x 72 / its dpi (96 when it names none), so points too.
OCR_JSON_FIELDS = ("name", "price", "currency", "sku", "qty", "page", "bbox", "confidence")


def _plain_decimal(value: str | None) -> str | None:
    """A quantity as the API writes one (`angebae.formats.quantity`): "10", never "1E+1" or "10.0000"."""
    return None if value is None else _layer_call("angebae.formats", "quantity")(Decimal(value))


def _ocr_json(candidate: dict) -> dict:
    """A candidate as --json prints it: the price as the API writes money ("100.00"), the quantity
    as a plain decimal ("10"), the box's points to 2 decimals as the API gives them (7.44, never
    7.4399999999999995)."""
    money = _layer_call("angebae.formats", "money")
    out = {k: candidate.get(k) for k in OCR_JSON_FIELDS}
    out["price"] = None if out["price"] is None else money(Decimal(out["price"]))
    out["qty"] = _plain_decimal(out["qty"])
    out["bbox"] = [round(float(v), 2) for v in out["bbox"]] if out["bbox"] is not None else None
    return out


def _check_ocr_input(path: Path, languages: str) -> None:
    """The file and the languages, before any page is read: a text-layer PDF would need no OCR and
    never notice a language that is not installed (the API refuses it with 400 all the same)."""
    if path.is_dir():
        raise CliError(f"not a file: {path} is a directory")
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    installed = _layer_call("angebae.ocr.engine", "get_engine")().languages()
    if problem := _layer_call("angebae.ocr.engine", "language_problem")(languages, installed):
        raise CliError(f"--lang {languages}: {problem[1]}")


def cmd_ocr(args) -> int:
    run_document = _layer_call("angebae.ocr.pipeline", "run_document")
    _check_ocr_input(args.file, args.lang)
    data = args.file.read_bytes()
    declared = mimetypes.guess_type(args.file.name)[0] or "application/octet-stream"
    progress = None

    def on_open(page_count: int) -> None:
        nonlocal progress
        if sys.stderr.isatty():
            progress = _Progress(sys.stderr, page_count)

    def on_page(page) -> None:
        if progress:
            progress.update(page)

    result = run_document(data, declared_type=declared, languages=args.lang, on_open=on_open, on_page=on_page)
    if progress:
        progress.done()
    candidates = [_ocr_json(c) for c in result["candidates"]]
    warnings = result["warnings"]
    if args.json:
        print(
            json.dumps(
                {
                    "pages": result["pages"],
                    "source": result["source"],
                    "warnings": warnings,
                    "candidates": candidates,
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(
        f"{args.file.name}: {result['pages']} page(s), {len(candidates)} candidate(s) "
        f"from the {'embedded e-invoice' if result['source'] == 'xml' else 'layout'}"
    )
    for w in warnings:
        print(f"  warning: {w['message']}")
    for c in candidates:
        price = f"{c['price'] or ''} {c['currency'] or ''}".strip()
        print(
            f"  p{c['page']}  {c['confidence']:.2f}  {c['name']}  {price}  {c['sku'] or ''}"
            f"{'  x' + c['qty'] if c['qty'] else ''}"
        )
    return 0


class _Progress:
    """A one-line progress bar on a terminal: pages done of the document's total."""

    def __init__(self, stream, total: int) -> None:
        self.stream, self.total, self.done_pages = stream, max(1, total), 0

    def update(self, _page) -> None:
        self.done_pages += 1
        filled = int(30 * self.done_pages / self.total)
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done_pages}/{self.total} pages")
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


if __name__ == "__main__":
    sys.exit(main())
