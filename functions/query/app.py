"""Query routes over the projections: transactions, portfolio, candles, recent trades and ticker stats."""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.journal import DynamoTransactionReader
from tradestream.adapters.dynamodb.market_data import DynamoMarketDataReader
from tradestream.adapters.dynamodb.portfolio import DynamoPortfolioReader
from tradestream.api.caller import caller_of
from tradestream.api.resolver import create_resolver
from tradestream.errors import ValidationFailed
from tradestream.heap import warm_heap
from tradestream.marketdata import Interval
from tradestream.observability import logger
from tradestream.queries.market_data import MAX_CANDLES, MAX_TRADES, MarketDataQueries
from tradestream.queries.portfolio import PortfolioQueries
from tradestream.queries.transactions import PageRequest, TransactionQueries, parse_instant
from tradestream.settings import QueryApiSettings

app = create_resolver()
_TICKER = re.compile(r"^[A-Z0-9.]{1,16}$")


@functools.cache
def settings() -> QueryApiSettings:
    return QueryApiSettings.from_env()


@functools.cache
def transactions() -> TransactionQueries:
    s = settings()
    return TransactionQueries(DynamoTransactionReader(s.transactions_table, s.transaction_counts_table))


@functools.cache
def portfolio() -> PortfolioQueries:
    s = settings()
    return PortfolioQueries(DynamoPortfolioReader(s.positions_table, s.last_prices_table))


@functools.cache
def market_data() -> MarketDataQueries:
    s = settings()
    return MarketDataQueries(DynamoMarketDataReader(s.candles_table, s.trades_table, s.tickers_table))


def _owner(user_id: str) -> str:
    """The 403 rule: user-scoped routes answer only for the token's subject."""
    caller_of(app.current_event.raw_event).ensure_owner(user_id)
    return user_id


def _authenticated() -> None:
    # Market data is not user-scoped, but the routes sit behind the authorizer: fail closed without it.
    caller_of(app.current_event.raw_event)


def _ticker(raw: str) -> str:
    symbol = raw.upper()
    if not _TICKER.match(symbol):
        raise ValidationFailed("ticker must be 1-16 characters of A-Z, 0-9 and '.'")
    return symbol


# --- transactions -----------------------------------------------------------------------------------
Page = Annotated[int, Query(ge=0)]
Size = Annotated[int, Query()]  # clamped to 1..500 by PageRequest, not refused
Sort = Annotated[str, Query(max_length=32)]


@app.get("/api/transactions/<user_id>")
def list_transactions(
    user_id: str, page: Page = 0, size: Size = 50, sort: Sort = "executedAt,desc"
) -> dict[str, Any]:
    owner = _owner(user_id)
    request = PageRequest.of(page=page, size=size, sort=sort)
    return transactions().page(owner, request).to_json()


@app.get("/api/transactions/<user_id>/ticker/<ticker>")
def list_ticker_transactions(
    user_id: str, ticker: str, page: Page = 0, size: Size = 50, sort: Sort = "executedAt,desc"
) -> dict[str, Any]:
    owner = _owner(user_id)
    request = PageRequest.of(page=page, size=size, sort=sort)
    return transactions().page(owner, request, ticker=_ticker(ticker)).to_json()


@app.get("/api/transactions/<user_id>/since")
def list_transactions_since(
    user_id: str,
    iso: Annotated[str, Query(min_length=1, max_length=64)],
    page: Page = 0,
    size: Size = 50,
    sort: Sort = "executedAt,desc",
) -> dict[str, Any]:
    owner = _owner(user_id)
    request = PageRequest.of(page=page, size=size, sort=sort)
    return transactions().page(owner, request, since=parse_instant(iso, name="iso")).to_json()


# --- portfolio --------------------------------------------------------------------------------------
@app.get("/api/portfolio/<user_id>/positions")
def list_positions(user_id: str) -> list[dict[str, Any]]:
    return portfolio().positions(_owner(user_id))


@app.get("/api/portfolio/<user_id>/positions/<ticker>")
def get_position(user_id: str, ticker: str) -> dict[str, Any]:
    return portfolio().position(_owner(user_id), _ticker(ticker))


@app.get("/api/portfolio/<user_id>/summary")
def get_summary(user_id: str) -> dict[str, Any]:
    return portfolio().summary(_owner(user_id))


# --- market data ------------------------------------------------------------------------------------
IntervalParam = Annotated[str, Query(max_length=8)]


@app.get("/api/market-data/candles/<ticker>")
def list_candles(
    ticker: str,
    interval: IntervalParam = "1m",
    limit: Annotated[int, Query(ge=1, le=MAX_CANDLES)] = 100,
    from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    to: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    _authenticated()
    return market_data().candles(
        _ticker(ticker),
        Interval.parse(interval),
        limit=limit,
        start=None if from_ is None else parse_instant(from_, name="from"),
        end=None if to is None else parse_instant(to, name="to"),
    )


@app.get("/api/market-data/candles/<ticker>/latest")
def latest_candle(ticker: str, interval: IntervalParam = "1m") -> dict[str, Any]:
    _authenticated()
    return market_data().latest_candle(_ticker(ticker), Interval.parse(interval))


@app.get("/api/market-data/trades/<ticker>")
def recent_trades(
    ticker: str, limit: Annotated[int, Query(ge=1, le=MAX_TRADES)] = 50
) -> list[dict[str, Any]]:
    _authenticated()
    return market_data().trades(_ticker(ticker), limit=limit)


@app.get("/api/market-data/tickers")
def list_tickers() -> list[dict[str, Any]]:
    _authenticated()
    return market_data().tickers()


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
