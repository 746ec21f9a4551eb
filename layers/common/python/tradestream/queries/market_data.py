"""Candles newest first, the latest candle, recent trades, and 24h stats per ticker."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradestream.errors import CandleNotFound, ValidationFailed
from tradestream.marketdata import (
    WINDOW_BUCKETS,
    Candle,
    CandleKey,
    Interval,
    TickerStats,
    ticker_stats,
    window_start,
)
from tradestream.money import to_str
from tradestream.orders.model import iso_now
from tradestream.projections.market_data import TapeTrade

MAX_CANDLES = 1000
MAX_TRADES = 1000


class MarketDataReader(ABC):
    @abstractmethod
    def candles(
        self, ticker: str, interval: Interval, *, start: datetime | None, end: datetime | None, limit: int
    ) -> list[Candle]:
        """Newest first, start <= bucketStart < end (either bound optional), at most ``limit``."""

    @abstractmethod
    def candles_at(self, keys: Collection[CandleKey]) -> list[Candle]:
        """The stored candles among ``keys`` (in no particular order): key lookups, not a range."""

    @abstractmethod
    def trades(self, ticker: str, limit: int) -> list[TapeTrade]:
        """The most recent trades, newest first."""

    @abstractmethod
    def tickers(self) -> list[TapeTrade]:
        """The latest trade of every ticker that ever traded."""


def candle_json(candle: Candle) -> dict[str, Any]:
    return {
        "ticker": candle.ticker,
        "interval": candle.interval.value,
        "bucketStart": iso_now(candle.bucket_start),
        "open": to_str(candle.open),
        "high": to_str(candle.high),
        "low": to_str(candle.low),
        "close": to_str(candle.close),
        "volume": to_str(candle.volume),
        "trades": candle.trades,
    }


def trade_json(trade: TapeTrade) -> dict[str, Any]:
    return {
        "tradeId": trade.trade_id,
        "price": to_str(trade.price),
        "quantity": to_str(trade.quantity),
        "takerSide": trade.taker_side.value,
        "executedAt": iso_now(trade.executed_at),
        "seq": trade.seq,
    }


def ticker_json(latest: TapeTrade, stats: TickerStats | None) -> dict[str, Any]:
    """Last price always; the 24h figures are null (volume 0) when the ticker did not trade in the window."""

    def dec(value: Decimal | None) -> str | None:
        return None if value is None else to_str(value)

    return {
        "ticker": latest.ticker,
        "lastPrice": to_str(latest.price),
        "lastTradeAt": iso_now(latest.executed_at),
        "volume24h": to_str(stats.volume) if stats else "0",
        "trades24h": stats.trades if stats else 0,
        "open24h": dec(stats.open_price if stats else None),
        "high24h": dec(stats.high if stats else None),
        "low24h": dec(stats.low if stats else None),
        "change24h": dec(stats.change if stats else None),
        "changePercent24h": dec(stats.change_percent if stats else None),
        "windowStart": iso_now(stats.window_start) if stats else None,
    }


class MarketDataQueries:
    def __init__(self, reader: MarketDataReader, clock: Callable[[], datetime] | None = None) -> None:
        self._reader = reader
        self._clock = clock or (lambda: datetime.now(UTC))

    def candles(
        self, ticker: str, interval: Interval, *, limit: int, start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_CANDLES:
            raise ValidationFailed(f"limit must be between 1 and {MAX_CANDLES}")
        if start is not None and end is not None and start >= end:
            raise ValidationFailed("from must be before to")
        candles = self._reader.candles(ticker, interval, start=start, end=end, limit=limit)
        return [candle_json(candle) for candle in candles]

    def latest_candle(self, ticker: str, interval: Interval) -> dict[str, Any]:
        candles = self._reader.candles(ticker, interval, start=None, end=None, limit=1)
        if not candles:
            raise CandleNotFound(f"no {interval.value} candle for {ticker}")
        return candle_json(candles[0])

    def trades(self, ticker: str, *, limit: int) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_TRADES:
            raise ValidationFailed(f"limit must be between 1 and {MAX_TRADES}")
        return [trade_json(trade) for trade in self._reader.trades(ticker, limit)]

    def tickers(self) -> list[dict[str, Any]]:
        """One Query for the tickers, then their window's hourly candles by key (batched lookups, where a
        Query per ticker would cost one round trip each)."""
        now = self._clock()
        start = window_start(now)
        latest = sorted(self._reader.tickers(), key=lambda trade: trade.ticker)
        buckets = [start + timedelta(hours=i) for i in range(WINDOW_BUCKETS)]
        hourly: defaultdict[str, list[Candle]] = defaultdict(list)
        for candle in self._reader.candles_at([(t.ticker, Interval.H1, b) for t in latest for b in buckets]):
            hourly[candle.ticker].append(candle)
        return [ticker_json(t, ticker_stats(t.ticker, hourly[t.ticker], now=now)) for t in latest]
