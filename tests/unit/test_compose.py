"""docker-compose.yml and infra/localstack/deploy.sh, checked statically.

No test here starts a container: this CI has no Docker engine (and no `docker compose` plugin), so
the compose file is parsed as YAML and compared with what the code and the template expect, and the
deploy script is syntax-checked (plus shellcheck where installed) and cross-checked with template.yaml.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from angebae.settings import Settings
from angebae_local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "infra" / "localstack" / "deploy.sh"
TEMPLATE = ROOT / "template.yaml"

# What the template's resources need from LocalStack (sts: the SAM CLI asks who it is).
NEEDED_SERVICES = {
    "s3",
    "sqs",
    "lambda",
    "apigateway",
    "cloudformation",
    "iam",
    "logs",
    "secretsmanager",
    "sts",
    "cloudwatch",
}
INFRA_SERVICES = {"localstack", "postgres"}  # their environment configures the images, not our code
ENV_REF = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def deploy_sh() -> str:
    return DEPLOY.read_text()


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: str(v) for k, v in env.items()}


def _default(value: str) -> str:
    """`${VAR:-default}` -> default, as compose would interpolate with VAR unset."""
    return ENV_REF.sub(lambda m: (re.search(r":?-(.*)\}$", m.group(0)) or [None, ""])[1], value)


def _container_ports(service: dict) -> set[int]:
    out = set()
    for spec in service.get("ports", []):
        spec = spec if isinstance(spec, str) else f"{spec['published']}:{spec['target']}"
        out.add(int(_default(spec).rsplit(":", 1)[-1].split("/")[0]))
    return out


def _script_default(script: str, var: str) -> str:
    m = re.search(rf'^{var}="\$\{{{var}:-(.*)\}}"$', script, re.M)
    assert m, f"deploy.sh does not define {var} with a default"
    return m.group(1)


# ---- docker-compose.yml ----------------------------------------------------------------------------


def test_services_are_localstack_and_postgres(compose):
    assert set(compose["services"]) == INFRA_SERVICES


def test_images_are_pinned(compose):
    for name, svc in compose["services"].items():
        image = svc["image"]
        assert ":" in image, f"{name}: image {image!r} has no tag"
        assert not image.endswith(":latest"), f"{name}: image {image!r} is not pinned"


def test_localstack_is_a_4x_release_that_needs_no_token(compose):
    svc = compose["services"]["localstack"]
    repo, tag = svc["image"].rsplit(":", 1)
    assert repo == "localstack/localstack"  # the Community image, not localstack-pro
    assert re.fullmatch(r"4\.\d+(\.\d+)?", tag), tag
    assert (4, 0) <= tuple(int(x) for x in tag.split(".")[:2]) <= (4, 14), (
        "images after 4.14 (2026-03-23) refuse to start without LOCALSTACK_AUTH_TOKEN"
    )
    assert "LOCALSTACK_AUTH_TOKEN" not in _env(svc)  # only as a comment, for newer images
    assert "LOCALSTACK_AUTH_TOKEN" in COMPOSE.read_text()


def test_localstack_runs_every_service_the_template_needs(compose):
    svc = compose["services"]["localstack"]
    services = {s.strip() for s in _env(svc)["SERVICES"].split(",")}
    assert NEEDED_SERVICES <= services, NEEDED_SERVICES - services


def test_localstack_can_start_lambda_containers_on_the_database_network(compose):
    svc = compose["services"]["localstack"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in svc["volumes"]
    network = _env(svc)["LAMBDA_DOCKER_NETWORK"]
    # the network's real name, not <project>_default, and both services are on it
    assert compose["networks"][network]["name"] == network
    for name in INFRA_SERVICES:
        assert network in compose["services"][name]["networks"], name


def test_ports(compose):
    assert 4566 in _container_ports(compose["services"]["localstack"])
    assert 5432 in _container_ports(compose["services"]["postgres"])


def test_health_checks(compose):
    ls = compose["services"]["localstack"]["healthcheck"]["test"]
    assert "curl" in ls and any("localhost:4566/_localstack/health" in part for part in ls)
    pg = " ".join(compose["services"]["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in pg


def test_postgres_is_15_with_a_named_volume(compose):
    svc = compose["services"]["postgres"]
    assert svc["image"].split(":", 1)[1].startswith("15")
    volume = svc["volumes"][0].split(":", 1)[0]
    assert volume in compose["volumes"]


def test_environment_for_our_code_uses_settings_names(compose):
    """Any service besides the two images would run our code: its variables must be Settings fields
    (or the AWS SDK's own). Today there is none; the functions get theirs from template.yaml."""
    known = {name.upper() for name in Settings.model_fields}
    for name, svc in compose["services"].items():
        if name in INFRA_SERVICES:
            continue
        unknown = {k for k in _env(svc) if k not in known and not k.startswith("AWS_")}
        assert not unknown, f"{name}: {sorted(unknown)} are not angebae.settings.Settings fields"


# ---- infra/localstack/deploy.sh ----------------------------------------------------------------------


def test_deploy_script_is_strict_and_parses():
    text = DEPLOY.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    subprocess.run(["bash", "-n", str(DEPLOY)], check=True)


# shellcheck on PATH, else the pinned one `make validate` puts in .venv-checkov
SHELLCHECK = shutil.which("shellcheck") or shutil.which("shellcheck", path=ROOT / ".venv-checkov" / "bin")


@pytest.mark.skipif(SHELLCHECK is None, reason="shellcheck not installed (make validate installs one)")
def test_deploy_script_passes_shellcheck():
    subprocess.run([SHELLCHECK, str(DEPLOY)], check=True)


def test_deploy_script_overrides_only_template_parameters(deploy_sh):
    params = set(load_yaml(TEMPLATE)["Parameters"])
    overridden = set(re.findall(r'^\s+"(\w+)=\$\w+"', deploy_sh, re.M))
    assert overridden, "no --parameter-overrides found"
    assert overridden <= params, overridden - params
    # what LocalStack needs differently from the defaults is passed explicitly
    assert {
        "Stage",
        "MediaBucketPrefix",
        "DatabaseUrlSecretName",
        "JwtSecretName",
        "DbPrepareThreshold",
    } <= overridden


def test_deploy_script_creates_the_secrets_the_template_resolves(deploy_sh):
    params = load_yaml(TEMPLATE)["Parameters"]
    db_secret = params["DatabaseUrlSecretName"]["Default"]
    assert _script_default(deploy_sh, "DATABASE_URL_SECRET_NAME") == db_secret
    assert _script_default(deploy_sh, "JWT_SECRET_NAME") == params["JwtSecretName"]["Default"]
    assert _script_default(deploy_sh, "TOTP_KEY_SECRET_NAME") == params["TotpKeySecretName"]["Default"]
    assert _script_default(deploy_sh, "STAGE") == params["Stage"]["Default"]
    assert re.fullmatch(
        params["MediaBucketPrefix"]["AllowedPattern"], _script_default(deploy_sh, "MEDIA_BUCKET_PREFIX")
    )
    assert "secretsmanager create-secret" in deploy_sh


def test_deploy_script_database_urls_match_the_compose_database(compose, deploy_sh):
    pg = compose["services"]["postgres"]
    env = _env(pg)
    for var, host in (("LAMBDA_DATABASE_URL", "postgres"), ("HOST_DATABASE_URL", "localhost")):
        url = urlsplit(_default(_script_default(deploy_sh, var)))
        assert (url.username, url.password, url.path.lstrip("/")) == (
            env["POSTGRES_USER"],
            env["POSTGRES_PASSWORD"],
            env["POSTGRES_DB"],
        ), var
        assert url.hostname == host, var
    # Lambda containers reach the service by name on its container port
    assert urlsplit(_default(_script_default(deploy_sh, "LAMBDA_DATABASE_URL"))).port == 5432
    assert _default(_script_default(deploy_sh, "LAMBDA_DATABASE_URL")).split("@")[1].startswith("postgres:")


def test_deploy_script_uses_cli_commands_that_exist(deploy_sh):
    """`angebae migrate`, `seed-admin` and `local --aws-endpoint` as the CLI defines them."""
    from angebae_local.cli import build_parser

    parser = build_parser()
    parser.parse_args(["migrate", "--template", "t.yaml", "--database-url", "postgresql://x"])
    parser.parse_args(
        ["seed-admin", "--database-url", "postgresql://x", "--email", "a@b.c", "--password", "p"]
    )
    parser.parse_args(["local", "--aws-endpoint", "http://localhost:4566", "--database-url", "x"])
    assert '"$ANGEBAE" migrate --template' in deploy_sh
    assert "local --aws-endpoint" in deploy_sh
