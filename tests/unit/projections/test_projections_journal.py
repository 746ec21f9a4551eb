"""Journal projection on in-memory stores, fed with real matching output: rows, counts and their guards."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.fakes.projections import InMemoryTransactionStore, LaneFeed
from tradestream.contracts import MatchingBatchV1, TradeExecutedV1
from tradestream.matching import SelfTradePrevention
from tradestream.portfolio import Side
from tradestream.projections.errors import ContradictoryEvents
from tradestream.projections.journal import CounterKey, counter_keys, project_journal, transaction_rows
from tradestream.projections.runner import event_key


def _trades(entries: list[MatchingBatchV1]) -> list[TradeExecutedV1]:
    return [e for entry in entries for e in entry.events if isinstance(e, TradeExecutedV1)]


def test_every_trade_becomes_a_buy_row_for_the_buyer_and_a_sell_row_for_the_seller() -> None:
    feed = LaneFeed()
    maker = feed.order("ann", "SELL", "3", "101")
    taker = feed.order("ben", "BUY", "5", "102")  # sweeps ann's 3 at 101 and rests 2
    (trade,) = _trades([taker])

    rows = transaction_rows([maker, taker])

    assert [(r.user_id, r.side, r.order_id) for r in rows] == [
        ("ben", Side.BUY, trade.taker_order_id),
        ("ann", Side.SELL, trade.maker_order_id),
    ]
    buy, sell = rows
    assert buy.id == f"{trade.trade_id}:BUY" and sell.id == f"{trade.trade_id}:SELL"
    for row in rows:
        assert (row.ticker, row.quantity, row.price) == ("AAPL", trade.quantity, trade.price)
        assert (row.seq, row.n, row.executed_at) == (trade.seq, trade.n, trade.executed_at)


def test_a_sweep_gives_two_rows_per_level_and_counts_them_once_per_user_and_ticker() -> None:
    feed = LaneFeed()
    for price in ("100", "101", "102"):
        feed.order("ann", "SELL", "1", price)
    feed.order("ben", "BUY", "3", "102")
    store = InMemoryTransactionStore()

    outcome = project_journal(feed.entries, store)

    assert outcome.rows == 6 and outcome.counted == 12  # each row counts in its total and its day
    assert len(store.items) == 6
    day = feed.now.date()
    assert store.counters[CounterKey(user_id="ann", ticker="AAPL")][0] == 3
    assert store.counters[CounterKey(user_id="ben", ticker="AAPL", day=day)][0] == 3
    # one guarded write per counter per batch, not one per row
    assert store.writes["counters"] == 4


def test_the_same_batch_twice_and_a_replay_from_the_start_change_nothing() -> None:
    feed = LaneFeed()
    feed.order("ann", "SELL", "2", "100")
    feed.order("ben", "BUY", "1", "100")
    feed.order("ben", "BUY", "1", "100")
    store = InMemoryTransactionStore()
    project_journal(feed.entries, store)
    rows, counters = dict(store.items), dict(store.counters)

    assert project_journal(feed.entries, store).counted == 0
    for entry in feed.entries:  # a replay one entry at a time, as a resharded consumer might see it
        assert project_journal([entry], store).counted == 0

    assert store.items == rows and store.counters == counters


def test_an_entry_delivered_twice_in_one_batch_counts_once() -> None:
    feed = LaneFeed()
    feed.order("ann", "SELL", "1", "100")
    taker = feed.order("ben", "BUY", "1", "100")
    store = InMemoryTransactionStore()

    project_journal([*feed.entries, taker], store)

    assert len(store.items) == 2
    assert store.counters[CounterKey(user_id="ben", ticker="AAPL")][0] == 1


def test_a_batch_straddling_the_guard_counts_only_its_newer_part() -> None:
    feed = LaneFeed()
    feed.order("ann", "SELL", "5", "100")
    for _ in range(4):
        feed.order("ben", "BUY", "1", "100")
    store = InMemoryTransactionStore()
    project_journal(feed.entries[:3], store)  # two trades applied

    project_journal(feed.entries[1:], store)  # redelivers those two with two new ones

    assert store.counters[CounterKey(user_id="ben", ticker="AAPL")][0] == 4
    assert store.counters[CounterKey(user_id="ann", ticker="AAPL")][0] == 4
    assert len(store.items) == 8


def test_a_self_trade_gives_the_user_both_rows_and_counts_both() -> None:
    feed = LaneFeed()
    feed.order("ann", "SELL", "1", "100")
    feed.order("ann", "BUY", "1", "100", self_trade_prevention=SelfTradePrevention.NONE)
    store = InMemoryTransactionStore()

    project_journal(feed.entries, store)

    assert sorted(r.side.value for r in store.items.values()) == ["BUY", "SELL"]
    assert store.counters[CounterKey(user_id="ann", ticker="AAPL")][0] == 2


def test_day_counters_split_a_user_s_rows_at_midnight_utc() -> None:
    feed = LaneFeed(start=datetime(2026, 1, 5, 23, 59, 59, 999_999, tzinfo=UTC))
    feed.order("ann", "SELL", "2", "100")
    feed.order("ben", "BUY", "1", "100")
    feed.advance(microseconds=1)
    feed.order("ben", "BUY", "1", "100")

    counters = counter_keys(transaction_rows(feed.entries))

    assert len(counters[CounterKey(user_id="ben", ticker="AAPL", day=date(2026, 1, 5))]) == 1
    assert len(counters[CounterKey(user_id="ben", ticker="AAPL", day=date(2026, 1, 6))]) == 1
    assert counters[CounterKey(user_id="ben", ticker="AAPL")] == sorted(
        event_key(e.seq, e.n) for e in _trades(feed.entries)
    )


def test_counts_are_per_ticker_because_guards_are() -> None:
    feed = LaneFeed()
    feed.order("ann", "SELL", "1", "100", ticker="AAPL")
    feed.order("ben", "BUY", "1", "100", ticker="AAPL")
    feed.order("ann", "SELL", "1", "50", ticker="MSFT")
    feed.order("ben", "BUY", "1", "50", ticker="MSFT")  # same (seq, n) as the AAPL trade
    store = InMemoryTransactionStore()

    project_journal(feed.entries, store)

    assert store.total("ben", None) == 2
    assert store.total("ben", "MSFT") == 1


def test_order_updates_alone_write_nothing() -> None:
    feed = LaneFeed()
    feed.order("ann", "SELL", "1", "100")
    store = InMemoryTransactionStore()

    assert project_journal(feed.entries, store).rows == 0
    assert store.writes == {}


def test_two_different_trades_claiming_one_id_are_refused() -> None:
    feed = LaneFeed()
    feed.order("ann", "SELL", "2", "100")
    taker = feed.order("ben", "BUY", "1", "100")
    (trade,) = _trades([taker])
    forged = taker.model_copy(update={"events": [trade.model_copy(update={"price": trade.price + 1})]})

    with pytest.raises(ContradictoryEvents):
        transaction_rows([taker, forged])
