"""Nothing in the functions depends on where a layer is mounted: the OCR layer's models are found
beside its python/ folder on sys.path (AWS: /opt, MiniStack: its temporary folder), and the migrations
beside the angebae package (the common layer ships them in angebae/sql)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from angebae.migrations import discover, migrations_dir
from angebae.ocr.engine import tessdata_dir

ROOT = Path(__file__).resolve().parents[2]


def _layer(base: Path) -> Path:
    (base / "python").mkdir(parents=True)
    (base / "share" / "tessdata").mkdir(parents=True)
    (base / "share" / "tessdata" / "eng.traineddata").write_bytes(b"model")
    return base


def test_tessdata_of_a_layer_unpacked_anywhere_is_found_beside_its_python_folder(tmp_path, monkeypatch):
    layer = _layer(tmp_path / "ministack-tmp" / "layer_1")
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    monkeypatch.syspath_prepend(str(layer / "python"))

    # before: /opt/share/tessdata or the host's system folder, never the layer's own copy
    assert tessdata_dir() == str(layer / "share" / "tessdata")


def test_a_python_folder_without_models_beside_it_is_passed_over(tmp_path, monkeypatch):
    (tmp_path / "python").mkdir()
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "python"))

    assert tessdata_dir() != str(tmp_path / "share" / "tessdata")


def test_tessdata_prefix_still_wins(tmp_path, monkeypatch):
    layer = _layer(tmp_path / "layer")
    monkeypatch.syspath_prepend(str(layer / "python"))
    monkeypatch.setenv("TESSDATA_PREFIX", "/elsewhere/tessdata")

    assert tessdata_dir() == "/elsewhere/tessdata"


def test_migrations_shipped_in_a_copy_of_the_package_are_found_from_its_own_path(tmp_path):
    # the common layer's layout (layers/common/Makefile): python/angebae/ with angebae/sql/*.sql,
    # copied somewhere that is neither /opt nor this repository
    python = tmp_path / "layer_0" / "python"
    shutil.copytree(
        ROOT / "layers/common/python/angebae",
        python / "angebae",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (python / "angebae" / "sql").mkdir(exist_ok=True)
    for sql in (ROOT / "migrations").glob("*.sql"):
        (python / "angebae" / "sql" / sql.name).write_text(sql.read_text())
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from angebae.migrations import migrations_dir, discover;"
            "print(migrations_dir()); print(len(discover()))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(python)},
        check=True,
    ).stdout.split()
    assert out == [str(python / "angebae" / "sql"), str(len(discover(ROOT / "migrations")))]


def test_in_the_repository_the_migrations_folder_is_used():
    assert migrations_dir() in (ROOT / "migrations", ROOT / "layers/common/python/angebae/sql")
