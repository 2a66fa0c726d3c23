"""`angebae local --engine ministack`: the unchanged template.yaml on MiniStack (a LocalStack-compatible
emulator, no Docker), deployed by the SAM CLI, functions run by MiniStack as local processes.

From a fresh clone: MiniStack and the SAM CLI each get a Python 3.12 virtual environment of their own
(`.venv-ministack`, `.venv-sam`: MiniStack pins botocore, the SAM CLI another one; MiniStack runs every
function on its own interpreter, so 3.12 as the template's `Runtime` says and the layers' cp312 wheels
need); the layers' wheels are downloaded once into `.local/wheels` and the OCR layer takes this
machine's tessdata (the same files, SHA-256 checked), so `sam build` runs offline; then MiniStack on
loopback, the secrets, `sam deploy`, the local-only function settings, migrations and the dev admin.
Stopping stops MiniStack and, with it, every function process it started.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import urlopen

if TYPE_CHECKING:
    from .db import Database

log = logging.getLogger("angebae.local.ministack")

MINISTACK_REQUIREMENT = "ministack[full]==1.5.33"
SAM_REQUIREMENT = "aws-sam-cli==1.170.0"
STACK_NAME = "angebae-functions"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# What MiniStack does not need and must not open: IoT's mTLS listener binds 0.0.0.0:8883 otherwise.
MINISTACK_ENV = {
    "BIND_HOST": "127.0.0.1",
    "IOT_MTLS_ENABLED": "0",
    "LAMBDA_EXECUTOR": "local",
    "S3_PERSIST": "1",
    "PERSIST_STATE": "1",
    "MINISTACK_REGION": REGION,
}
# Template parameters for a plain local deployment (no pooler between the functions and PostgreSQL).
DEFAULT_PARAMETERS = {"DbPrepareThreshold": "5"}
# Locally the API is plain http: a Secure cookie would never come back (as on the embedded stack).
LOCAL_FUNCTION_ENV = {"COOKIE_SECURE": "false"}


class MiniStackError(RuntimeError):
    """A step of bringing the stack up failed; the message names the step and why."""


# ---- interpreters and virtual environments -------------------------------------------------------


def find_python312() -> str | None:
    """$MINISTACK_PYTHON, else python3.12 on PATH, else a pyenv 3.12 (the newest): the first that runs
    as Python 3.12 (a pyenv shim on PATH may name a version that is not selected)."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    installed = sorted(
        glob.glob(f"{pyenv}/versions/3.12*/bin/python3.12"),
        key=lambda p: [int(x) for x in Path(p).parents[1].name.split(".") if x.isdigit()],
    )
    candidates = [os.environ.get("MINISTACK_PYTHON"), shutil.which("python3.12"), *reversed(installed)]
    for python in filter(None, candidates):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            version = subprocess.run(
                [python, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
            if version == "(3, 12)":
                return python
    return None


def why_unavailable() -> str | None:
    """None when this machine can run the MiniStack engine, else the reason, in one line."""
    python = find_python312()
    if python is None:
        return (
            "no Python 3.12 (MiniStack runs the functions on its own interpreter, and the layers "
            "carry cp312 wheels): install python3.12 or set MINISTACK_PYTHON"
        )
    if shutil.which("zip") is None:
        return "no `zip` on PATH (the OCR layer's build needs it)"
    return None


def ensure_venv(path: Path, python: str, requirement: str, out: IO[str]) -> Path:
    """`path` as a venv of `python` with `requirement` installed; made again when either changed."""
    stamp = path / ".angebae-installed"
    want = f"{python}\n{requirement}\n"
    if stamp.is_file() and stamp.read_text() == want:
        return path / "bin"
    out.write(f"creating {path.name} ({requirement}, Python 3.12): once, about a minute\n")
    out.flush()
    _run([python, "-m", "venv", "--clear", str(path)], "python3.12 -m venv")
    _run(
        [
            str(path / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            requirement,
        ],
        f"pip install {requirement}",
    )
    stamp.write_text(want)
    return path / "bin"


def _run(
    cmd: list[str],
    step: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log_file: Path | None = None,
) -> str:
    """Run a step; its output goes to `log_file` when given; a failure says which step and its tail."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if log_file is not None:
        log_file.write_text(output)
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        where = f" (full log: {log_file})" if log_file else ""
        raise MiniStackError(f"{step} failed with exit code {proc.returncode}{where}:\n{tail}")
    return proc.stdout


# ---- the layers' wheels, once ----------------------------------------------------------------------


def wheel_requirements(root: Path) -> list[tuple[str, Path, bool]]:
    """(pip platform, requirements file, with dependencies) of each layer, as their builds install them."""
    return [
        ("manylinux2014_x86_64", root / "layers/common/requirements.txt", True),
        ("manylinux2014_x86_64", root / "layers/common/requirements-nodeps.txt", False),
        ("manylinux_2_28_x86_64", root / "layers/ocr/requirements.txt", True),
    ]


def ensure_wheelhouse(root: Path, wheels: Path, sam_bin: Path, out: IO[str]) -> Path:
    """Every wheel the layers install, downloaded into `wheels` once (again when a list changes)."""
    specs = wheel_requirements(root)
    digest = hashlib.sha256(b"".join(f.read_bytes() for _, f, _ in specs)).hexdigest()
    stamp = wheels / ".requirements-sha256"
    if stamp.is_file() and stamp.read_text() == digest:
        return wheels
    out.write(f"downloading the layers' wheels into {wheels} (once; then builds are offline)\n")
    out.flush()
    wheels.mkdir(parents=True, exist_ok=True)
    for platform, requirements, deps in specs:
        _run(
            [
                str(sam_bin / "python"),
                "-m",
                "pip",
                "download",
                "-q",
                "--disable-pip-version-check",
                "-d",
                str(wheels),
                "--platform",
                platform,
                "--implementation",
                "cp",
                "--python-version",
                "3.12",
                "--only-binary=:all:",
                *([] if deps else ["--no-deps"]),
                "-r",
                str(requirements),
            ],
            f"pip download -r {requirements.relative_to(root)}",
        )
    stamp.write_text(digest)
    return wheels


def host_tessdata() -> str:
    from angebae.ocr.engine import tessdata_dir

    folder = tessdata_dir()
    if folder is None:
        raise MiniStackError(
            "no tessdata on this machine for the OCR layer: "
            "infra/scripts/install-system-deps.sh installs Tesseract and its models"
        )
    return folder


# ---- MiniStack itself ------------------------------------------------------------------------------


@dataclass
class MiniStackOptions:
    template_path: Path
    state_dir: Path  # .local/: ministack/ (MiniStack's state, S3 objects, secrets), jwt_secret, pgdata
    port: int = 4566
    database_url: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    env_overrides: dict[str, str] = field(default_factory=dict)
    queue_visibility: int | None = None
    log_stream: IO[str] = field(default_factory=lambda: sys.stderr)

    @property
    def root(self) -> Path:
        return self.template_path.parent

    @property
    def engine_dir(self) -> Path:
        return self.state_dir / "ministack"

    @property
    def wheels_dir(self) -> Path:  # shared by every state dir: the same wheels whatever the stack
        return self.root / ".local" / "wheels"

    @property
    def build_dir(self) -> Path:  # as infra/localstack/deploy.sh builds into .aws-sam/localstack
        return self.root / ".aws-sam" / "ministack"


@dataclass
class Deployed:
    api_url: str  # the local form: http://127.0.0.1:<port>/restapis/<id>/<stage>/_user_request_
    api_id: str
    stage: str
    outputs: dict[str, str]
    queues: list[str]
    buckets: list[str]
    functions: list[str]


class MiniStackEngine:
    def __init__(self, opts: MiniStackOptions) -> None:
        self.opts = opts
        self.proc: subprocess.Popen | None = None
        self.db: Database | None = None
        self.deployed: Deployed | None = None
        self.jwt_secret_path: Path | None = None
        self.timings: dict[str, float] = {}
        self.left_out: dict[str, str] = {}
        self._sam_bin: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.opts.port}"

    def aws_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIP_"))}
        return {
            **env,
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "SAM_CLI_TELEMETRY": "0",
        }

    def client(self, service: str) -> Any:
        import boto3

        # boto3-stubs type client() per literal service name; this one takes any name the steps use.
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,  # type: ignore[call-overload]
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    # -- steps --

    def prepare(self) -> None:
        """The two virtual environments and the wheelhouse (no-ops once done)."""
        why = why_unavailable()
        if why:
            raise MiniStackError(why)
        python = find_python312()
        assert python is not None
        out = self.opts.log_stream
        started = time.monotonic()
        self._ministack_bin = ensure_venv(
            self.opts.root / ".venv-ministack", python, MINISTACK_REQUIREMENT, out
        )
        self._sam_bin = ensure_venv(self.opts.root / ".venv-sam", python, SAM_REQUIREMENT, out)
        ensure_wheelhouse(self.opts.root, self.opts.wheels_dir, self._sam_bin, out)
        self.timings["prepare"] = time.monotonic() - started

    def start_ministack(self, timeout: float = 60) -> None:
        engine_dir = self.opts.engine_dir
        engine_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **self.aws_env(),
            **MINISTACK_ENV,
            "GATEWAY_PORT": str(self.opts.port),
            "STATE_DIR": str(engine_dir / "state"),
            "S3_DATA_DIR": str(engine_dir / "s3"),
            "TMPDIR": str(_tmp_dir(engine_dir)),
        }
        env.pop("AWS_ENDPOINT_URL")  # MiniStack gives its functions its own address
        started = time.monotonic()
        # A session of its own: stopping signals the whole group, MiniStack and its function processes.
        self.proc = subprocess.Popen(
            [str(self._ministack_bin / "ministack")],
            env=env,
            cwd=engine_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._forward_output, daemon=True).start()
        deadline = started + timeout
        while True:
            if self.proc.poll() is not None:
                raise MiniStackError(
                    f"MiniStack exited with code {self.proc.returncode} at start-up (its output is above)"
                )
            with contextlib.suppress(OSError):
                with urlopen(f"{self.endpoint}/_localstack/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            if time.monotonic() > deadline:
                raise MiniStackError(f"MiniStack did not answer on {self.endpoint} within {timeout:g} s")
            time.sleep(0.1)
        self.timings["ministack"] = time.monotonic() - started

    def _forward_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.opts.log_stream.write("ministack | " + line)
        self.opts.log_stream.flush()

    def open_database(self) -> str:
        from .db import open_database

        self.db = open_database(self.opts.database_url, self.opts.state_dir / "pgdata")
        return self.db.url

    def put_secrets(self, database_url: str) -> None:
        """One secret per `*SecretName` parameter of the template: the database URL, the JWT key kept in
        .local/ (the embedded stack's), any other a random key made once and kept in .local/ministack/."""
        from .stack import local_jwt_secret
        from .template import load_yaml

        params = load_yaml(self.opts.template_path).get("Parameters", {})
        sm = self.client("secretsmanager")
        for name, spec in params.items():
            if not name.endswith("SecretName"):
                continue
            secret_id = self.opts.parameters.get(name, str(spec.get("Default", "")))
            if name == "DatabaseUrlSecretName":
                value = database_url
            elif name == "JwtSecretName":
                value, self.jwt_secret_path = local_jwt_secret(self.opts.state_dir)
            else:
                value = _kept_key(self.opts.engine_dir / "secrets" / name)
            try:
                sm.create_secret(Name=secret_id, SecretString=value)
            except sm.exceptions.ResourceExistsException:
                sm.put_secret_value(SecretId=secret_id, SecretString=value)

    def build(self) -> Path:
        assert self._sam_bin is not None
        build_dir = self.opts.build_dir / "build"
        self.opts.build_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **self.aws_env(),
            "PATH": f"{self._sam_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.opts.wheels_dir),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "TESSDATA_DIR": host_tessdata(),
        }
        started = time.monotonic()
        self._say("sam build (layers from .local/wheels and this machine's tessdata, offline)...")
        _run(
            [
                str(self._sam_bin / "sam"),
                "build",
                "--template-file",
                str(self.opts.template_path),
                "--build-dir",
                str(build_dir),
                "--cached",
                "--cache-dir",
                str(self.opts.build_dir / "cache"),
            ],
            "sam build",
            env=env,
            cwd=self.opts.root,
            log_file=self.opts.build_dir / "build.log",
        )
        self.timings["build"] = time.monotonic() - started
        return build_dir / "template.yaml"

    def deploy(self, built_template: Path) -> Deployed:
        assert self._sam_bin is not None
        from .template import load_yaml

        built_template, self.left_out = without_unsupported(built_template)
        for logical_id, why in self.left_out.items():
            self._say(f"not deployed on MiniStack: {logical_id} ({why})")

        known = load_yaml(self.opts.template_path).get("Parameters", {})
        params = {k: v for k, v in DEFAULT_PARAMETERS.items() if k in known} | self.opts.parameters
        config = self.opts.engine_dir / "samconfig.toml"  # never the repository's (AWS) samconfig.toml
        config.write_text("version = 0.1\n")
        started = time.monotonic()
        self._say("sam deploy...")
        _run(
            [
                str(self._sam_bin / "sam"),
                "deploy",
                "--template-file",
                str(built_template),
                "--stack-name",
                STACK_NAME,
                "--region",
                REGION,
                "--resolve-s3",
                "--config-file",
                str(config),
                "--capabilities",
                "CAPABILITY_IAM",
                "CAPABILITY_AUTO_EXPAND",
                "--no-confirm-changeset",
                "--no-fail-on-empty-changeset",
                "--no-progressbar",
                *(["--parameter-overrides", *(f"{k}={v}" for k, v in params.items())] if params else []),
            ],
            "sam deploy",
            env=self.aws_env(),
            cwd=self.opts.root,
            log_file=self.opts.engine_dir / "deploy.log",
        )
        self.timings["deploy"] = time.monotonic() - started
        self.deployed = self.describe()
        self.configure_functions()
        self.route_preflights_to_functions()
        return self.deployed

    def describe(self) -> Deployed:
        cfn = self.client("cloudformation")
        stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        resources = cfn.describe_stack_resources(StackName=STACK_NAME)["StackResources"]

        def of(kind: str) -> list[str]:
            return sorted(r["PhysicalResourceId"] for r in resources if r["ResourceType"] == kind)

        if "ApiUrl" not in outputs:
            raise MiniStackError(f"the stack has no ApiUrl output: {sorted(outputs)}")
        api_url = urlsplit(outputs["ApiUrl"])
        api_id, stage = api_url.hostname.split(".", 1)[0], api_url.path.strip("/")
        local = f"{self.endpoint}/restapis/{api_id}/{stage}/_user_request_"
        return Deployed(
            local,
            api_id,
            stage,
            outputs,
            of("AWS::SQS::Queue"),
            of("AWS::S3::Bucket"),
            of("AWS::Lambda::Function"),
        )

    def configure_functions(self) -> None:
        """What a local deployment changes after `sam deploy`, as infra/localstack/deploy.sh does: the
        cookie over plain http, the `--env` overrides (only variables the function has), and every
        queue's visibility timeout when asked (`--visibility-timeout`)."""
        assert self.deployed is not None
        lam = self.client("lambda")
        wanted = {**LOCAL_FUNCTION_ENV, **self.opts.env_overrides}
        for name in self.deployed.functions:
            variables = (
                lam.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
            )
            changed = {k: v for k, v in wanted.items() if k in variables and variables[k] != v}
            if changed:
                lam.update_function_configuration(
                    FunctionName=name, Environment={"Variables": {**variables, **changed}}
                )
        # MiniStack's CloudFormation keeps ScalingConfig as the template gave it: the string a !Ref of
        # a Number parameter resolves to ("4"); its SQS poller then fails on every poll ("'>=' not
        # supported between instances of 'int' and 'str'") and no message reaches the worker.
        # CloudFormation types it as the integer it is; so does this, through the Lambda API.
        for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
            scaling = mapping.get("ScalingConfig") or {}
            if scaling.get("MaximumConcurrency") is not None:
                lam.update_event_source_mapping(
                    UUID=mapping["UUID"],
                    ScalingConfig={"MaximumConcurrency": int(scaling["MaximumConcurrency"])},
                )
        if self.opts.queue_visibility is not None:
            sqs = self.client("sqs")
            for url in self.deployed.queues:
                sqs.set_queue_attributes(
                    QueueUrl=url, Attributes={"VisibilityTimeout": str(self.opts.queue_visibility)}
                )

    def route_preflights_to_functions(self) -> int:
        """MiniStack answers the MOCK integration SAM makes for CORS preflights with `{}` and no
        Access-Control header, so a browser on another origin could call nothing. The functions
        answer preflights themselves (angebae.http.preflight): each OPTIONS method of a resource goes
        to the function that serves its other methods. Returns how many were re-pointed."""
        assert self.deployed is not None
        ag = self.client("apigateway")
        api, moved = self.deployed.api_id, 0
        for resource in ag.get_resources(restApiId=api, embed=["methods"], limit=500)["items"]:
            methods = resource.get("resourceMethods") or {}
            if "OPTIONS" not in methods:
                continue
            integrations = {
                m: ag.get_integration(restApiId=api, resourceId=resource["id"], httpMethod=m) for m in methods
            }
            proxies = [
                i["uri"] for m, i in integrations.items() if m != "OPTIONS" and i["type"] == "AWS_PROXY"
            ]
            if integrations["OPTIONS"]["type"] == "MOCK" and proxies:
                ag.put_integration(
                    restApiId=api,
                    resourceId=resource["id"],
                    httpMethod="OPTIONS",
                    type="AWS_PROXY",
                    integrationHttpMethod="POST",
                    uri=proxies[0],
                )
                moved += 1
        if moved:
            ag.create_deployment(restApiId=api, stageName=self.deployed.stage)
        return moved

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to MiniStack's process group (it saves its state), SIGKILL what is left after `timeout`."""
        if self.proc is not None and self.proc.poll() is None:
            pgid = self.proc.pid  # start_new_session: the group is MiniStack's own pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None:  # function processes outlive a MiniStack killed first: end its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self.db is not None:
            self.db.stop()

    def _say(self, text: str) -> None:
        self.opts.log_stream.write(text + "\n")
        self.opts.log_stream.flush()


# What MiniStack's CloudFormation refuses, and so rolls the whole stack back for: (predicate, why).
# Metric-math alarms: "Properties.Metrics (metric math) is not supported; use MetricName and
# Namespace." (MiniStack 1.5.33). Alarms watch AWS's metrics, which no local engine produces anyway.
UNSUPPORTED = (
    (
        lambda res: res.get("Type") == "AWS::CloudWatch::Alarm" and "Metrics" in res.get("Properties", {}),
        "a metric-math alarm: MiniStack's CloudFormation does not support Properties.Metrics",
    ),
)


def without_unsupported(built_template: Path) -> tuple[Path, dict[str, str]]:
    """The built template less the resources MiniStack cannot create, written beside it (its code
    paths are relative to the build folder); the same file when nothing is left out. A left-out
    resource that something else refers to is an error, not a silent change."""
    import yaml

    from .template import load_yaml

    doc = load_yaml(built_template)
    resources = doc.get("Resources", {})
    left_out = {rid: why for rid, res in resources.items() for test, why in UNSUPPORTED if test(res)}
    if not left_out:
        return built_template, {}
    for rid in left_out:
        del resources[rid]
    text = yaml.safe_dump(doc, sort_keys=False)
    if used := [rid for rid in left_out if re.search(rf"\b{rid}\b", text)]:
        raise MiniStackError(f"cannot leave out {', '.join(used)} for MiniStack: other resources refer to it")
    out = built_template.with_name("template.ministack.yaml")
    out.write_text(text)
    return out, left_out


def _kept_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _tmp_dir(engine_dir: Path) -> Path:
    """MiniStack unpacks code and layers under TMPDIR: a folder of the stack's, removed with it."""
    path = engine_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def banner_lines(engine: MiniStackEngine, email: str, password: str) -> list[str]:
    d = engine.deployed
    assert d is not None and engine.db is not None
    from .cli import database_shown

    db = database_shown(engine.db, engine.opts.state_dir)
    t = engine.timings
    return [
        "angebae local stack is up (Ctrl-C stops it)",
        f"  API          {d.api_url}/",
        f"               (also http://{d.api_id}.execute-api.localhost:{engine.opts.port}/{d.stage}/ "
        "where *.localhost resolves)",
        f"  S3/SQS       {engine.endpoint}  (MiniStack, stack {STACK_NAME})",
        f"  bucket       {', '.join(d.buckets)}",
        *(f"  queue        {q}" for q in d.queues),
        f"  database     {db}",
        f"  JWT key      {engine.jwt_secret_path}",
        f"  dev admin    {email} / {password}   (local only)",
        f"  functions    {len(d.functions)}, run by MiniStack as local processes",
        "  took         " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()),
    ]


def run(
    opts: MiniStackOptions, *, email: str, password: str, demo_file, demo_exit: bool, stop: threading.Event
) -> int:
    """Everything `angebae local --engine ministack` does, until `stop` is set (or the demo ends)."""
    from .cli import _layer_call

    engine = MiniStackEngine(opts)
    started = time.monotonic()
    try:
        engine.prepare()
        engine.start_ministack()
        database_url = engine.open_database()
        _layer_call("angebae.migrations", "apply_migrations")(database_url)
        _layer_call("angebae.auth.admins", "seed_admin")(database_url, email, password, role="admin")
        engine.put_secrets(database_url)
        engine.deploy(engine.build())
        engine.timings["total"] = time.monotonic() - started
        width = 100
        print("\n".join(["=" * width, *banner_lines(engine, email, password), "=" * width]), flush=True)
        if demo_file is not None:
            from .demo import run_demo

            assert engine.deployed is not None
            ok = run_demo(engine.deployed.api_url, email, password, demo_file or None)
            if demo_exit:
                return 0 if ok else 1
            print("the stack keeps running (Ctrl-C stops it)", flush=True)
        stop.wait()
        return 0
    finally:
        opts.log_stream.write("stopping MiniStack...\n")
        engine.stop()
