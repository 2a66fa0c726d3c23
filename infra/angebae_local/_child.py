"""Runs inside a function's own process: imports its handler once, then serves invocations.

Protocol: one JSON line in on stdin ({"id", "event", "deadline_ms"}), one JSON line out on the
original stdout ({"id", "ok", "result"} or {"id", "ok": false, "error": {...}}). The function's own
stdout and stderr both go to stderr, which the parent prefixes and passes through as logs.
Only the standard library is imported here: the function's imports are its own.
"""

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any


class LambdaContext:
    def __init__(self, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException, kind: str | None = None) -> dict:
    return {
        "errorType": kind or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def main() -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # print() in a function becomes a log line, never protocol
    sys.stdout = sys.stderr
    module_name, _, attr = os.environ["_HANDLER"].rpartition(".")
    handler: Callable[[Any, Any], Any] | None = None
    init_error: dict | None = None
    try:
        handler = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:  # reported on each invocation, as Lambda does
        init_error = _error(exc, "Runtime.ImportModuleError")
        traceback.print_exc()
    for line in sys.stdin:
        request = json.loads(line)
        reply = {"id": request["id"], "ok": False}
        if init_error:
            reply["error"] = init_error
        else:
            try:
                assert handler is not None  # imported, or init_error says why not
                result = handler(request["event"], LambdaContext(request["deadline_ms"]))
                reply = {"id": request["id"], "ok": True, "result": json.loads(json.dumps(result))}
            except Exception as exc:  # the function failed: Lambda reports it, the process lives on
                traceback.print_exc()
                reply["error"] = _error(exc)
        sys.stderr.flush()
        out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
