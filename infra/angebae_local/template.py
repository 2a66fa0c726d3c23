"""Read template.yaml: functions, their events and environment, buckets and queues.

CloudFormation intrinsics are resolved against local values: parameter defaults (or overrides),
pseudo parameters, the names/URLs/ARNs of the locally created resources, and local secrets for
`{{resolve:secretsmanager:...}}` dynamic references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
STACK_NAME = "angebae-local"


class TemplateError(ValueError):
    """The template uses something the local stack cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns short tags (!Ref, !Sub, !GetAtt, ...) into their long form."""


def _construct_tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)  # YAML has no fourth kind of node
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass(frozen=True)
class ApiRoute:
    function: str  # logical id
    event: str
    path: str
    method: str  # upper case; ANY allowed


@dataclass(frozen=True)
class SqsSource:
    function: str
    event: str
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int
    report_failures: bool
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency: batches in flight at once


@dataclass(frozen=True)
class ScheduleSource:
    function: str
    event: str
    seconds: float  # rate(N minutes) as seconds
    input: str | None  # the event's Input (JSON text), else EventBridge's own scheduled event


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_RATE_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """rate(5 minutes) -> 300; a cron() expression is not run locally (TemplateError)."""
    match = _RATE.match(expression.strip())
    if not match:
        raise TemplateError(f"schedule {expression!r}: the local stack runs rate(...) schedules only")
    return int(match.group(1)) * _RATE_SECONDS[match.group(2).rstrip("s")]


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory: int
    layer_paths: list[Path]
    environment: dict[str, Any]  # unresolved, Globals merged
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions
    api_routes: list[ApiRoute] = field(default_factory=list)
    sqs_sources: list[SqsSource] = field(default_factory=list)
    schedules: list[ScheduleSource] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        """The CodeUri folder name: `login` for functions/login/."""
        return self.code_uri.name


@dataclass
class LocalValues:
    """What intrinsics resolve to locally."""

    region: str = "us-east-1"
    parameters: dict[str, str] = field(default_factory=dict)  # overrides of defaults
    resources: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {"Ref": .., "Arn": ..}
    secrets: dict[str, str] = field(default_factory=dict)  # secret name or env var name -> value


_DYNAMIC_REF = re.compile(r"\{\{resolve:secretsmanager:([^:}]+)[^}]*\}\}")
_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


class Template:
    def __init__(self, path: Path | str, local: LocalValues | None = None) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.doc = load_yaml(self.path)
        self.local = local or LocalValues()
        self.resources: dict[str, dict[str, Any]] = self.doc.get("Resources", {})

    # ---- resources ---------------------------------------------------------------------------

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == type_}

    def parameter(self, name: str) -> str:
        if name in self.local.parameters:
            return str(self.local.parameters[name])
        spec = self.doc.get("Parameters", {}).get(name)
        if spec is None or "Default" not in spec:
            raise TemplateError(f"parameter {name} has no default and no local value")
        return str(spec["Default"])

    def functions(self) -> list[Function]:
        glob = self.doc.get("Globals", {}).get("Function", {})
        out = []
        for fid, res in self.of_type("AWS::Serverless::Function").items():
            props = res.get("Properties", {})
            env = dict(glob.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            fn = Function(
                logical_id=fid,
                code_uri=(self.root / props["CodeUri"]).resolve(),
                handler=props.get("Handler", glob.get("Handler", "app.app")),
                timeout=int(self.resolve(props.get("Timeout", glob.get("Timeout", 3)))),
                memory=int(self.resolve(props.get("MemorySize", glob.get("MemorySize", 128)))),
                layer_paths=self._layer_paths(glob.get("Layers", []) + props.get("Layers", [])),
                environment=env,
                reserved_concurrency=self._optional_int(props.get("ReservedConcurrentExecutions")),
            )
            for name, ev in (props.get("Events") or {}).items():
                ep = ev.get("Properties", {})
                if ev.get("Type") == "Api":
                    fn.api_routes.append(ApiRoute(fid, name, ep["Path"], ep["Method"].upper()))
                elif ev.get("Type") == "SQS":
                    queue = ep["Queue"]
                    qid = queue["Fn::GetAtt"][0] if isinstance(queue, dict) else queue
                    fn.sqs_sources.append(
                        SqsSource(
                            fid,
                            name,
                            qid,
                            int(ep.get("BatchSize", 10)),
                            "ReportBatchItemFailures" in (ep.get("FunctionResponseTypes") or []),
                            self._optional_int((ep.get("ScalingConfig") or {}).get("MaximumConcurrency")),
                        )
                    )
                elif ev.get("Type") in ("Schedule", "ScheduleV2"):
                    expression = self.resolve(ep.get("Schedule") or ep.get("ScheduleExpression"))
                    fn.schedules.append(
                        ScheduleSource(
                            fid, name, rate_seconds(str(expression)), self.resolve(ep.get("Input"))
                        )
                    )
            out.append(fn)
        return out

    def _optional_int(self, value: Any) -> int | None:
        value = self.resolve(value)
        return None if value is None else int(value)

    def function(self, name: str) -> Function:
        for fn in self.functions():
            if name in (fn.logical_id, fn.short_name):
                return fn
        known = ", ".join(sorted(f.short_name for f in self.functions()))
        raise TemplateError(f"no function {name!r} in {self.path.name} (known: {known})")

    def api_cors(self) -> dict[str, Any] | None:
        for api in self.of_type("AWS::Serverless::Api").values():
            cors = api.get("Properties", {}).get("Cors")
            if cors is not None:
                return cors if isinstance(cors, dict) else {"AllowOrigin": cors}
        return None

    def _api_properties(self) -> dict[str, Any]:
        for api in self.of_type("AWS::Serverless::Api").values():
            return api.get("Properties", {})
        return {}

    def api_throttling(self) -> dict[tuple[str, str], tuple[int, float]]:
        """{(resource path, method): (burst, rate)} of the API's MethodSettings."""
        out = {}
        for ms in self._api_properties().get("MethodSettings") or []:
            burst, rate = ms.get("ThrottlingBurstLimit"), ms.get("ThrottlingRateLimit")
            if burst is None or rate is None:
                continue
            path = str(self.resolve(ms.get("ResourcePath", "/*")))
            if "~1" in path:  # "/~1admin~1login": a slash, then the resource path with ~1 for its slashes
                path = path.removeprefix("/").replace("~1", "/")
            method = str(self.resolve(ms.get("HttpMethod", "*"))).upper()
            out[(path, method)] = (int(self.resolve(burst)), float(self.resolve(rate)))
        return out

    def gateway_response(self, kind: str) -> tuple[int | None, dict[str, str], str | None] | None:
        """(status, headers, application/json template) of one of the API's GatewayResponses, with
        header values resolved and unquoted; None when the template does not declare it."""
        spec = (self._api_properties().get("GatewayResponses") or {}).get(kind)
        if spec is None:
            return None
        status = spec.get("StatusCode")
        headers = {
            k: str(self.resolve(v)).strip("'")
            for k, v in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items()
        }
        body = (spec.get("ResponseTemplates") or {}).get("application/json")
        return (None if status is None else int(self.resolve(status))), headers, body

    def stage(self) -> str:
        for api in self.of_type("AWS::Serverless::Api").values():
            return str(self.resolve(api.get("Properties", {}).get("StageName", "local")))
        return "local"

    def _layer_paths(self, refs: list[Any]) -> list[Path]:
        paths = []
        for ref in refs:
            lid = ref.get("Ref") if isinstance(ref, dict) else None
            layer = self.resources.get(lid or "")
            if not layer:
                continue  # an ARN of a published layer: nothing local to mount
            content = self.root / layer["Properties"]["ContentUri"]
            paths.append((content / "python") if (content / "python").is_dir() else content)
        return [p.resolve() for p in paths]

    # ---- intrinsics --------------------------------------------------------------------------

    def environment(self, fn: Function) -> dict[str, str]:
        """The function's variables as strings, with secrets taken from the local values.

        A `<NAME>_SECRET_ID` (or `<NAME>_ID` for a `..._SECRET`) variable, the id of the secret the
        function reads from Secrets Manager on AWS, becomes the plain `<NAME>` with the local value
        of NAME, as the settings read it in local runs: nothing local reaches a secrets store."""
        env: dict[str, str] = {}
        for name, raw in fn.environment.items():
            value = self.resolve(raw)
            if value is None:
                continue
            if name.endswith("_SECRET_ID") and str(value) == "":
                continue  # the function says it reads no such secret: it gets none locally either
            if name.endswith("_SECRET_ID"):  # JWT_SECRET_ID: JWT_SECRET, DATABASE_URL_SECRET_ID: DATABASE_URL
                plain = next(
                    (
                        n
                        for n in (name.removesuffix("_ID"), name.removesuffix("_SECRET_ID"))
                        if n in self.local.secrets
                    ),
                    None,
                )
                local = self.local.secrets.get(str(value), self.local.secrets.get(plain or ""))
                if plain and local is not None:
                    env.setdefault(plain, local)
                    continue
            env[name] = self._resolve_secrets(name, str(value))
        return env

    def _resolve_secrets(self, var: str, value: str) -> str:
        def repl(m: re.Match[str]) -> str:
            secret = m.group(1)
            for key in (secret, var):
                if key in self.local.secrets:
                    return self.local.secrets[key]
            raise TemplateError(f"{var}: no local value for secret {secret!r}")

        return _DYNAMIC_REF.sub(repl, value)

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.local.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def resolve(self, v: Any) -> Any:
        if isinstance(v, list):
            return [x for x in (self.resolve(i) for i in v) if x is not None]
        if not isinstance(v, dict):
            return v
        if len(v) != 1:
            return {k: self.resolve(x) for k, x in v.items()}
        ((key, arg),) = v.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::GetAtt":
            rid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._resource_value(rid, attr)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            return str(arg[0]).join(str(x) for x in self.resolve(arg[1]))
        if key == "Fn::Split":
            return str(self.resolve(arg[1])).split(arg[0])
        if key == "Fn::Select":
            return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        if key == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if key.startswith("Fn::"):
            raise TemplateError(f"{key} is not supported by the local stack")
        return {key: self.resolve(arg)}

    def condition(self, name_or_expr: Any) -> bool:
        expr = name_or_expr
        if isinstance(expr, str):
            expr = self.doc.get("Conditions", {})[expr]
        ((key, arg),) = expr.items()
        if key == "Fn::Equals":
            a, b = (self.resolve(x) for x in arg)
            return str(a) == str(b)
        if key == "Fn::Not":
            return not self.condition(arg[0])
        if key == "Fn::And":
            return all(self.condition(x) for x in arg)
        if key == "Fn::Or":
            return any(self.condition(x) for x in arg)
        if key == "Condition":
            return self.condition(arg)
        raise TemplateError(f"condition {key} is not supported by the local stack")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return None
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.doc.get("Parameters", {}):
            return self.parameter(name)
        return self._resource_value(name, "Ref")

    def _resource_value(self, rid: str, attr: str) -> str:
        try:
            return self.local.resources[rid][attr]
        except KeyError:
            raise TemplateError(f"no local value for {rid}.{attr} (resource not created locally)") from None

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: self.resolve(x) for k, x in variables.items()}

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                rid, attr = name.split(".", 1)
                return str(self._resource_value(rid, attr))
            return str(self._ref(name))

        return _SUB_VAR.sub(repl, text)


def find_template(start: Path | None = None) -> Path:
    """template.yaml in the current folder or a parent, else the repository this package lives in."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file():
            return folder / "template.yaml"
    return Path(__file__).resolve().parents[2] / "template.yaml"
