"""Portfolio projection on in-memory stores, fed with real matching output: PnL, shorts, guards, retries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.projections import InMemoryLastPriceStore, InMemoryPositionStore, LaneFeed
from tradestream.matching import SelfTradePrevention
from tradestream.portfolio import Position, replay_journal
from tradestream.projections.errors import GuardConflict
from tradestream.projections.journal import transaction_rows
from tradestream.projections.portfolio import StoredPosition, project_portfolio

D = Decimal


def _project(feed: LaneFeed, positions: InMemoryPositionStore) -> None:
    project_portfolio(feed.entries, positions=positions, prices=positions.prices)


def _position(store: InMemoryPositionStore, user: str, ticker: str = "AAPL") -> Position:
    return store.items[(user, ticker)].position


def test_long_then_partial_close_realizes_against_the_average_cost() -> None:
    feed = LaneFeed()
    feed.order("mm", "SELL", "10", "100")
    feed.order("ann", "BUY", "10", "100")
    feed.order("mm", "SELL", "10", "110")
    feed.order("ann", "BUY", "10", "110")  # ann: 20 at 105
    feed.order("mm", "BUY", "5", "120")
    feed.order("ann", "SELL", "5", "120")  # closes 5: (120 - 105) x 5
    store = InMemoryPositionStore()

    _project(feed, store)

    ann = _position(store, "ann")
    assert (ann.quantity, ann.avg_cost, ann.realized_pnl) == (D(15), D(105), D(75))
    mm = _position(store, "mm")
    assert mm.quantity == D(-15)  # the market maker is short; shorts are positions too
    assert store.prices.items["AAPL"].price == D(120)


def test_covering_a_short_and_flipping_through_zero() -> None:
    feed = LaneFeed()
    feed.order("mm", "BUY", "4", "50")
    feed.order("ann", "SELL", "4", "50")  # ann short 4 at 50
    feed.order("mm", "SELL", "10", "40")
    feed.order("ann", "BUY", "10", "40")  # covers 4: (50 - 40) x 4, then long 6 at 40
    store = InMemoryPositionStore()

    _project(feed, store)

    ann = _position(store, "ann")
    assert (ann.quantity, ann.avg_cost, ann.realized_pnl) == (D(6), D(40), D(40))


def test_one_write_per_position_per_batch_and_none_for_a_replay() -> None:
    feed = LaneFeed()
    for price in ("100", "101", "102"):
        feed.order("mm", "SELL", "1", price)
    feed.order("ann", "BUY", "3", "102")
    store = InMemoryPositionStore()

    _project(feed, store)
    before = dict(store.items)
    _project(feed, store)
    for entry in feed.entries:
        project_portfolio([entry], positions=store, prices=store.prices)

    assert store.writes == {("ann", "AAPL"): 1, ("mm", "AAPL"): 1}
    assert store.prices.writes == {"AAPL": 1}
    assert store.items == before


def test_the_projection_equals_a_replay_of_the_journal_whatever_the_batching() -> None:
    feed = LaneFeed()
    feed.order("mm", "SELL", "7", "100")
    feed.order("ann", "BUY", "3", "100")
    feed.order("ann", "SELL", "5", "99")
    feed.order("mm", "BUY", "2", "101")
    feed.order("ann", "SELL", "1", "101")
    feed.order("ben", "BUY", "9", "102")
    feed.order("ann", "BUY", "4", "98", ticker="MSFT")
    feed.order("ben", "SELL", "4", "98", ticker="MSFT")
    one_shot, one_by_one = InMemoryPositionStore(), InMemoryPositionStore()

    _project(feed, one_shot)
    for entry in feed.entries:
        project_portfolio([entry], positions=one_by_one, prices=one_by_one.prices)

    replayed = replay_journal(row.to_journal_row() for row in transaction_rows(feed.entries))
    assert {key: stored.position for key, stored in one_shot.items.items()} == replayed
    assert one_by_one.items == one_shot.items


def test_updated_at_is_the_time_of_the_last_fill_so_a_replay_reproduces_it() -> None:
    feed = LaneFeed()
    feed.order("mm", "SELL", "2", "100")
    feed.order("ann", "BUY", "1", "100")
    feed.advance(minutes=3)
    last = feed.order("ann", "BUY", "1", "100")
    store = InMemoryPositionStore()

    _project(feed, store)

    assert store.items[("ann", "AAPL")].updated_at == last.committed_at


def test_a_self_trade_is_a_wash_that_only_moves_the_guard() -> None:
    feed = LaneFeed()
    feed.order("mm", "SELL", "1", "90")
    feed.order("ann", "BUY", "1", "90")
    feed.order("ann", "SELL", "1", "100")
    feed.order("ann", "BUY", "1", "100", self_trade_prevention=SelfTradePrevention.NONE)
    store = InMemoryPositionStore()

    _project(feed, store)

    ann = _position(store, "ann")
    assert (ann.quantity, ann.avg_cost, ann.realized_pnl) == (D(1), D(90), D(0))
    assert ann.last_applied == (4, 0)


def test_a_position_moved_by_another_writer_is_read_again_and_folded_once() -> None:
    feed = LaneFeed()
    feed.order("mm", "SELL", "2", "100")
    first = feed.order("ann", "BUY", "1", "100")
    feed.order("ann", "BUY", "1", "100")
    store = InMemoryPositionStore()
    other = InMemoryPositionStore()
    project_portfolio([first], positions=other, prices=InMemoryLastPriceStore())

    def another_writer() -> None:
        # Between our load and our save, a replay elsewhere stores ann's first fill.
        store.items.setdefault(("ann", "AAPL"), other.items[("ann", "AAPL")])

    store.interfere = another_writer
    _project(feed, store)

    assert _position(store, "ann").quantity == D(2)


def test_a_guard_that_keeps_moving_fails_the_batch() -> None:
    feed = LaneFeed()
    feed.order("mm", "SELL", "1", "100")
    feed.order("ann", "BUY", "1", "100")
    store = InMemoryPositionStore()
    moves = iter(range(1, 100))

    def endless_writer() -> None:
        seq = next(moves)
        store.items[("ann", "AAPL")] = StoredPosition(
            user_id="ann",
            ticker="AAPL",
            position=Position(quantity=D(1), avg_cost=D(1), last_applied=(0, seq)),
            updated_at=feed.now,
        )

    store.interfere = endless_writer
    with pytest.raises(GuardConflict):
        _project(feed, store)
