"""The Makefile's targets, checked with `make -n` (print the commands, run none of them).

Every target .PHONY names must have a rule (a listed target without one, as `demo` was, does nothing
and exits 0), and each everyday target must resolve to its real command. `deploy`, `logs` and `build`
are never run here (AWS credentials; a 10-minute build): their commands are what is checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on PATH")

# target -> a command its dry run must print
EVERYDAY = {
    "demo": "angebae local --demo --demo-exit",
    "migrate": "angebae migrate",
    "seed-admin": "angebae seed-admin",
    "health": "/health",
    "logs": "logs --stack-name angebae-functions",
    "db-shell": "psql",
    "fmt": "ruff format .",
    "lint": "ruff format --check .",
    "typecheck": "mypy",
    "build": "build",
    "deploy": "deploy --stack-name angebae-functions",
    "validate": "cfn-lint template.yaml",
}


def dry_run(*args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def phony_targets() -> list[str]:
    text = MAKEFILE.read_text().replace("\\\n", " ")
    return [t for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for t in line.split()]


def test_every_phony_target_has_a_rule_that_runs_something():
    nothing = {
        t: r.stdout + r.stderr
        for t in phony_targets()
        if "Nothing to be done" in (r := dry_run(t)).stdout + r.stderr or r.returncode
    }
    assert nothing == {}


@pytest.mark.parametrize("target", sorted(EVERYDAY))
def test_everyday_target_resolves_to_its_command(target):
    assert target in phony_targets()
    result = dry_run(target)
    assert result.returncode == 0, result.stderr
    assert EVERYDAY[target] in result.stdout


def test_make_demo_runs_the_demo_and_stops():
    out = dry_run("demo").stdout
    assert ".venv/bin/angebae local --demo --demo-exit" in out.splitlines()


def test_make_local_takes_the_api_and_aws_ports():
    assert ".venv/bin/angebae local --demo" in dry_run("local").stdout.splitlines()
    out = dry_run("local", "API_PORT=3001", "AWS_PORT=4567").stdout
    assert ".venv/bin/angebae local --demo --port 3001 --aws-port 4567" in out.splitlines(), out


def test_build_and_deploy_say_clearly_when_there_is_no_sam_cli():
    for target in ("build", "deploy", "logs"):
        out = dry_run(target, SAM="").stdout
        assert f"{target if target != 'deploy' else 'build'}: no SAM CLI" in out, out


def test_validate_runs_each_checker():
    out = dry_run("validate", SAM="/opt/sam").stdout
    assert "/opt/sam validate --lint" in out
    assert "cfn-lint template.yaml" in out
    assert "checkov -f template.yaml --config-file .checkov.yaml" in out
    assert re.search(r"shellcheck .*layers/ocr/build\.sh", out) and "infra/scripts/ensure-postgres.sh" in out


def test_every_checkov_skip_gives_its_reason():
    import yaml

    text = (ROOT / ".checkov.yaml").read_text()
    skips = yaml.safe_load(text)["skip-check"]
    assert skips, "no skips: then drop the list"
    lines = text.splitlines()
    for check in skips:
        i = lines.index(f"  - {check}")
        assert lines[i - 1].lstrip().startswith("#"), f"{check} is skipped without a reason"
