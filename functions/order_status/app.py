"""Order-status projection: folds order.updated.v1 into the orders table, guarded by (seq, n)."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.orders import DynamoOrderStatusStore
from tradestream.adapters.sqs import SqsDeadLetters
from tradestream.contracts import MatchingBatchV1
from tradestream.heap import warm_heap
from tradestream.observability import logger
from tradestream.projections.order_status import project_order_status
from tradestream.projections.runner import run_projection
from tradestream.settings import OrderStatusSettings


@functools.cache
def settings() -> OrderStatusSettings:
    return OrderStatusSettings.from_env()


@functools.cache
def store() -> DynamoOrderStatusStore:
    return DynamoOrderStatusStore(settings().orders_table)


def apply(entries: list[MatchingBatchV1]) -> None:
    changed = project_order_status(entries, store())
    logger.debug("orders updated", extra={"entries": len(entries), "changed": changed})


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_projection(event, context, apply=apply, dead_letters=SqsDeadLetters(settings().dlq_url))
