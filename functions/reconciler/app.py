"""Scheduled: re-sends orders that were stored but never reached their ticker's lane."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.orders import DynamoPendingOrders
from tradestream.adapters.sqs import SqsLane
from tradestream.heap import warm_heap
from tradestream.observability import logger
from tradestream.orders.reconciler import reconcile
from tradestream.settings import ReconcilerSettings


@functools.cache
def settings() -> ReconcilerSettings:
    return ReconcilerSettings.from_env()


@functools.cache
def parts() -> tuple[DynamoPendingOrders, SqsLane]:
    s = settings()
    return DynamoPendingOrders(s.orders_table), SqsLane(s.lane_queue_url)


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    pending, lane = parts()
    grace = timedelta(seconds=settings().reconcile_after_seconds)
    return {"resent": reconcile(pending, lane, now=datetime.now(UTC), grace=grace)}
