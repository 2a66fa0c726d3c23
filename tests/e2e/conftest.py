"""`angebae local` as a user runs it, shared by the e2e tests: one stack per session, in a subprocess,
with a fresh database on the local PostgreSQL; the OCR worker runs when Tesseract is installed."""

from __future__ import annotations

import shutil

import pytest
from e2e_support import RunningStack, fresh_database, start_stack, stop_stack


@pytest.fixture(scope="session")
def local_stack():
    with fresh_database() as database_url:
        stack = start_stack(database_url, worker=shutil.which("tesseract") is not None)
        yield stack
        stop_stack(stack)


@pytest.fixture
def api(local_stack) -> str:
    return local_stack.url


@pytest.fixture
def worker_stack(local_stack) -> RunningStack:
    if not local_stack.worker:
        pytest.skip("tesseract is not installed: the stack runs without its OCR worker")
    return local_stack
