"""`Type: Schedule` events: a timer that invokes the function at the template's rate, as EventBridge
does, with EventBridge's scheduled event (or the event's Input)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .runner import InvokeResult
from .template import ACCOUNT_ID, ScheduleSource

log = logging.getLogger("angebae.local.schedule")


def scheduled_event(source: ScheduleSource, region: str) -> Any:
    if source.input is not None:
        return json.loads(source.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{source.function}-{source.event}"],
        "detail": {},
    }


class ScheduleTimer:
    """Invokes every `seconds` (the template's rate unless overridden), the first time after one."""

    def __init__(
        self,
        source: ScheduleSource,
        invoke: Callable[[Any], InvokeResult],
        *,
        region: str = "us-east-1",
        seconds: float | None = None,
        name: str = "schedule",
    ) -> None:
        self.source, self.invoke, self.region, self.name = source, invoke, region, name
        self.seconds = seconds or source.seconds
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ScheduleTimer:
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                outcome = self.invoke(scheduled_event(self.source, self.region))
            except Exception:  # a function that cannot start must not end the schedule
                log.exception("%s: the scheduled invocation failed", self.name)
                continue
            self.runs += 1
            if not outcome.ok:  # EventBridge retries; the next tick does the same here
                log.warning(
                    "%s: the scheduled invocation failed (%s)",
                    self.name,
                    (outcome.error or {}).get("errorMessage"),
                )
