"""The built wheel (issue 10): installed into a fresh venv it carries its migrations and migrates an
empty database, and its OCR vocabularies; an install without migrations refuses to migrate nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import psycopg
import pytest
from angebae.migrations import NoMigrations, discover
from support import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(ROOT),
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("angebae_functions-*.whl")
    return built


def test_the_wheel_holds_every_migration_and_the_vocabularies(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(Path(n).name for n in names if n.startswith("angebae/sql/") and n.endswith(".sql"))
    assert shipped == sorted(p.name for p in (ROOT / "migrations").glob("*.sql"))
    vocabularies = {Path(n).name for n in names if n.startswith("angebae/ocr/vocabulary/")}
    assert {"en.json", "es.json", "de.json"} <= vocabularies


def test_the_wheel_installed_in_a_fresh_venv_migrates_an_empty_database(wheel, tmp_path, empty_database):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Its dependencies come from this venv's site-packages (after the fresh venv's own): the package
    # itself only from the wheel (this venv's editable install is a .pth, not read from PYTHONPATH).
    code = (
        "import json, angebae.migrations as m; applied = m.apply_migrations(__import__('sys').argv[1]);"
        "print(json.dumps({'file': m.__file__, 'dir': str(m.migrations_dir()), 'applied': applied}))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    out = subprocess.run(
        [str(python), "-c", code, empty_database], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(venv)) and result["dir"].startswith(str(venv))
    assert result["applied"] == [f"{m.version:04d}_{m.name}" for m in discover(ROOT / "migrations")]
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(result["applied"])


def test_no_migration_files_is_an_error_not_an_empty_plan(tmp_path):
    with pytest.raises(NoMigrations, match="no migration files"):
        discover(tmp_path)
    with pytest.raises(NoMigrations):
        discover(tmp_path / "missing")
