"""Market-data projection: OHLCV candles for every interval, the trade tape, the latest trade per ticker."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.market_data import DynamoCandleStore, DynamoTickerStore, DynamoTradeTape
from tradestream.adapters.sqs import SqsDeadLetters
from tradestream.contracts import MatchingBatchV1
from tradestream.heap import warm_heap
from tradestream.observability import logger
from tradestream.projections.market_data import project_market_data
from tradestream.projections.runner import run_projection
from tradestream.settings import MarketDataSettings


@functools.cache
def settings() -> MarketDataSettings:
    return MarketDataSettings.from_env()


@functools.cache
def candles() -> DynamoCandleStore:
    # Cached per container: its candle cache saves a read per candle per batch while warm.
    return DynamoCandleStore(settings().candles_table)


@functools.cache
def tape() -> DynamoTradeTape:
    s = settings()
    return DynamoTradeTape(s.trades_table, retention=timedelta(days=s.trades_retention_days))


@functools.cache
def tickers() -> DynamoTickerStore:
    return DynamoTickerStore(settings().tickers_table)


def apply(entries: list[MatchingBatchV1]) -> None:
    outcome = project_market_data(entries, candles=candles(), tape=tape(), tickers=tickers())
    logger.debug(
        "market data written",
        extra={
            "entries": len(entries),
            "trades": outcome.trades,
            "candles": outcome.candles,
            "tickers": outcome.tickers,
        },
    )


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_projection(event, context, apply=apply, dead_letters=SqsDeadLetters(settings().dlq_url))
