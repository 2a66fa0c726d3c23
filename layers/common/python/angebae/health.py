"""Component checks for GET /health: each returns status, latency and detail, never raises.

/health needs no session, so its body carries no names (the bucket's holds the AWS account id) and
no error text (hosts, endpoints, users): a failure shows its exception type; the log has the rest.
The bucket and the queue are reached through their wrappers (`Storage`, `Queue`), so a failure is
StorageUnavailable or QueueUnavailable, as the worker and the API see it.
It also says which OCR languages a job may ask for (`ocr_languages`): names only, never a path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from angebae.db import Database
from angebae.migrations import current_version
from angebae.queue import Queue
from angebae.settings import Settings
from angebae.storage import Storage

log = logging.getLogger(__name__)


def _timed(name: str, check: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        result = {"status": "up", **detail}
    except Exception as exc:  # a health check reports every failure, whatever its kind
        log.warning("health check %s failed: %s: %s", name, type(exc).__name__, exc)
        result = {"status": "down", "error": type(exc).__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def check_all(db: Database, settings: Settings, *, s3=None, sqs=None) -> dict:
    def database() -> dict:
        with db.transaction() as conn:
            return {"migration_version": current_version(conn)}

    def storage() -> dict:
        Storage(s3, settings.require("media_bucket")).check_bucket()
        return {}

    def queue() -> dict:
        return {"messages": Queue(sqs, settings.require("ocr_queue_url")).depth()}

    components = {
        name: _timed(name, check)
        for name, check in (("database", database), ("storage", storage), ("queue", queue))
    }
    down = [name for name, c in components.items() if c["status"] != "up"]
    return {
        "status": "down" if down else "up",
        "failing": down,
        "components": components,
        "ocr_languages": ocr_languages(settings),
    }


def ocr_languages(settings: Settings) -> dict:
    """The languages a job gets unless it asks (`default`, "spa+eng") and the Tesseract languages
    installed where this function runs (`installed`, sorted): None where there is no tessdata, as in
    an API function deployed without the OCR layer, whose worker then checks a job's languages.

    A directory listing, no OCR library: cheap enough for every request, and never an error."""
    from angebae.jobs.api import installed_languages

    try:
        installed = installed_languages()
    except OSError as exc:  # an unreadable tessdata folder is no reason for /health to fail
        log.warning("could not list the OCR languages: %s: %s", type(exc).__name__, exc)
        installed = None
    return {"default": settings.ocr_languages, "installed": None if installed is None else sorted(installed)}
