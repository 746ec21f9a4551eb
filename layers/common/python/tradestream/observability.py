"""Logger, tracer and metrics shared by every layer (inner layers import from here, never from handlers)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "tradestream"

# Powertools reads POWERTOOLS_SERVICE_NAME / LOG_LEVEL / METRICS_NAMESPACE from the environment the
# template sets per function; these defaults only matter in tests.
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace="TradeStream")
