"""Logger, tracer and metrics shared by every layer (inner layers import from here, never from handlers)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics, Tracer

# Each function names itself with POWERTOOLS_SERVICE_NAME in the template (auth, orders, matching,
# ...); passing a fixed name here would override it. The fallback only matters in tests and scripts.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "tradestream"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TradeStream")


def _joined(ids: Iterable[str | None]) -> str | None:
    unique = sorted({i for i in ids if i})
    return ",".join(unique[:20]) or None


def correlate(ids: Iterable[str | None]) -> None:
    """Carry the X-Request-Ids of the requests behind a batch into every log line it writes."""
    logger.set_correlation_id(_joined(ids))


@contextmanager
def correlated(ids: Iterable[str | None]) -> Iterator[None]:
    """correlate() for work on a pool thread: only this thread's log lines carry the ids, until the end."""
    logger.thread_safe_append_keys(correlation_id=_joined(ids))
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
