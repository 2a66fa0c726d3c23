"""The common layer (issue 10): its requirements come from pyproject.toml, pinned with hashes in a lock
file, and `sam build`'s Makefile target installs exactly the locked versions with the migrations."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

from support import ROOT

spec = importlib.util.spec_from_file_location("layer_requirements", ROOT / "layers/requirements.py")
requirements = importlib.util.module_from_spec(spec)
spec.loader.exec_module(requirements)


def test_the_layers_requirement_files_and_lock_are_what_pyproject_says():
    assert requirements.problems() == []
    common = {requirements._name(r) for r in requirements.files()[ROOT / "layers/common/requirements.txt"]}
    assert "boto3" not in common and "chalice" not in common and {"psycopg", "pydantic", "pyjwt"} <= common
    ocr = requirements.files()[ROOT / "layers/ocr/requirements.txt"]
    assert "pymupdf" in {requirements._name(r) for r in ocr}


def test_a_layer_file_or_a_dependency_pyproject_gained_is_reported(tmp_path):
    # GIVEN a copy of the project whose layer file was edited by hand, and a dependency the lock lacks
    for rel in (
        "pyproject.toml",
        "layers/common/requirements.txt",
        "layers/common/requirements-nodeps.txt",
        "layers/ocr/requirements.txt",
        "layers/common/requirements.lock",
        "layers/ocr/requirements.lock",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    assert requirements.problems(tmp_path) == []
    with (tmp_path / "layers/ocr/requirements.txt").open("a") as fh:
        fh.write("left-pad>=1\n")
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text().replace("dependencies = [\n", 'dependencies = [\n  "attrs>=23",\n', 1)
    pyproject.write_text(text)
    found = requirements.problems(tmp_path)
    assert any(p.startswith("layers/ocr/requirements.txt is not") for p in found)
    assert any("does not pin attrs" in p for p in found)
    # AND an [ocr] requirement the OCR layer's lock lacks is reported against that lock
    pyproject.write_text(pyproject.read_text().replace("ocr = [\n", 'ocr = [\n  "opencv-python>=4",\n', 1))
    assert any(
        p.startswith("layers/ocr/requirements.lock does not pin opencv-python")
        for p in requirements.problems(tmp_path)
    )


def test_the_layer_build_installs_the_locked_versions_and_the_migrations(tmp_path):
    out = subprocess.run(
        [
            "make",
            "-s",
            "-f",
            str(ROOT / "layers/common/Makefile"),
            "build-CommonLayer",
            f"ARTIFACTS_DIR={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    python = tmp_path / "python"
    installed = {}
    for dist in python.glob("*.dist-info"):
        name, version = dist.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[name.lower().replace("_", "-")] = version
    locked = requirements.pinned(requirements.LOCK.read_text())
    assert {name: installed.get(name) for name in locked} == locked
    assert "boto3" not in installed  # Lambda's runtime provides it
    shipped = sorted(p.name for p in (python / "angebae" / "sql").glob("*.sql"))
    assert shipped == sorted(p.name for p in (ROOT / "migrations").glob("*.sql"))
    assert not list(python.rglob("__pycache__"))
    assert sys.version_info >= (3, 11)
