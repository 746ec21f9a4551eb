"""In-memory stores of the projection ports, with DynamoDB's conditional-write semantics, and a feed of
real matching output (orders run through ``TickerLane``) to drive them.

Every store counts its successful writes in ``writes`` so tests can assert "one write per item per batch"
and "a replay writes nothing". ``interfere`` lets a test move an item between a load and its save, as a
second writer would, to exercise the compare-and-set retry.
"""

from __future__ import annotations

import base64
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradestream.contracts import MatchingBatchV1, OrderCancelRequestedV1, OrderPlacedV1
from tradestream.lane.state import TickerLane
from tradestream.marketdata import Candle, CandleKey, Interval
from tradestream.matching import OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.projections.journal import CounterKey, TransactionRow, TransactionStore
from tradestream.projections.market_data import CandleStore, TapeTrade, TickerStore, TradeTape
from tradestream.projections.portfolio import LastPrice, LastPriceStore, PositionStore, StoredPosition
from tradestream.queries.market_data import MarketDataReader
from tradestream.queries.portfolio import PortfolioReader
from tradestream.queries.transactions import TransactionReader

Interference = Callable[[], None]


class InMemoryTransactionStore(TransactionStore):
    def __init__(self) -> None:
        self.items: dict[str, TransactionRow] = {}
        self.counters: dict[CounterKey, tuple[int, int]] = {}  # (count, guard key)
        self.writes: Counter[str] = Counter()

    # --- TransactionStore -----------------------------------------------------------------------------
    def put_rows(self, rows: Sequence[TransactionRow]) -> None:
        for row in rows:
            self.items[row.id] = row
        self.writes["rows"] += len(rows)

    def count(self, counter: CounterKey, keys: Sequence[int]) -> int:
        assert list(keys) == sorted(keys), "keys must come sorted"
        count, guard = self.counters.get(counter, (0, -1))
        fresh = [key for key in keys if key > guard]
        if not fresh:
            return 0
        self.counters[counter] = (count + len(fresh), fresh[-1])
        self.writes["counters"] += 1
        return len(fresh)

    # --- what the reader answers from -----------------------------------------------------------------
    def total(self, user_id: str, ticker: str | None) -> int:
        return sum(
            count
            for key, (count, _) in self.counters.items()
            if key.user_id == user_id and key.day is None and (ticker is None or key.ticker == ticker)
        )

    def count_days(self, user_id: str, first_day: date) -> int:
        return sum(
            count
            for key, (count, _) in self.counters.items()
            if key.user_id == user_id and key.day is not None and key.day >= first_day
        )

    def count_between(self, user_id: str, start: datetime, end: datetime) -> int:
        self.writes["counted_on_read"] += 1
        return sum(
            1 for row in self.items.values() if row.user_id == user_id and start <= row.executed_at < end
        )

    def rows_of(self, user_id: str) -> list[TransactionRow]:
        return sorted(
            (row for row in self.items.values() if row.user_id == user_id),
            key=lambda r: (r.executed_at, r.ticker, r.seq, r.n, r.side.value),
        )

    def page(
        self,
        user_id: str,
        *,
        ticker: str | None,
        since: datetime | None,
        ascending: bool,
        offset: int,
        limit: int,
    ) -> list[TransactionRow]:
        self.writes["pages_read"] += 1
        rows = [
            row
            for row in self.rows_of(user_id)
            if (ticker is None or row.ticker == ticker) and (since is None or row.executed_at >= since)
        ]
        if not ascending:
            rows.reverse()
        return rows[offset : offset + limit]


