"""Portfolio projection: positions per (user, ticker) with weighted-average cost, and last prices."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.portfolio import DynamoLastPriceStore, DynamoPositionStore
from tradestream.adapters.sqs import SqsDeadLetters
from tradestream.contracts import MatchingBatchV1
from tradestream.heap import warm_heap
from tradestream.observability import logger
from tradestream.projections.portfolio import project_portfolio
from tradestream.projections.runner import run_projection
from tradestream.settings import PortfolioSettings


@functools.cache
def settings() -> PortfolioSettings:
    return PortfolioSettings.from_env()


@functools.cache
def positions() -> DynamoPositionStore:
    # Cached per container: its positions cache saves a read per position per batch while warm.
    return DynamoPositionStore(settings().positions_table)


@functools.cache
def prices() -> DynamoLastPriceStore:
    return DynamoLastPriceStore(settings().last_prices_table)


def apply(entries: list[MatchingBatchV1]) -> None:
    outcome = project_portfolio(entries, positions=positions(), prices=prices())
    logger.debug(
        "positions written",
        extra={"entries": len(entries), "positions": outcome.positions, "prices": outcome.prices},
    )


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_projection(event, context, apply=apply, dead_letters=SqsDeadLetters(settings().dlq_url))
