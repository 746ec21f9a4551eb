"""Properties of candles: any batch split or redelivery merges to the one-shot aggregate; OHLCV invariants."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from tradestream.marketdata import Candle, CandleKey, Interval, Trade, aggregate, bucket_start, merge
from tradestream.money import lots_to_quantity, ticks_to_price

FAST = settings(max_examples=200, deadline=None)
# A few minutes before midnight UTC, so a stream of a few hours crosses every kind of boundary.
ORIGIN = datetime(2026, 3, 14, 23, 50, tzinfo=UTC)


@st.composite
def trade_streams(draw: st.DrawFn) -> list[Trade]:
    """Trades of two tickers in (seq, n) order per ticker; clock times are not monotone in seq."""
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["ACME", "BOLT"]),
                st.integers(1, 2_000_000),  # ticks
                st.integers(1, 5_000_000),  # lots
                st.integers(0, 3 * 3600 * 1_000_000),  # microseconds after ORIGIN
                st.booleans(),  # same log entry as the previous trade of that ticker
            ),
            max_size=40,
        )
    )
    last: dict[str, tuple[int, int]] = {}
    trades = []
    for ticker, ticks, lots, micros, same_entry in specs:
        seq, n = last.get(ticker, (0, 0))
        seq, n = (seq, n + 1) if same_entry and ticker in last else (seq + draw(st.integers(1, 3)), 0)
        last[ticker] = (seq, n)
        trades.append(
            Trade(
                ticker=ticker,
                price=ticks_to_price(ticks),
                quantity=lots_to_quantity(lots),
                executed_at=ORIGIN + timedelta(microseconds=micros),
                seq=seq,
                n=n,
            )
        )
    return trades


def one_shot(trades: Sequence[Trade]) -> dict[CandleKey, Candle]:
    return {key: merge(None, delta) for key, delta in aggregate(trades).items()}


def apply(store: dict[CandleKey, Candle], batch: Sequence[Trade]) -> None:
    """What the adapter does per batch: one merge (one conditional write) per touched candle."""
    for key, delta in aggregate(batch).items():
        store[key] = merge(store.get(key), delta)


def split(items: Sequence[Trade], cuts: Sequence[int]) -> list[Sequence[Trade]]:
    bounds = [0, *sorted(cut % (len(items) + 1) for cut in cuts), len(items)]
    return [items[a:b] for a, b in pairwise(bounds)]


@FAST
@given(trade_streams(), st.lists(st.integers(0, 1000), max_size=6))
def test_any_batch_split_merges_to_the_one_shot_aggregate(trades: list[Trade], cuts: list[int]) -> None:
    store: dict[CandleKey, Candle] = {}
    for batch in split(trades, cuts):
        apply(store, batch)
    assert store == one_shot(trades)


@FAST
@given(
    trade_streams(),
    st.lists(st.integers(0, 1000), max_size=4),
    st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), max_size=4),
)
def test_redelivered_and_replayed_batches_change_nothing(
    trades: list[Trade], cuts: list[int], replays: list[tuple[int, int]]
) -> None:
    """A batch delivered twice, a retry of an overlapping range, a replay from the start."""
    store: dict[CandleKey, Candle] = {}
    for batch in split(trades, cuts):
        apply(store, batch)
        apply(store, batch)
    for a, b in replays:
        lo, hi = sorted((a % (len(trades) + 1), b % (len(trades) + 1)))
        apply(store, trades[lo:hi])
    apply(store, trades)
    assert store == one_shot(trades)


@FAST
@given(trade_streams())
def test_each_candle_is_the_ohlcv_of_its_trades_by_seq(trades: list[Trade]) -> None:
    members: defaultdict[CandleKey, list[Trade]] = defaultdict(list)
    for trade in trades:
        for interval in Interval:
            members[(trade.ticker, interval, bucket_start(trade.executed_at, interval))].append(trade)
    candles = one_shot(trades)
    assert candles.keys() == members.keys()
    for key, inside in members.items():
        by_seq = sorted(inside, key=lambda trade: trade.key)
        built = candles[key]
        assert built.volume == sum((trade.quantity for trade in inside), Decimal(0))
        assert built.trades == len(inside)
        assert (built.open, built.open_seq) == (by_seq[0].price, by_seq[0].key)
        assert (built.close, built.close_seq) == (by_seq[-1].price, by_seq[-1].key)
        assert built.high == max(trade.price for trade in inside)
        assert built.low == min(trade.price for trade in inside)


@FAST
@given(trade_streams())
def test_every_interval_sees_the_same_volume(trades: list[Trade]) -> None:
    candles = one_shot(trades).values()
    for ticker in ("ACME", "BOLT"):
        volumes = {
            interval: sum(
                (c.volume for c in candles if c.ticker == ticker and c.interval is interval), Decimal(0)
            )
            for interval in Interval
        }
        assert len(set(volumes.values())) == 1