# TransactionStore.count (a guarded increment) and TransactionReader.count (a total) share a name, so the
# reader is a second object over the same store: both stay type-checked against their own port.
class InMemoryTransactionReader(TransactionReader):
    def __init__(self, store: InMemoryTransactionStore) -> None:
        self.store = store

    def count(self, user_id: str, ticker: str | None) -> int:
        return self.store.total(user_id, ticker)

    def count_days(self, user_id: str, first_day: date) -> int:
        return self.store.count_days(user_id, first_day)

    def count_between(self, user_id: str, start: datetime, end: datetime) -> int:
        return self.store.count_between(user_id, start, end)

    def rows(
        self,
        user_id: str,
        *,
        ticker: str | None,
        since: datetime | None,
        ascending: bool,
        offset: int,
        limit: int,
    ) -> list[TransactionRow]:
        return self.store.page(
            user_id, ticker=ticker, since=since, ascending=ascending, offset=offset, limit=limit
        )


class InMemoryPositionStore(PositionStore, PortfolioReader):
    def __init__(self, prices: InMemoryLastPriceStore | None = None) -> None:
        self.items: dict[tuple[str, str], StoredPosition] = {}
        self.prices = prices or InMemoryLastPriceStore()
        self.writes: Counter[tuple[str, str]] = Counter()
        self.loads = 0
        self.interfere: Interference | None = None

    def load(self, user_id: str, ticker: str) -> StoredPosition | None:
        self.loads += 1
        return self.items.get((user_id, ticker))

    def save(self, new: StoredPosition, expected: StoredPosition | None) -> bool:
        if self.interfere is not None:
            self.interfere()
        key = (new.user_id, new.ticker)
        stored = self.items.get(key)
        stored_guard = None if stored is None else stored.position.last_applied
        expected_guard = None if expected is None else expected.position.last_applied
        if stored_guard != expected_guard:
            return False
        self.items[key] = new
        self.writes[key] += 1
        return True

    # --- PortfolioReader ------------------------------------------------------------------------------
    def positions(self, user_id: str) -> list[StoredPosition]:
        return [p for (user, _), p in sorted(self.items.items()) if user == user_id]

    def position(self, user_id: str, ticker: str) -> StoredPosition | None:
        return self.items.get((user_id, ticker))

    def last_prices(self, tickers: Collection[str]) -> dict[str, Decimal]:
        return {t: self.prices.items[t].price for t in tickers if t in self.prices.items}


class InMemoryLastPriceStore(LastPriceStore):
    def __init__(self) -> None:
        self.items: dict[str, LastPrice] = {}
        self.writes: Counter[str] = Counter()

    def apply(self, price: LastPrice) -> bool:
        stored = self.items.get(price.ticker)
        if stored is not None and stored.key >= price.key:
            return False
        self.items[price.ticker] = price
        self.writes[price.ticker] += 1
        return True


class InMemoryCandleStore(CandleStore):
    def __init__(self) -> None:
        self.items: dict[CandleKey, Candle] = {}
        self.writes: Counter[CandleKey] = Counter()
        self.interfere: Interference | None = None

    def load(self, key: CandleKey) -> Candle | None:
        return self.items.get(key)

    def save(self, candle: Candle, expected: Candle | None) -> bool:
        if self.interfere is not None:
            self.interfere()
        stored = self.items.get(candle.key)
        if (None if stored is None else stored.close_seq) != (
            None if expected is None else expected.close_seq
        ):
            return False
        self.items[candle.key] = candle
        self.writes[candle.key] += 1
        return True


class InMemoryTradeTape(TradeTape):
    def __init__(self) -> None:
        self.items: dict[tuple[str, int, int], TapeTrade] = {}
        self.writes = 0

    def put(self, trades: Sequence[TapeTrade]) -> None:
        for trade in trades:
            self.items[(trade.ticker, trade.seq, trade.n)] = trade
        self.writes += len(trades)


class InMemoryTickerStore(TickerStore):
    def __init__(self) -> None:
        self.items: dict[str, TapeTrade] = {}
        self.writes: Counter[str] = Counter()

    def apply(self, trade: TapeTrade) -> bool:
        stored = self.items.get(trade.ticker)
        if stored is not None and stored.key >= trade.key:
            return False
        self.items[trade.ticker] = trade
        self.writes[trade.ticker] += 1
        return True


