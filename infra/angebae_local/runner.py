"""Each function in its own Python process, with exactly the environment the template gives it."""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .template import Function

_CHILD = Path(__file__).with_name("_child.py")
_BOOT = f"import runpy; runpy.run_path({str(_CHILD)!r}, run_name='__main__')"
# What the Lambda runtime provides besides the function's own variables.
_PASS_THROUGH = ("PATH", "LANG", "TESSDATA_PREFIX")


@dataclass
class InvokeResult:
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    kind: str = "ok"  # ok | error (the handler raised) | crash | timeout

    def as_json(self) -> Any:
        return self.result if self.ok else self.error


def function_environment(fn: Function, variables: dict[str, str], aws: dict[str, str]) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
    env.update(variables)
    env.update(aws)  # AWS_ENDPOINT_URL, dummy credentials, region
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(fn.code_uri), *map(str, fn.layer_paths)]),
            "PYTHONUNBUFFERED": "1",
            "TZ": "UTC",
            "LAMBDA_TASK_ROOT": str(fn.code_uri),
            "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "_HANDLER": fn.handler,
        }
    )
    return env


class FunctionProcess:
    """One process, one invocation at a time; killed and replaced on crash or timeout.

    Each runs in its own session, like a Lambda sandbox: on a crash or timeout the whole process group
    goes (the OCR worker forks helpers, which would otherwise live on holding the reply pipe open).
    """

    _ids = itertools.count(1)

    def __init__(self, fn: Function, env: dict[str, str], log_stream: IO[str], label: str) -> None:
        self.fn, self.env, self.log_stream, self.label = fn, env, log_stream, label
        self._proc: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[dict | None] = queue.Queue()

    def _start(self) -> None:
        self._replies = queue.Queue()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.fn.code_uri,
            text=True,
            encoding="utf-8",
            start_new_session=True,
        )
        threading.Thread(target=self._read_replies, args=(self._proc, self._replies), daemon=True).start()
        threading.Thread(target=self._pass_logs, args=(self._proc,), daemon=True).start()

    def _read_replies(self, proc: subprocess.Popen[str], replies: queue.Queue) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            replies.put(json.loads(line))
        replies.put(None)  # end of stream: the process died

    def _pass_logs(self, proc: subprocess.Popen[str]) -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            self.log_stream.write(f"[{self.label}] {line.rstrip()}\n")
            self.log_stream.flush()

    def invoke(self, event: Any, timeout: float | None = None) -> InvokeResult:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        timeout = timeout or self.fn.timeout
        rid = next(self._ids)
        request = {"id": rid, "event": event, "deadline_ms": int((time.time() + timeout) * 1000)}
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
            self._proc.stdin.flush()  # type: ignore[union-attr]
            reply = self._wait_reply(time.monotonic() + timeout)
        except queue.Empty:
            self.kill()
            error = _err("Task.TimedOut", f"timed out after {timeout:g} s")
            return InvokeResult(False, error=error, kind="timeout")
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            code = self._proc.wait() if self._proc else None
            self.kill()
            error = _err("Runtime.ExitError", f"process exited ({code})")
            return InvokeResult(False, error=error, kind="crash")
        if reply["ok"]:
            return InvokeResult(True, result=reply["result"])
        return InvokeResult(False, error=reply["error"], kind="error")

    def _wait_reply(self, deadline: float) -> dict | None:
        """The reply, None when the process died (its forked children may keep the pipe open)."""
        while True:
            try:
                return self._replies.get(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                if self._proc is None or self._proc.poll() is not None:
                    try:
                        return self._replies.get_nowait()  # a reply written just before it ended
                    except queue.Empty:
                        return None
                if time.monotonic() >= deadline:
                    raise

    def kill(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)  # its own session: the process and its children
            except ProcessLookupError:
                pass
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.stdin.close()  # type: ignore[union-attr]
            try:
                self._proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.kill()
        self._proc = None


def _err(kind: str, message: str) -> dict[str, Any]:
    return {"errorType": kind, "errorMessage": message}


class FunctionPool:
    """Up to `size` warm processes for one function, started on demand (like Lambda's concurrency)."""

    def __init__(self, fn: Function, env: dict[str, str], log_stream: IO[str] | None = None, size: int = 1):
        self.fn = fn
        self._idle: queue.LifoQueue[FunctionProcess] = queue.LifoQueue()
        self._all: list[FunctionProcess] = []
        self._lock = threading.Lock()
        self._size, self._env = size, env
        self._log_stream = log_stream or sys.stderr

    def _acquire(self) -> FunctionProcess:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < self._size:
                label = self.fn.short_name
                if self._size > 1:
                    label += f"#{len(self._all) + 1}"
                proc = FunctionProcess(self.fn, self._env, self._log_stream, label)
                self._all.append(proc)
                return proc
        return self._idle.get()

    def invoke(self, event: Any, timeout: float | None = None) -> InvokeResult:
        proc = self._acquire()
        try:
            return proc.invoke(event, timeout)
        finally:
            self._idle.put(proc)

    def close(self) -> None:
        for proc in self._all:
            proc.close()
