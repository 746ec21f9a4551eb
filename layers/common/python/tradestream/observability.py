"""Logger, tracer and metrics shared by every layer (inner layers import from here, never from handlers)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from aws_lambda_powertools import Logger, Metrics, Tracer

# Each function names itself with POWERTOOLS_SERVICE_NAME in the template (auth, orders, matching,
# ...); passing a fixed name here would override it. The fallback only matters in tests and scripts.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "tradestream"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TradeStream")


def correlate(ids: Iterable[str | None]) -> None:
    """Carry the X-Request-Ids of the requests behind a batch into every log line it writes."""
    unique = sorted({i for i in ids if i})
    logger.set_correlation_id(",".join(unique[:20]) or None)
