"""Component checks for GET /health: each returns status, latency and detail, never raises."""

from __future__ import annotations

import time
from collections.abc import Callable

from .db import Database
from .migrations import current_version
from .settings import Settings


def _timed(check: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        result = {"status": "up", **detail}
    except Exception as exc:  # a health check reports every failure, whatever its kind
        result = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def check_all(db: Database, settings: Settings, *, s3=None, sqs=None) -> dict:
    def database() -> dict:
        with db.transaction() as conn:
            return {"migration_version": current_version(conn)}

    def storage() -> dict:
        s3.head_bucket(Bucket=settings.require("media_bucket"))
        return {"bucket": settings.media_bucket}

    def queue() -> dict:
        attrs = sqs.get_queue_attributes(QueueUrl=settings.require("ocr_queue_url"),
                                         AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return {"messages": int(attrs.get("ApproximateNumberOfMessages", 0))}

    components = {"database": _timed(database), "storage": _timed(storage), "queue": _timed(queue)}
    down = [name for name, c in components.items() if c["status"] != "up"]
    return {"status": "down" if down else "up", "failing": down, "components": components}
