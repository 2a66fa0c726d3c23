"""The OCR layer's models offline (issue 10): layers/ocr/build.sh with TESSDATA_DIR copies them from a
local folder instead of GitHub and checks each against its pinned SHA-256.

`TESSDATA_ONLY=1` stops the build after the models (no wheels, no zip) and `OUT_DIR` keeps it out of
the tree, so these run in a second. A `curl` first on PATH that fails proves nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "layers" / "ocr" / "build.sh"
DEBIAN_TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")  # Debian 12's tesseract-ocr-<lang>
PINS = dict(re.findall(r"^\s+\[(\w+)\]=([0-9a-f]{64})$", BUILD.read_text(), re.M))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def models_only(tmp_path: Path, tessdata: Path) -> subprocess.CompletedProcess:
    shims = tmp_path / "shims"
    shims.mkdir(exist_ok=True)
    curl = shims / "curl"
    curl.write_text("#!/bin/sh\necho 'curl was called' >&2\nexit 99\n")
    curl.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "TESSDATA_ONLY": "1",
        "TESSDATA_DIR": str(tessdata),
        "OUT_DIR": str(tmp_path / "out"),
    }
    return subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def local_models(tmp_path) -> Path:
    """A copy of this machine's models, to break one at a time."""
    if not all((DEBIAN_TESSDATA / f"{lang}.traineddata").is_file() for lang in PINS):
        pytest.skip(f"{DEBIAN_TESSDATA} lacks some of {sorted(PINS)} (apt-get install tesseract-ocr-<lang>)")
    folder = tmp_path / "tessdata"
    folder.mkdir()
    for lang in PINS:
        shutil.copy(DEBIAN_TESSDATA / f"{lang}.traineddata", folder)
    return folder


def test_the_pins_are_the_eight_models_the_layer_ships():
    assert sorted(PINS) == ["deu", "eng", "fra", "ita", "nld", "osd", "por", "spa"]


def test_debians_models_are_the_pinned_files_and_the_build_takes_them_without_downloading(
    tmp_path, local_models
):
    out = models_only(tmp_path, DEBIAN_TESSDATA)
    assert out.returncode == 0, out.stderr
    assert "curl was called" not in out.stderr
    assert "8 models, SHA-256 checked" in out.stdout
    copied = tmp_path / "out" / "share" / "tessdata"
    assert {p.stem: sha256(p) for p in copied.glob("*.traineddata")} == PINS
    assert list((tmp_path / "out" / "python").iterdir()) == []  # stopped before the wheels


def test_a_model_that_differs_from_its_pin_fails_the_build(tmp_path, local_models):
    with (local_models / "por.traineddata").open("ab") as fh:
        fh.write(b"\0")
    out = models_only(tmp_path, local_models)
    assert out.returncode == 1
    assert "checksum mismatch for por.traineddata" in out.stderr


def test_a_folder_missing_a_model_fails_the_build_naming_it(tmp_path, local_models):
    (local_models / "osd.traineddata").unlink()
    out = models_only(tmp_path, local_models)
    assert out.returncode == 1
    assert f"no osd.traineddata in {local_models}" in out.stderr
    assert "curl was called" not in out.stderr
