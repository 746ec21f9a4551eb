"""Market data: OHLCV candles per interval, the tape of recent trades and the latest trade per ticker.

Each candle the batch touches is written once: ``aggregate`` gives one delta per (ticker, interval,
bucket), ``merge`` folds it into the stored candle under its guard (the close's (seq, n)), and the
result is stored with a compare-and-set on that guard.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradestream.contracts import MatchingBatchV1, TradeExecutedV1
from tradestream.marketdata import Candle, CandleDelta, CandleKey, Interval, SeqKey, Trade, aggregate, merge
from tradestream.matching import Side
from tradestream.projections.errors import ContradictoryEvents
from tradestream.projections.fanout import each
from tradestream.projections.guard import compare_and_set


@dataclass(frozen=True, kw_only=True, slots=True)
class TapeTrade:
    """A trade as the market sees it: no accounts, the taker's side, its (seq, n) in the ticker's log."""

    trade_id: str
    ticker: str
    price: Decimal
    quantity: Decimal
    taker_side: Side
    executed_at: datetime
    seq: int
    n: int

    @property
    def key(self) -> SeqKey:
        return (self.seq, self.n)

    def to_trade(self) -> Trade:
        return Trade(
            ticker=self.ticker,
            price=self.price,
            quantity=self.quantity,
            executed_at=self.executed_at,
            seq=self.seq,
            n=self.n,
        )

    @classmethod
    def of(cls, event: TradeExecutedV1) -> TapeTrade:
        return cls(
            trade_id=event.trade_id,
            ticker=event.ticker,
            price=event.price,
            quantity=event.quantity,
            taker_side=event.taker_side,
            executed_at=event.executed_at,
            seq=event.seq,
            n=event.n,
        )


class CandleStore(ABC):
    @abstractmethod
    def load(self, key: CandleKey) -> Candle | None: ...

    @abstractmethod
    def save(self, candle: Candle, expected: Candle | None) -> bool:
        """Write only if the stored close (seq, n) is still ``expected``'s (absent when None)."""


class TradeTape(ABC):
    @abstractmethod
    def put(self, trades: Sequence[TapeTrade]) -> None:
        """Write the trades as they are; keys are (ticker, seq, n), so a replay overwrites identically."""


class TickerStore(ABC):
    @abstractmethod
    def apply(self, trade: TapeTrade) -> bool:
        """Make ``trade`` the ticker's latest unless it holds one at or after its (seq, n)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketDataOutcome:
    trades: int
    candles: int
    tickers: int


def tape_trades(entries: Iterable[MatchingBatchV1]) -> list[TapeTrade]:
    """The batch's trades by (ticker, seq, n), once each."""
    trades: dict[tuple[str, int, int], TapeTrade] = {}
    for entry in entries:
        for event in entry.events:
            if isinstance(event, TradeExecutedV1):
                trade = TapeTrade.of(event)
                seen = trades.setdefault((trade.ticker, trade.seq, trade.n), trade)
                if seen != trade:
                    raise ContradictoryEvents(f"two different trades for {trade.ticker} {trade.key}")
    return [trades[key] for key in sorted(trades)]


def latest_by_ticker(trades: Iterable[TapeTrade]) -> dict[str, TapeTrade]:
    latest: dict[str, TapeTrade] = {}
    for trade in trades:
        current = latest.get(trade.ticker)
        if current is None or trade.key > current.key:
            latest[trade.ticker] = trade
    return latest


def apply_candle(store: CandleStore, delta: CandleDelta) -> bool:
    def step(current: Candle | None) -> Candle | None:
        merged = merge(current, delta)
        return None if merged == current else merged

    return (
        compare_and_set(load=lambda: store.load(delta.key), step=step, save=store.save, what=str(delta.key))
        is not None
    )


def project_market_data(
    entries: Sequence[MatchingBatchV1],
    *,
    candles: CandleStore,
    tape: TradeTape,
    tickers: TickerStore,
    intervals: Sequence[Interval] = tuple(Interval),
) -> MarketDataOutcome:
    trades = tape_trades(entries)
    if not trades:
        return MarketDataOutcome(trades=0, candles=0, tickers=0)
    tape.put(trades)
    deltas = aggregate((trade.to_trade() for trade in trades), intervals)
    changed_candles = sum(each(lambda delta: apply_candle(candles, delta), deltas.values()))
    # The latest trade last: a ticker's last price never runs ahead of its candles.
    changed_tickers = sum(each(tickers.apply, latest_by_ticker(trades).values()))
    return MarketDataOutcome(trades=len(trades), candles=changed_candles, tickers=changed_tickers)
