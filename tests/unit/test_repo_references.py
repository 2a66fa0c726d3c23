"""The project names only files it contains, and no machine's absolute paths (issue 10).

A Markdown file named in a tracked file (a comment, a docstring, the README) must exist, relative to
the project root or to the naming file, or be one of the shared documents beside the project
(`../shared/RELIABILITY.md`: the project's brief, not shipped with it); the samples are found from
the project root (`../shared/samples`, or ANGEBAE_SAMPLES), never at an absolute path of one machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MD_NAME = re.compile(r"(?<![\w./-])((?:\.\./|[\w-]+/)*[\w-]+\.md)\b")
THIS = Path(__file__).resolve()
# Named but not ours: the licence files of the repositories tests/fixtures/real/ copied documents from.
ELSEWHERE = {"LICENSE.md"}

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason="needs the git checkout (the tracked files)",
)


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    out = []
    for name in filter(None, names.decode().split("\0")):
        path = ROOT / name
        if path.suffix in {".py", ".md", ".toml", ".yml", ".yaml", ".sh", ".cfg"} or path.name == "Makefile":
            if path.is_file() and path.resolve() != THIS:
                out.append(path)
    return out


def test_every_markdown_file_named_exists():
    missing = []
    for path in tracked_text_files():
        for name in set(MD_NAME.findall(path.read_text(errors="replace"))):
            if name in ELSEWHERE or name.startswith("../shared/"):
                continue
            if not any((base / name).exists() for base in (ROOT, path.parent)):
                missing.append(f"{path.relative_to(ROOT)} names {name}")
    assert missing == []


def test_no_tracked_file_names_an_absolute_work_path():
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in tracked_text_files()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if "/work/" in line
    ]
    assert hits == []


def test_the_samples_default_to_the_shared_folder_beside_the_project(monkeypatch):
    import importlib

    import fixtures_docs

    monkeypatch.delenv("ANGEBAE_SAMPLES", raising=False)
    docs = importlib.reload(fixtures_docs)
    try:
        assert docs.SAMPLES == ROOT.parent / "shared" / "samples"
        assert str(docs.SAMPLES) in docs.SAMPLES_MISSING and "ANGEBAE_SAMPLES" in docs.SAMPLES_MISSING
    finally:
        monkeypatch.undo()
        importlib.reload(fixtures_docs)
