"""Errors of the market-data domain: bad trades or times, unknown intervals, candles merged across buckets."""

from __future__ import annotations

from tradestream.errors import TradeStreamError, ValidationFailed


class InvalidTrade(ValidationFailed):
    code = "INVALID_TRADE"
    title = "Trade is malformed"


class NaiveDatetime(ValidationFailed):
    code = "NAIVE_DATETIME"
    title = "A timestamp must carry a UTC offset"


class InvalidInterval(ValidationFailed):
    code = "INVALID_INTERVAL"
    title = "Unknown candle interval"


class CandleMismatch(TradeStreamError):
    """Merging data of another ticker, interval or bucket: a bug in the caller, never client input."""

    code = "CANDLE_MISMATCH"
    title = "Candle data belongs to another bucket"
