"""Pure market-data projection: UTC buckets, OHLCV candles merged under a sequence guard, 24h ticker stats."""

from tradestream.marketdata.candles import (
    Candle,
    CandleDelta,
    CandleKey,
    SeqKey,
    Trade,
    aggregate,
    latest_trades,
    merge,
)
from tradestream.marketdata.errors import CandleMismatch, InvalidInterval, InvalidTrade, NaiveDatetime
from tradestream.marketdata.intervals import EPOCH, Interval, as_utc, bucket_start
from tradestream.marketdata.stats import (
    PERCENT_PLACES,
    WINDOW_BUCKETS,
    TickerStats,
    ticker_stats,
    window_start,
)

__all__ = [
    "EPOCH",
    "PERCENT_PLACES",
    "WINDOW_BUCKETS",
    "Candle",
    "CandleDelta",
    "CandleKey",
    "CandleMismatch",
    "Interval",
    "InvalidInterval",
    "InvalidTrade",
    "NaiveDatetime",
    "SeqKey",
    "TickerStats",
    "Trade",
    "aggregate",
    "as_utc",
    "bucket_start",
    "latest_trades",
    "merge",
    "ticker_stats",
    "window_start",
]
