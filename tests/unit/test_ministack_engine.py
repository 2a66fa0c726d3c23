"""`angebae local --engine ministack` without MiniStack: what it leaves out of the built template, the
Python it picks, the options it refuses (the end-to-end runs are tests/e2e, leg `ministack`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from angebae_local.ministack import MiniStackError, find_python312, without_unsupported

ROOT = Path(__file__).resolve().parents[2]
ALARM_MATH = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {"Metrics": [{"Id": "total", "Expression": "SUM(METRICS())"}], "Threshold": 0},
}
ALARM_PLAIN = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Threshold": 0},
}


def _built(tmp_path: Path, resources: dict) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump({"Resources": resources}))
    return path


def test_metric_math_alarms_are_left_out_of_a_copy_beside_the_built_template(tmp_path):
    built = _built(
        tmp_path,
        {"Math": ALARM_MATH, "Plain": ALARM_PLAIN, "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}},
    )

    out, left_out = without_unsupported(built)

    assert out == tmp_path / "template.ministack.yaml"  # code paths stay relative to the build folder
    assert list(left_out) == ["Math"] and "metric-math" in left_out["Math"]
    assert sorted(yaml.safe_load(out.read_text())["Resources"]) == ["Plain", "Queue"]
    assert yaml.safe_load(built.read_text())["Resources"]["Math"] == ALARM_MATH  # the build is untouched


def test_a_template_without_anything_unsupported_is_deployed_as_built(tmp_path):
    built = _built(tmp_path, {"Plain": ALARM_PLAIN})
    assert without_unsupported(built) == (built, {})


def test_a_left_out_resource_that_another_refers_to_is_an_error(tmp_path):
    built = _built(
        tmp_path,
        {
            "Math": ALARM_MATH,
            "Watcher": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Math"}}},
        },
    )
    with pytest.raises(MiniStackError, match="Math"):
        without_unsupported(built)


def test_the_python_is_the_first_candidate_that_runs_as_312(monkeypatch, tmp_path):
    monkeypatch.setenv("MINISTACK_PYTHON", sys.executable)  # this venv's interpreter
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))  # no pyenv versions
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.12 on PATH
    expected = sys.executable if sys.version_info[:2] == (3, 12) else None
    assert find_python312() == expected


@pytest.mark.parametrize(
    "option",
    [["--concurrency", "2"], ["--no-worker"], ["--aws-endpoint", "http://x"], ["--schedule-interval", "5"]],
)
def test_options_of_the_embedded_engine_only_are_refused_in_one_line(option):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "angebae_local.cli",
            "local",
            "--engine",
            "ministack",
            "--template",
            str(ROOT / "template.yaml"),
            *option,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith("is an option of the embedded engine only"), proc.stderr
