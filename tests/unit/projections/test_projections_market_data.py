"""Market-data projection on in-memory stores, fed with real matching output: candles, tape, tickers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from tests.fakes.projections import (
    InMemoryCandleStore,
    InMemoryTickerStore,
    InMemoryTradeTape,
    LaneFeed,
)
from tradestream.contracts import MatchingBatchV1, TradeExecutedV1
from tradestream.marketdata import Interval, bucket_start
from tradestream.projections.market_data import project_market_data, tape_trades

D = Decimal


class Stores:
    def __init__(self) -> None:
        self.candles = InMemoryCandleStore()
        self.tape = InMemoryTradeTape()
        self.tickers = InMemoryTickerStore()

    def project(self, entries: Sequence[MatchingBatchV1]) -> None:
        project_market_data(entries, candles=self.candles, tape=self.tape, tickers=self.tickers)


def _trades(feed: LaneFeed) -> list[TradeExecutedV1]:
    return [e for entry in feed.entries for e in entry.events if isinstance(e, TradeExecutedV1)]


def _feed_across_boundaries() -> LaneFeed:
    """Trades a few seconds either side of 10:00 UTC: every interval but 1d has a bucket boundary there."""
    feed = LaneFeed(start=datetime(2026, 1, 5, 9, 59, 58, tzinfo=UTC))
    feed.order("mm", "SELL", "10", "101")
    feed.order("mm", "SELL", "10", "103")
    feed.order("ann", "BUY", "2", "101")
    feed.order("ann", "BUY", "12", "103")  # sweeps 8 at 101 and 4 at 103 in one entry
    feed.advance(seconds=3)  # 10:00:01
    feed.order("mm", "BUY", "5", "99")
    feed.order("ben", "SELL", "1", "99")
    feed.order("ben", "SELL", "4", "99.5")  # rests above the bid
    feed.order("ann", "BUY", "1.5", "100")  # five trades in all: 16.5 between 99 and 103
    return feed


def test_candles_hold_ohlcv_per_bucket_of_every_interval() -> None:
    feed = _feed_across_boundaries()
    stores = Stores()

    stores.project(feed.entries)

    trades = _trades(feed)
    for interval in Interval:
        expected: dict[datetime, list[TradeExecutedV1]] = defaultdict(list)
        for trade in trades:
            expected[bucket_start(trade.executed_at, interval)].append(trade)
        stored = {c.bucket_start: c for (_, i, _), c in stores.candles.items.items() if i is interval}
        assert set(stored) == set(expected)
        for start, bucket in expected.items():
            ordered = sorted(bucket, key=lambda t: (t.seq, t.n))
            candle = stored[start]
            assert (candle.open, candle.close) == (ordered[0].price, ordered[-1].price)
            assert candle.high == max(t.price for t in bucket) and candle.low == min(t.price for t in bucket)
            assert candle.volume == sum((t.quantity for t in bucket), D(0))
            assert candle.trades == len(bucket)
    day = stores.candles.items[("AAPL", Interval.D1, datetime(2026, 1, 5, tzinfo=UTC))]
    assert (day.open, day.high, day.low, day.close, day.volume, day.trades) == (
        D(101),
        D(103),
        D(99),
        D("99.5"),
        D("16.5"),
        5,
    )


def test_one_write_per_candle_per_batch_and_none_for_a_replay() -> None:
    feed = _feed_across_boundaries()
    stores = Stores()

    stores.project(feed.entries)
    snapshot = dict(stores.candles.items)
    stores.project(feed.entries)
    for entry in feed.entries:
        stores.project([entry])

    assert set(stores.candles.writes.values()) == {1}
    assert stores.candles.items == snapshot
    assert stores.tickers.writes == {"AAPL": 1}


def test_any_batching_of_the_stream_gives_the_same_candles() -> None:
    feed = _feed_across_boundaries()
    one_shot, one_by_one, straddling = Stores(), Stores(), Stores()

    one_shot.project(feed.entries)
    for entry in feed.entries:
        one_by_one.project([entry])
    straddling.project(feed.entries[:5])
    straddling.project(feed.entries[3:])  # redelivers two entries along with the rest

    assert one_by_one.candles.items == one_shot.candles.items
    assert straddling.candles.items == one_shot.candles.items
    assert straddling.tape.items == one_shot.tape.items


def test_the_tape_and_the_latest_trade_per_ticker() -> None:
    feed = _feed_across_boundaries()
    feed.order("mm", "SELL", "1", "20", ticker="MSFT")
    feed.order("ann", "BUY", "1", "20", ticker="MSFT")
    stores = Stores()

    stores.project(feed.entries)

    trades = _trades(feed)
    assert len(stores.tape.items) == len(trades) == 6
    last_aapl = max((t for t in trades if t.ticker == "AAPL"), key=lambda t: (t.seq, t.n))
    latest = stores.tickers.items["AAPL"]
    assert (latest.trade_id, latest.price, latest.taker_side) == (
        last_aapl.trade_id,
        last_aapl.price,
        last_aapl.taker_side,
    )
    assert stores.tickers.items["MSFT"].price == D(20)


def test_an_older_entry_never_replaces_the_latest_trade() -> None:
    feed = _feed_across_boundaries()
    stores = Stores()
    stores.project(feed.entries)

    stores.project(feed.entries[:4])

    assert stores.tickers.items["AAPL"].price == D("99.5")


def test_a_candle_moved_by_another_writer_is_merged_again_not_twice() -> None:
    feed = _feed_across_boundaries()
    stores = Stores()
    early = Stores()
    early.project(feed.entries[:4])
    taken: set[object] = set()

    def another_writer() -> None:
        # The first time each candle is saved, a replay elsewhere has just stored the early trades.
        for key, candle in early.candles.items.items():
            if key not in taken:
                taken.add(key)
                stores.candles.items.setdefault(key, candle)

    stores.candles.interfere = another_writer
    stores.project(feed.entries)

    reference = Stores()
    reference.project(feed.entries)
    assert stores.candles.items == reference.candles.items


def test_tape_trades_are_unique_by_ticker_seq_and_n() -> None:
    feed = _feed_across_boundaries()

    trades = tape_trades([*feed.entries, *feed.entries])

    assert [t.key for t in trades] == sorted({(t.seq, t.n) for t in _trades(feed)})


def test_candles_are_only_written_for_trades() -> None:
    feed = LaneFeed()
    feed.order("mm", "SELL", "1", "100")
    stores = Stores()

    stores.project(feed.entries)

    assert stores.candles.items == {} and stores.tape.items == {} and stores.tickers.items == {}
