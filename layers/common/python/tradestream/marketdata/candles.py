"""OHLCV candles: per-batch deltas per (ticker, interval, bucket), merged under a sequence guard."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, localcontext
from itertools import pairwise

from tradestream.marketdata.errors import CandleMismatch, InvalidTrade
from tradestream.marketdata.intervals import Interval, as_utc, bucket_start
from tradestream.money import canonical

SeqKey = tuple[int, int]
"""(seq, n): the matching log entry and the event's index in it; totally orders a ticker's trades."""

CandleKey = tuple[str, Interval, datetime]
"""(ticker, interval, bucket_start): the identity of one candle."""

# Volumes are exact sums; a wide context keeps the default 28 digits from rounding them (or canonical()).
_EXACT = Context(prec=64)


@dataclass(frozen=True, kw_only=True, slots=True)
class Trade:
    """One execution as the market sees it; ``executed_at`` is kept in UTC."""

    ticker: str
    price: Decimal
    quantity: Decimal
    executed_at: datetime
    seq: int
    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.ticker, str) or not self.ticker:
            raise InvalidTrade(f"ticker must be a non-empty string, got {self.ticker!r}")
        for name in ("price", "quantity"):
            value = getattr(self, name)
            # Floats would smuggle binary noise into prices and volumes.
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise InvalidTrade(f"{name} must be a positive finite Decimal, got {value!r}")
        for name in ("seq", "n"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidTrade(f"{name} must be a non-negative int, got {value!r}")
        if not isinstance(self.executed_at, datetime):
            raise InvalidTrade(f"executed_at must be a datetime, got {self.executed_at!r}")
        object.__setattr__(self, "executed_at", as_utc(self.executed_at))

    @property
    def key(self) -> SeqKey:
        return (self.seq, self.n)


@dataclass(frozen=True, kw_only=True, slots=True)
class Candle:
    """OHLCV of one bucket; ``open_seq``/``close_seq`` are the (seq, n) of its first/last trade.

    ``close_seq`` doubles as the candle's sequence guard: nothing at or before it is merged again.
    """

    ticker: str
    interval: Interval
    bucket_start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int
    open_seq: SeqKey
    close_seq: SeqKey

    @property
    def key(self) -> CandleKey:
        return (self.ticker, self.interval, self.bucket_start)

    @property
    def last_applied(self) -> SeqKey:
        return self.close_seq


@dataclass(frozen=True, kw_only=True, slots=True)
class CandleDelta:
    """The trades of one batch that fall in one candle, sorted by (seq, n) without duplicates.

    It keeps the trades rather than only their OHLCV so that ``merge`` can drop those the stored candle
    has already applied even when a redelivered batch straddles its guard.
    """

    ticker: str
    interval: Interval
    bucket_start: datetime
    trades: tuple[Trade, ...]

    def __post_init__(self) -> None:
        if not self.trades:
            raise InvalidTrade("a candle delta needs at least one trade")
        keys = [trade.key for trade in self.trades]
        if any(a >= b for a, b in pairwise(keys)):
            raise InvalidTrade("delta trades must be strictly increasing by (seq, n)")
        for trade in self.trades:
            if (trade.ticker, bucket_start(trade.executed_at, self.interval)) != (
                self.ticker,
                self.bucket_start,
            ):
                raise CandleMismatch(f"trade {trade.key} does not belong to candle {self.key}")

    @property
    def key(self) -> CandleKey:
        return (self.ticker, self.interval, self.bucket_start)

    @property
    def open_seq(self) -> SeqKey:
        return self.trades[0].key

    @property
    def close_seq(self) -> SeqKey:
        return self.trades[-1].key

    def after(self, guard: SeqKey) -> CandleDelta | None:
        """The part of this delta strictly after ``guard``, or None if nothing is left."""
        fresh = tuple(trade for trade in self.trades if trade.key > guard)
        if not fresh:
            return None
        if len(fresh) == len(self.trades):
            return self
        return CandleDelta(
            ticker=self.ticker, interval=self.interval, bucket_start=self.bucket_start, trades=fresh
        )

    def to_candle(self) -> Candle:
        with localcontext(_EXACT):
            volume = canonical(sum((trade.quantity for trade in self.trades), Decimal(0)))
        prices = [trade.price for trade in self.trades]
        return Candle(
            ticker=self.ticker,
            interval=self.interval,
            bucket_start=self.bucket_start,
            open=prices[0],
            high=max(prices),
            low=min(prices),
            close=prices[-1],
            volume=volume,
            trades=len(self.trades),
            open_seq=self.open_seq,
            close_seq=self.close_seq,
        )


def _unique_in_order(trades: Iterable[Trade]) -> list[Trade]:
    """Trades sorted by (ticker, seq, n); a redelivered copy counts once, a conflicting one is refused."""
    by_key: dict[tuple[str, int, int], Trade] = {}
    for trade in trades:
        seen = by_key.setdefault((trade.ticker, trade.seq, trade.n), trade)
        if seen != trade:
            raise InvalidTrade(f"two different trades for {trade.ticker} (seq, n) = {trade.key}")
    return [by_key[key] for key in sorted(by_key)]


def aggregate(
    trades: Iterable[Trade], intervals: Sequence[Interval] = tuple(Interval)
) -> dict[CandleKey, CandleDelta]:
    """One delta per (ticker, interval, bucket) the batch touches: the adapter writes each candle once."""
    grouped: defaultdict[CandleKey, list[Trade]] = defaultdict(list)
    for trade in _unique_in_order(trades):
        for interval in intervals:
            grouped[(trade.ticker, interval, bucket_start(trade.executed_at, interval))].append(trade)
    return {
        key: CandleDelta(ticker=key[0], interval=key[1], bucket_start=key[2], trades=tuple(batch))
        for key, batch in grouped.items()
    }


def merge(existing: Candle | None, delta: CandleDelta) -> Candle:
    """The stored candle with the delta's trades after its guard (``close_seq``) folded in.

    The guard is applied here, by merge itself: trades at or before ``existing.close_seq`` are ignored,
    so merging a batch twice, or a replay that overlaps what was stored, returns the candle unchanged.
    """
    if existing is None:
        return delta.to_candle()
    if existing.key != delta.key:
        raise CandleMismatch(f"cannot merge {delta.key} into {existing.key}")
    fresh = delta.after(existing.close_seq)
    if fresh is None:
        return existing
    added = fresh.to_candle()
    with localcontext(_EXACT):
        volume = canonical(existing.volume + added.volume)
    # Everything fresh is after close_seq >= open_seq: the open stays, the close moves.
    return Candle(
        ticker=existing.ticker,
        interval=existing.interval,
        bucket_start=existing.bucket_start,
        open=existing.open,
        high=max(existing.high, added.high),
        low=min(existing.low, added.low),
        close=added.close,
        volume=volume,
        trades=existing.trades + added.trades,
        open_seq=existing.open_seq,
        close_seq=added.close_seq,
    )


def latest_trades(trades: Iterable[Trade]) -> dict[str, Trade]:
    """The last trade by (seq, n) of each ticker in the batch: what the latest-trade item should hold."""
    latest: dict[str, Trade] = {}
    for trade in trades:
        current = latest.get(trade.ticker)
        if current is None or trade.key > current.key:
            latest[trade.ticker] = trade
    return latest
