"""`angebae local` as a user runs it, shared by the e2e tests: one stack per session and engine, in a
subprocess, with a fresh database on the local PostgreSQL; the OCR worker runs when Tesseract is
installed.

Tests that take `any_api` / `any_worker_stack` (or `engine`) run on both engines: the embedded stack
and MiniStack (`angebae local --engine ministack`: the template deployed with the SAM CLI). The
MiniStack leg needs Python 3.12; ANGEBAE_E2E_MINISTACK says how much of it runs:
  smoke (default, CI)  the tests marked ministack_smoke; the others are skipped, naming the target
  full                 every engine-parametrised test (`make test-ministack`)
  off                  none
"""

from __future__ import annotations

import shutil

import pytest
from e2e_support import (
    RunningStack,
    fresh_database,
    ministack_mode,
    ministack_unavailable,
    start_stack,
    stop_stack,
)

ENGINES = ("embedded", "ministack")
_leg: dict[str, object] = {"ran": 0, "skipped": None}


def pytest_collection_modifyitems(config, items):
    mode = ministack_mode()
    why = ministack_unavailable()
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("engine") != "ministack":
            continue
        item.add_marker(pytest.mark.ministack)
        # the session's first MiniStack test also waits for its venvs, build and deployment
        item.add_marker(pytest.mark.timeout(900))
        if why:
            _leg["skipped"] = why
            item.add_marker(pytest.mark.skip(reason=f"MiniStack e2e leg skipped: {why}"))
        elif mode == "smoke" and item.get_closest_marker("ministack_smoke") is None:
            item.add_marker(
                pytest.mark.skip(
                    reason="MiniStack full leg only (make test-ministack); CI runs its smoke subset"
                )
            )


def pytest_runtest_logreport(report):
    if report.when == "call" and "ministack" in report.keywords and not report.skipped:
        _leg["ran"] = int(_leg["ran"]) + 1


def pytest_terminal_summary(terminalreporter):
    if _leg["skipped"]:
        terminalreporter.write_line(f"MiniStack e2e leg: SKIPPED: {_leg['skipped']}", yellow=True)
    elif _leg["ran"]:
        terminalreporter.write_line(
            f"MiniStack e2e leg: {_leg['ran']} test(s) ran "
            f"({ministack_mode()}; ANGEBAE_E2E_MINISTACK=full runs them all)"
        )


def _worker() -> bool:
    return shutil.which("tesseract") is not None


@pytest.fixture(scope="session")
def local_stack():
    with fresh_database() as database_url:
        stack = start_stack(database_url, worker=_worker())
        yield stack
        stop_stack(stack)


@pytest.fixture(scope="session")
def ministack_stack():
    why = ministack_unavailable()
    if why:
        pytest.skip(f"MiniStack e2e leg skipped: {why}")
    with fresh_database() as database_url:
        stack = start_stack(database_url, worker=_worker(), engine="ministack")
        yield stack
        stop_stack(stack)


@pytest.fixture(scope="session", params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def any_stack(request, engine) -> RunningStack:
    """The session's stack of this test's engine."""
    return request.getfixturevalue("local_stack" if engine == "embedded" else "ministack_stack")


@pytest.fixture
def api(local_stack) -> str:
    return local_stack.url


@pytest.fixture
def any_api(any_stack) -> str:
    return any_stack.url


@pytest.fixture
def worker_stack(local_stack) -> RunningStack:
    if not local_stack.worker:
        pytest.skip("tesseract is not installed: the stack runs without its OCR worker")
    return local_stack


@pytest.fixture
def any_worker_stack(any_stack) -> RunningStack:
    if not any_stack.worker:
        pytest.skip("tesseract is not installed: the stack runs without its OCR worker")
    return any_stack
