"""Wires the pieces together: AWS endpoint + resources, database, function pools, gateway, pollers."""

from __future__ import annotations

import functools
import logging
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import aws
from .db import Database, open_database
from .gateway import Gateway, GatewayConfig
from .poller import SqsPoller
from .runner import FunctionPool, InvokeResult, function_environment
from .s3store import S3Store
from .schedule import ScheduleTimer
from .template import ApiRoute, Function, LocalValues, SqsSource, Template
from .throttle import Limit, Throttle

log = logging.getLogger("angebae.local")

# Locally the API is plain http on localhost: a Secure cookie would never come back.
LOCAL_ENV_OVERRIDES = {"COOKIE_SECURE": "false"}


@dataclass
class StackOptions:
    template_path: Path
    state_dir: Path  # .local/: JWT key, embedded database, s3/ (the embedded moto's objects)
    region: str = "us-east-1"
    aws_endpoint: str | None = None  # None: start moto on aws_port
    aws_port: int = 4566
    database_url: str | None = None
    api_port: int = 3000
    pool_size: int = 1
    env_overrides: dict[str, str] = field(default_factory=lambda: dict(LOCAL_ENV_OVERRIDES))
    parameters: dict[str, str] = field(default_factory=dict)  # template parameter overrides
    queue_visibility: int | None = None  # replaces every queue's VisibilityTimeout
    schedule_seconds: float | None = None  # replaces every schedule's rate
    events_url: str | None = None  # job-finished events POSTed here (JOB_EVENTS_WEBHOOK_URL)
    log_stream: IO[str] = field(default_factory=lambda: sys.stderr)


def local_jwt_secret(state_dir: Path, name: str = "jwt_secret") -> tuple[str, Path]:
    """A random key made once and kept in state_dir (mode 600): the JWT key, the TOTP key."""
    path = state_dir / name
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip(), path


