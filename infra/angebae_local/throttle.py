"""API Gateway's throttling, as the embedded stack applies it: a token bucket per method.

The stage's MethodSettings give each method a burst (the bucket's size) and a rate (tokens added per
second); a request takes one token or is answered 429 before any function runs. A method takes the
most specific setting: its own (`/admin/login` POST), its path's (`*` method), the stage's method
(`/*` path), else the stage's `/*` `*` default. Every method has a bucket of its own, as on API
Gateway, whose limits are per method and across all clients.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    burst: int
    rate: float  # tokens per second


class TokenBucket:
    def __init__(self, limit: Limit, clock: Callable[[], float]) -> None:
        self.limit, self.clock = limit, clock
        self.tokens, self.updated = float(limit.burst), clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.limit.burst, self.tokens + (now - self.updated) * self.limit.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class Throttle:
    def __init__(
        self, limits: dict[tuple[str, str], Limit], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits, self.clock = limits, clock
        self.buckets: dict[tuple[str, str], TokenBucket | None] = {}
        self.lock = threading.Lock()

    def limit_of(self, path: str, method: str) -> Limit | None:
        for key in ((path, method), (path, "*"), ("/*", method), ("/*", "*")):
            if key in self.limits:
                return self.limits[key]
        return None

    def allow(self, path: str, method: str) -> bool:
        with self.lock:
            if (path, method) not in self.buckets:
                limit = self.limit_of(path, method)
                self.buckets[(path, method)] = TokenBucket(limit, self.clock) if limit else None
            bucket = self.buckets[(path, method)]
        return bucket is None or bucket.take()