class InMemoryMarketDataReader(MarketDataReader):
    def __init__(self, candles: InMemoryCandleStore, tape: InMemoryTradeTape, tickers: InMemoryTickerStore):
        self._candles, self._tape, self._tickers = candles, tape, tickers

    def candles(
        self, ticker: str, interval: Interval, *, start: datetime | None, end: datetime | None, limit: int
    ) -> list[Candle]:
        chosen = [
            c
            for (t, i, bucket), c in self._candles.items.items()
            if t == ticker
            and i is interval
            and (start is None or bucket >= start)
            and (end is None or bucket < end)
        ]
        return sorted(chosen, key=lambda c: c.bucket_start, reverse=True)[:limit]

    def candles_at(self, keys: Collection[CandleKey]) -> list[Candle]:
        return [self._candles.items[key] for key in set(keys) if key in self._candles.items]

    def trades(self, ticker: str, limit: int) -> list[TapeTrade]:
        trades = [t for t in self._tape.items.values() if t.ticker == ticker]
        return sorted(trades, key=lambda t: t.key, reverse=True)[:limit]

    def tickers(self) -> list[TapeTrade]:
        return list(self._tickers.items.values())


# --- real matching output -------------------------------------------------------------------------------
START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


class LaneFeed:
    """Runs orders through the real engine (one ``TickerLane`` per ticker), one log entry per call.

    ``entries`` is what the matching function publishes: one ``MatchingBatchV1`` per committed entry, in
    order. The clock moves only when told, so tests choose which candle bucket each entry lands in.
    """

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.lanes: dict[str, TickerLane] = {}
        self.entries: list[MatchingBatchV1] = []
        self._ids = itertools.count(1)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def at(self, moment: datetime) -> None:
        self.now = moment

    def order(
        self,
        user_id: str,
        side: Side | str,
        quantity: str,
        price: str | None = None,
        *,
        ticker: str = "AAPL",
        time_in_force: TimeInForce = TimeInForce.GTC,
        self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER,
    ) -> MatchingBatchV1:
        command = OrderPlacedV1(
            orderId=f"o-{next(self._ids)}",
            userId=user_id,
            ticker=ticker,
            side=Side(side),
            orderType=OrderType.LIMIT if price is not None else OrderType.MARKET,
            timeInForce=time_in_force if price is not None else TimeInForce.IOC,
            quantity=Decimal(quantity),
            price=None if price is None else Decimal(price),
            selfTradePrevention=self_trade_prevention,
            createdAt=self.now,
        )
        return self._commit(ticker, [command])

    def cancel(self, user_id: str, order_id: str, *, ticker: str = "AAPL") -> MatchingBatchV1:
        command = OrderCancelRequestedV1(
            orderId=order_id, userId=user_id, ticker=ticker, requestedAt=self.now
        )
        return self._commit(ticker, [command])

    def _commit(self, ticker: str, commands: list[OrderPlacedV1 | OrderCancelRequestedV1]) -> MatchingBatchV1:
        lane = self.lanes.setdefault(ticker, TickerLane(ticker=ticker))
        published = lane.apply(list(commands), now=self.now).published()
        self.entries.append(published)
        return published


def kinesis_event(batches: Sequence[MatchingBatchV1 | bytes], *, first_sequence: int = 1) -> dict[str, Any]:
    """A Kinesis event as Lambda delivers it: base64 record data, per-record sequence numbers."""
    records = []
    for offset, batch in enumerate(batches):
        data = batch if isinstance(batch, bytes) else batch.model_dump_json(by_alias=True).encode()
        sequence = f"{first_sequence + offset:056d}"
        ticker = "POISON" if isinstance(batch, bytes) else batch.ticker
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": ticker,
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": 1_767_600_000.0 + offset,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/projection",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/matching-events",
            }
        )
    return {"Records": records}
