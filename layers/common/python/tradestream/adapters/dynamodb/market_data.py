"""Candles, the trade tape and the latest trade per ticker on DynamoDB.

* Candles: hash ``series`` = ``{ticker}#{interval}``, range ``bucketStart``; written with a
  compare-and-set on the close's (seq, n), from a warm-container cache (see the positions store).
* Tape: hash ``ticker``, range ``{seq}#{n}`` (newest first is one Query), expiring after a retention.
* Tickers: one partition (``market`` = ``ALL``) with an item per ticker, so listing them is one Query.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from tradestream.adapters.dynamodb.attributes import DecimalAttribute
from tradestream.adapters.dynamodb.base import bind, condition_failed, update_guarded
from tradestream.adapters.dynamodb.cache import WrittenItems
from tradestream.adapters.dynamodb.timekeys import parse_time_key, time_key
from tradestream.marketdata import Candle, CandleKey, Interval
from tradestream.matching import Side
from tradestream.projections.guard import key_of, seq_key_of
from tradestream.projections.market_data import CandleStore, TapeTrade, TickerStore, TradeTape
from tradestream.queries.market_data import MarketDataReader

CACHE_ITEMS = 5_000
MARKET = "ALL"


def _series(ticker: str, interval: Interval) -> str:
    return f"{ticker}#{interval.value}"


class CandleModel(Model):
    series = UnicodeAttribute(hash_key=True)
    bucketStart = UnicodeAttribute(range_key=True)
    ticker = UnicodeAttribute()
    interval = UnicodeAttribute()
    open = DecimalAttribute()
    high = DecimalAttribute()
    low = DecimalAttribute()
    close = DecimalAttribute()
    volume = DecimalAttribute()
    trades = NumberAttribute()
    openKey = NumberAttribute()
    # The candle's sequence guard: event_key(seq, n) of its close.
    closeKey = NumberAttribute()


class TapeModel(Model):
    ticker = UnicodeAttribute(hash_key=True)
    tradeKey = UnicodeAttribute(range_key=True)
    tradeId = UnicodeAttribute()
    price = DecimalAttribute()
    quantity = DecimalAttribute()
    takerSide = UnicodeAttribute()
    executedAt = UnicodeAttribute()
    seq = NumberAttribute()
    n = NumberAttribute()
    expiresAt = NumberAttribute()  # the table's TTL attribute


class TickerModel(Model):
    market = UnicodeAttribute(hash_key=True)
    ticker = UnicodeAttribute(range_key=True)
    tradeId = UnicodeAttribute()
    price = DecimalAttribute()
    quantity = DecimalAttribute()
    takerSide = UnicodeAttribute()
    executedAt = UnicodeAttribute()
    seq = NumberAttribute()
    n = NumberAttribute()
    lastEventKey = NumberAttribute()


def _to_candle(item: CandleModel) -> Candle:
    return Candle(
        ticker=item.ticker,
        interval=Interval(item.interval),
        bucket_start=parse_time_key(item.bucketStart),
        open=item.open,
        high=item.high,
        low=item.low,
        close=item.close,
        volume=item.volume,
        trades=int(item.trades),
        open_seq=seq_key_of(int(item.openKey)),
        close_seq=seq_key_of(int(item.closeKey)),
    )


def _to_trade(item: TapeModel | TickerModel) -> TapeTrade:
    return TapeTrade(
        trade_id=item.tradeId,
        ticker=item.ticker,
        price=item.price,
        quantity=item.quantity,
        taker_side=Side(item.takerSide),
        executed_at=parse_time_key(item.executedAt),
        seq=int(item.seq),
        n=int(item.n),
    )


class DynamoCandleStore(CandleStore):
    def __init__(self, table_name: str, *, cache_items: int = CACHE_ITEMS) -> None:
        self.model = bind(CandleModel, table_name)
        self._cache: WrittenItems[CandleKey, Candle] = WrittenItems(cache_items)

    def load(self, key: CandleKey) -> Candle | None:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ticker, interval, start = key
        try:
            return _to_candle(
                self.model.get(_series(ticker, interval), time_key(start), consistent_read=True)
            )
        except self.model.DoesNotExist:
            return None

    def save(self, candle: Candle, expected: Candle | None) -> bool:
        m = self.model
        condition = (
            m.series.does_not_exist() if expected is None else m.closeKey == key_of(expected.close_seq)
        )
        item = m(
            _series(candle.ticker, candle.interval),
            time_key(candle.bucket_start),
            ticker=candle.ticker,
            interval=candle.interval.value,
            open=candle.open,
            high=candle.high,
            low=candle.low,
            close=candle.close,
            volume=candle.volume,
            trades=candle.trades,
            openKey=key_of(candle.open_seq),
            closeKey=key_of(candle.close_seq),
        )
        self._cache.forget(candle.key)
        try:
            item.save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                return False  # moved under us: the next load reads the table
            raise
        self._cache.put(candle.key, candle)
        return True


class DynamoTradeTape(TradeTape):
    def __init__(self, table_name: str, *, retention: timedelta) -> None:
        self.model = bind(TapeModel, table_name)
        self._retention = retention

    def put(self, trades: Sequence[TapeTrade]) -> None:
        with self.model.batch_write() as batch:
            for trade in trades:
                batch.save(
                    self.model(
                        trade.ticker,
                        f"{trade.seq:012d}#{trade.n:06d}",
                        tradeId=trade.trade_id,
                        price=trade.price,
                        quantity=trade.quantity,
                        takerSide=trade.taker_side.value,
                        executedAt=time_key(trade.executed_at),
                        seq=trade.seq,
                        n=trade.n,
                        # From the trade's own time, so a replay writes the same item.
                        expiresAt=int((trade.executed_at + self._retention).timestamp()),
                    )
                )


class DynamoTickerStore(TickerStore):
    def __init__(self, table_name: str) -> None:
        self.model = bind(TickerModel, table_name)

    def apply(self, trade: TapeTrade) -> bool:
        m = self.model
        key = key_of(trade.key)
        actions: list[Any] = [
            m.tradeId.set(trade.trade_id),
            m.price.set(trade.price),
            m.quantity.set(trade.quantity),
            m.takerSide.set(trade.taker_side.value),
            m.executedAt.set(time_key(trade.executed_at)),
            m.seq.set(trade.seq),
            m.n.set(trade.n),
            m.lastEventKey.set(key),
        ]
        try:
            update_guarded(
                m(MARKET, trade.ticker), actions, m.lastEventKey.does_not_exist() | (m.lastEventKey < key)
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True


class DynamoMarketDataReader(MarketDataReader):
    def __init__(self, candles_table: str, trades_table: str, tickers_table: str) -> None:
        self.candles_model = bind(CandleModel, candles_table)
        self.tape_model = bind(TapeModel, trades_table)
        self.tickers_model = bind(TickerModel, tickers_table)

    def candles(
        self, ticker: str, interval: Interval, *, start: datetime | None, end: datetime | None, limit: int
    ) -> list[Candle]:
        m = self.candles_model
        condition: Any = None
        # Keys are fixed-width to the microsecond, so "< end" is "<= end - 1 µs" exactly.
        if start is not None and end is not None:
            condition = m.bucketStart.between(time_key(start), time_key(end - timedelta(microseconds=1)))
        elif start is not None:
            condition = m.bucketStart >= time_key(start)
        elif end is not None:
            condition = m.bucketStart <= time_key(end - timedelta(microseconds=1))
        results = m.query(_series(ticker, interval), condition, scan_index_forward=False, limit=limit)
        return [_to_candle(item) for item in results]

    def candles_at(self, keys: Collection[CandleKey]) -> list[Candle]:
        # BatchGetItem, 100 keys a call; pynamodb resends unprocessed keys.
        wanted = sorted({(_series(t, i), time_key(b)) for t, i, b in keys})
        return [_to_candle(item) for item in self.candles_model.batch_get(wanted)] if wanted else []

    def trades(self, ticker: str, limit: int) -> list[TapeTrade]:
        results = self.tape_model.query(ticker, scan_index_forward=False, limit=limit)
        return [_to_trade(item) for item in results]

    def tickers(self) -> list[TapeTrade]:
        return [_to_trade(item) for item in self.tickers_model.query(MARKET)]
