"""24-hour ticker statistics computed from a ticker's hourly candles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from tradestream.marketdata.candles import Candle
from tradestream.marketdata.errors import CandleMismatch
from tradestream.marketdata.intervals import Interval, bucket_start
from tradestream.money import canonical

WINDOW_BUCKETS = 24
PERCENT_PLACES = 2
_PERCENT_QUANTUM = Decimal(1).scaleb(-PERCENT_PLACES)
_EXACT = Context(prec=64, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, kw_only=True, slots=True)
class TickerStats:
    """Last price, volume, range and change over the window; change is against the window's first trade."""

    ticker: str
    window_start: datetime
    last_price: Decimal
    open_price: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    trades: int
    change: Decimal
    change_percent: Decimal


def window_start(now: datetime) -> datetime:
    """First hourly bucket of the window: the 24 buckets ending with the one holding ``now``."""
    return bucket_start(now, Interval.H1) - timedelta(hours=WINDOW_BUCKETS - 1)


def ticker_stats(ticker: str, hourly_candles: Iterable[Candle], *, now: datetime) -> TickerStats | None:
    """Stats over the hourly candles inside the window, or None when the ticker had no trade in it.

    The window is hour-granular (between 23 and 24 hours of trades, the current hour included), because
    an hourly candle cannot be split. ``change_percent`` = change / open x 100, 2 places, half-even.
    """
    start, end = window_start(now), bucket_start(now, Interval.H1)
    candles = []
    for candle in hourly_candles:
        if candle.ticker != ticker or candle.interval is not Interval.H1:
            raise CandleMismatch(f"expected 1h candles of {ticker}, got {candle.key}")
        if start <= candle.bucket_start <= end:
            candles.append(candle)
    if not candles:
        return None
    first = min(candles, key=lambda candle: candle.open_seq)
    last = max(candles, key=lambda candle: candle.close_seq)
    with localcontext(_EXACT):
        change = canonical(last.close - first.open)
        percent = (change / first.open * 100).quantize(_PERCENT_QUANTUM)
        volume = canonical(sum((candle.volume for candle in candles), Decimal(0)))
    return TickerStats(
        ticker=ticker,
        window_start=start,
        last_price=last.close,
        open_price=first.open,
        high=max(candle.high for candle in candles),
        low=min(candle.low for candle in candles),
        volume=volume,
        trades=sum(candle.trades for candle in candles),
        change=change,
        change_percent=percent,
    )