class LocalStack:
    def __init__(self, opts: StackOptions) -> None:
        self.opts = opts
        local = LocalValues(region=opts.region, parameters=dict(opts.parameters))
        self.template = Template(opts.template_path, local)
        self.moto: aws.MotoServer | None = None
        self.s3store: S3Store | None = None
        self.db: Database | None = None
        self.resources: aws.Provisioned | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.gateway: Gateway | None = None
        self.pollers: list[SqsPoller] = []
        self.timers: list[ScheduleTimer] = []
        self.jwt_secret_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return self.opts.aws_endpoint or (self.moto.endpoint if self.moto else "")

    def start_backends(self) -> None:
        """AWS endpoint with the template's resources, and the database."""
        if self.opts.aws_endpoint is None:
            self.moto = aws.MotoServer(self.opts.aws_port).start()
        self.resources = aws.provision(
            self.template, self.endpoint, self.opts.region, self.opts.queue_visibility
        )
        if self.moto is not None:  # moto keeps objects in memory: the store keeps them across restarts
            self.s3store = S3Store(self.opts.state_dir / "s3")
            restored = self.s3store.restore()
            if restored:
                log.info("restored %d S3 object version(s) from %s", restored, self.s3store.dir)
            self.s3store.start()
        self.db = open_database(self.opts.database_url, self.opts.state_dir / "pgdata")
        jwt, self.jwt_secret_path = local_jwt_secret(self.opts.state_dir)
        totp, _ = local_jwt_secret(self.opts.state_dir, "totp_key")
        self.template.local.secrets.update(
            {"DATABASE_URL": self.db.url, "JWT_SECRET": jwt, "TOTP_ENCRYPTION_KEY": totp}
        )

    def function_env(self, name: str) -> dict[str, str]:
        fn = self.template.function(name)
        variables = self.template.environment(fn)
        if self.opts.events_url and "JOB_EVENTS_TOPIC_ARN" in variables:  # the functions that publish
            variables["JOB_EVENTS_WEBHOOK_URL"] = self.opts.events_url
        variables.update({k: v for k, v in self.opts.env_overrides.items() if k in variables})
        return function_environment(
            fn,
            variables,
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": self.opts.region,
                "AWS_REGION": self.opts.region,
                **aws.DUMMY_CREDENTIALS,
            },
        )

    def pool(self, name: str) -> FunctionPool:
        fn = self.template.function(name)
        if fn.logical_id not in self.pools:
            self.pools[fn.logical_id] = FunctionPool(
                fn, self.function_env(fn.logical_id), self.opts.log_stream, self.opts.pool_size
            )
        return self.pools[fn.logical_id]

    def invoke(self, name: str, event: Any) -> InvokeResult:
        return self.pool(name).invoke(event)

    def start_gateway(self) -> Gateway:
        routes = [r for fn in self.template.functions() for r in fn.api_routes]
        cors = self.template.api_cors() or {}
        origins = (
            str(self.template.parameter("CorsOrigins"))
            if "CorsOrigins" in self.template.doc.get("Parameters", {})
            else ""
        )
        config = GatewayConfig(
            stage=self.template.stage(),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
            cors_methods=_unquote(self.template.resolve(cors.get("AllowMethods", "'GET,POST,OPTIONS'"))),
            cors_headers=_unquote(self.template.resolve(cors.get("AllowHeaders", "'Content-Type'"))),
            openapi_file=self.template.root / "openapi.json",
            openapi_builder=_openapi_builder(),
        )
        limits = self.template.api_throttling()
        if limits:
            config.throttle = Throttle({key: Limit(*value) for key, value in limits.items()})
        throttled = self.template.gateway_response("THROTTLED")
        if throttled is not None:
            status, headers, body = throttled
            config.throttled = (
                status or 429,
                [("Content-Type", "application/json"), *headers.items()],
                (body or "").encode(),
            )

        def call(route: ApiRoute, event: dict[str, Any]) -> InvokeResult:
            return self.invoke(route.function, event)

        self.gateway = Gateway(routes, call, config, port=self.opts.api_port).start()
        return self.gateway

    def start_pollers(self) -> list[SqsPoller]:
        assert self.resources is not None
        sqs = aws.client("sqs", self.endpoint, self.opts.region)
        for fn in self.template.functions():
            for src in fn.sqs_sources:
                pool = self.pool(fn.logical_id)
                poller = SqsPoller(
                    sqs,
                    self.resources.queues[src.queue],
                    pool.invoke,
                    batch_size=src.batch_size,
                    report_failures=src.report_failures,
                    region=self.opts.region,
                    name=f"{fn.short_name}<-{src.queue}",
                    concurrency=poller_concurrency(fn, src, self.opts.pool_size),
                )
                self.pollers.append(poller.start())
        return self.pollers

    def start_schedules(self) -> list[ScheduleTimer]:
        """A timer for each `Type: Schedule` event (the OCR reaper's: jobs past their lease)."""
        for fn in self.template.functions():
            for src in fn.schedules:
                timer = ScheduleTimer(
                    src,
                    self.pool(fn.logical_id).invoke,
                    region=self.opts.region,
                    seconds=self.opts.schedule_seconds,
                    name=f"{fn.short_name}<-{src.event}",
                )
                self.timers.append(timer.start())
        return self.timers

    def stop(self) -> None:
        for timer in self.timers:
            timer.stop()
        for poller in self.pollers:
            poller.stop()
        if self.gateway:
            self.gateway.stop()
        for pool in self.pools.values():
            pool.close()
        if self.db:
            self.db.stop()
        if self.s3store:
            self.s3store.stop()
        if self.moto:
            self.moto.stop()


def poller_concurrency(fn: Function, src: SqsSource, pool_size: int) -> int:
    """Batches in flight at once, as Lambda runs them: as many as the function has processes
    (--concurrency), bounded by the event's MaximumConcurrency and the function's reserved concurrency."""
    bounds = [pool_size, src.max_concurrency, fn.reserved_concurrency]
    return max(1, min(b for b in bounds if b is not None))


def _unquote(value: Any) -> str:
    return str(value).strip("'")


def _openapi_builder():
    """angebae.openapi.build of the description as this stack serves it (at /), when the layer has it."""
    try:
        from angebae import openapi
    except ImportError:
        return None
    build = getattr(openapi, "build", None)
    return build and functools.partial(build, local=True)
