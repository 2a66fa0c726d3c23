"""CloudWatch metrics in Embedded Metric Format: JSON lines on stdout that CloudWatch Logs turns into
metrics (namespace POWERTOOLS_METRICS_NAMESPACE, "Angebae" in the template), no API call, no client.

Written by Powertools' EphemeralMetrics (it keeps no state between instances, so concurrent emitters
never mix their sets), imported at the first metric only: 10-30 ms that a cold start never pays.
Every metric has the dimension `service` (the function); some have one more (`code`, `source`).

    JobsStarted         Count    a worker took a job (each attempt)
    JobsSucceeded       Count
    JobsFailed          Count    by code (the job's error_code: bad_pdf, page_too_complex, ...)
    PagesRead           Count    by source (text, ocr, ...): the pages of a succeeded job
    SecondsPerPage      Seconds  by source, one value per page
    CandidatesPerJob    Count    one value per succeeded job
    JobEventsUnpublished Count   by sink (sns, webhook): a job-finished event it did not take
    LoginFailures       Count    POST /admin/login answered 401
    Throttled           Count    by route: an answer 429 (the login's own throttle)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from angebae import logs

log = logging.getLogger("angebae.metrics")
DEFAULT_NAMESPACE = "Angebae"


def emit(
    name: str,
    values: float | Iterable[float],
    unit: str = "Count",
    *,
    service: str | None = None,
    **dimensions: str,
) -> None:
    """One EMF line: `name` with each of `values`, under `service` (by default the function the log
    context names) and the given dimensions. A metric is never worth a failed request or job: a
    problem is logged and the line skipped."""
    service = service or logs.context().get("function") or "angebae"
    values = [values] if isinstance(values, int | float) else list(values)
    if not values:
        return
    try:
        from aws_lambda_powertools.metrics import EphemeralMetrics

        namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)
        metrics = EphemeralMetrics(namespace=namespace, service=service)
        for key, dimension in dimensions.items():
            metrics.add_dimension(name=key, value=str(dimension))
        for value in values:
            metrics.add_metric(name=name, unit=unit, value=float(value))
        metrics.flush_metrics()
    except Exception:
        log.warning("could not write metric %s", name, exc_info=True)


def http_outcome(service: str, route: str | None, status: int) -> None:
    """What an HTTP answer counts for: a failed login, a throttled request."""
    if route == "/admin/login" and status == 401:
        emit("LoginFailures", 1, service=service)
    if status == 429:
        emit("Throttled", 1, service=service, route=route or "unknown")
