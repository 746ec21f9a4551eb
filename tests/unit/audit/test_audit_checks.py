"""The audit's checks on fake data: a consistent reading passes; each kind of damage is named exactly."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.unit.audit.builders import Market, trading
from tradestream.audit import AuditOptions, Dataset, Report, audit
from tradestream.audit.checks import status_problem
from tradestream.audit.dataset import DeadLetter, OrderRecord, QueueState
from tradestream.contracts import OrderPlacedV1, TradeExecutedV1
from tradestream.marketdata import Interval
from tradestream.matching import OrderStatus, OrderType, Side, TimeInForce
from tradestream.portfolio import Side as AccountSide

D = Decimal


@pytest.fixture(scope="module")
def market() -> Market:
    market = Market()
    trading(market)
    return market


@pytest.fixture
def data(market: Market) -> Dataset:
    """A fresh copy of the consistent reading for each test to damage."""
    reading = market.dataset()
    reading.log = {ticker: list(entries) for ticker, entries in reading.log.items()}
    return reading


def checks_of(report: Report) -> set[str]:
    return {finding.check for finding in report.violations}


def trades_of(data: Dataset) -> list[TradeExecutedV1]:
    return [
        e
        for entries in data.log.values()
        for x in entries
        for e in x.events
        if isinstance(e, TradeExecutedV1)
    ]


def test_a_consistent_reading_passes_every_check(data: Dataset) -> None:
    report = audit(data)

    assert report.violations == []
    # The scenario exercises every check, so "nothing found" means something.
    assert len(trades_of(data)) > 20
    for check in ("log.events", "book.snapshot", "book.view", "orders", "orders.final_or_resting"):
        assert report.checked[check] > 0, check
    for check in (
        "journal.rows",
        "journal.counts",
        "positions",
        "candles.ohlcv",
        "prices.last",
        "market.tape",
    ):
        assert report.checked[check] > 0, check
    statuses = {order.status for order in data.orders}
    assert {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.NEW, OrderStatus.EXPIRED} <= statuses


def _order(data: Dataset, status: OrderStatus, *, filled: bool | None = None) -> OrderRecord:
    for order in data.orders:
        if order.status is status and (filled is None or (order.filled_quantity > 0) == filled):
            return order
    raise AssertionError(f"the scenario has no {status} order")


def _swap(data: Dataset, old: OrderRecord, new: OrderRecord) -> None:
    data.orders = [new if o.order_id == old.order_id else o for o in data.orders]


def test_a_fill_the_trades_do_not_add_up_to_is_named(data: Dataset) -> None:
    order = _order(data, OrderStatus.PARTIALLY_FILLED)
    _swap(data, order, replace(order, filled_quantity=order.filled_quantity + D("0.25")))

    report = audit(data)

    assert checks_of(report) == {"orders.fills", "orders.status"}
    assert {f.subject for f in report.violations} == {f"{order.order_id} ({order.ticker})"}
    assert any("its trades sum to" in f.detail for f in report.violations)


def test_a_status_the_log_never_reported_is_named(data: Dataset) -> None:
    order = _order(data, OrderStatus.FILLED)
    # Consistent in itself (nothing left), but the last logged update says FILLED, not CANCELED.
    _swap(data, order, replace(order, status=OrderStatus.CANCELED, remaining_quantity=D(0)))

    report = audit(data)

    assert checks_of(report) == {"orders.status"}


def test_a_live_order_missing_from_the_book_is_named(data: Dataset) -> None:
    order = _order(data, OrderStatus.CANCELED, filled=False)
    _swap(data, order, replace(order, status=OrderStatus.NEW))

    report = audit(data)

    assert "orders.final_or_resting" in checks_of(report)
    assert any("not on the replayed book" in f.detail for f in report.violations)


def test_an_order_that_never_reached_the_lane_fails_after_the_grace_period(data: Dataset) -> None:
    stranded = replace(data.orders[0], order_id="o-stranded", status=OrderStatus.NEW, filled_quantity=D(0))
    stranded = replace(
        stranded, remaining_quantity=stranded.quantity, created_at=data.read_at - timedelta(minutes=5)
    )
    data.orders.append(stranded)

    report = audit(data, AuditOptions(grace=timedelta(seconds=30)))

    assert checks_of(report) == {"orders.reached_lane"}
    assert report.violations[0].subject.startswith("o-stranded")


def test_an_order_in_flight_within_the_grace_period_is_only_a_note(data: Dataset) -> None:
    fresh = replace(data.orders[0], order_id="o-fresh", status=OrderStatus.NEW, filled_quantity=D(0))
    fresh = replace(fresh, remaining_quantity=fresh.quantity, created_at=data.read_at - timedelta(seconds=2))
    data.orders.append(fresh)

    report = audit(data, AuditOptions(grace=timedelta(seconds=30)))

    assert report.ok
    assert [n.check for n in report.notes] == ["orders.reached_lane"]


def test_an_order_the_api_rejected_for_an_unavailable_lane_needs_no_log(data: Dataset) -> None:
    rejected = replace(
        data.orders[0],
        order_id="o-rejected",
        status=OrderStatus.REJECTED,
        filled_quantity=D(0),
        reject_reason="LANE_UNAVAILABLE",
        created_at=data.read_at - timedelta(minutes=5),
    )
    data.orders.append(rejected)

    assert audit(data).ok


def test_an_order_of_the_log_missing_from_the_orders_table_is_named(data: Dataset) -> None:
    gone = _order(data, OrderStatus.FILLED)
    data.orders = [o for o in data.orders if o.order_id != gone.order_id]

    report = audit(data)

    assert checks_of(report) == {"orders.known"}


def test_a_gap_in_the_log_stops_the_replay_and_is_named(data: Dataset) -> None:
    entries = data.log["AAPL"]
    data.log["AAPL"] = [e for e in entries if e.seq != 5]

    report = audit(data)

    assert "log.sequence" in checks_of(report)
    assert any(f.subject == "AAPL" and "entry 6 follows 4" in f.detail for f in report.violations)


def test_stored_events_the_commands_do_not_produce_are_named(data: Dataset) -> None:
    entries = data.log["MSFT"]
    index, entry = next(
        (i, e) for i, e in enumerate(entries) if any(isinstance(x, TradeExecutedV1) for x in e.events)
    )
    events = list(entry.events)
    n = next(i for i, x in enumerate(events) if isinstance(x, TradeExecutedV1))
    trade = events[n]
    assert isinstance(trade, TradeExecutedV1)
    events[n] = trade.model_copy(update={"price": trade.price + 1})
    entries[index] = dataclasses.replace(entry, events=events)

    report = audit(data)

    assert f"MSFT#{entry.seq}" in {f.subject for f in report.violations if f.check == "log.events"}


def test_a_command_applied_twice_is_named(data: Dataset) -> None:
    entries = data.log["AAPL"]
    placed = next(c for e in entries for c in e.commands if isinstance(c, OrderPlacedV1))
    last = entries[-1]
    entries[-1] = dataclasses.replace(last, commands=[*last.commands, placed])

    assert "log.commands_once" in checks_of(audit(data))


def test_a_snapshot_that_differs_from_the_replay_is_named(data: Dataset) -> None:
    snapshot = data.snapshots["AAPL"]
    book = dict(snapshot.state["book"])
    bids, asks = book.get("bids", []), book.get("asks", [])
    assert bids or asks
    if bids:
        book["bids"] = bids[1:]
    else:
        book["asks"] = asks[1:]
    data.snapshots["AAPL"] = replace(snapshot, state={**snapshot.state, "book": book})

    report = audit(data)

    assert checks_of(report) == {"book.snapshot"}


def test_a_snapshot_past_the_log_head_is_named(data: Dataset) -> None:
    snapshot = data.snapshots["AAPL"]
    head = data.log["AAPL"][-1].seq
    data.snapshots["AAPL"] = replace(snapshot, head=head + 3, state={**snapshot.state, "head": head + 3})

    assert any("past the log head" in f.detail for f in audit(data).violations)


def test_a_stale_or_wrong_view_is_named(data: Dataset) -> None:
    view = data.views["MSFT"]
    data.views["MSFT"] = replace(view, seq=view.seq - 1)
    stale = audit(data)
    data.views["MSFT"] = replace(view, bids=[("1", "1", 1), *view.bids])
    wrong = audit(data)

    assert checks_of(stale) == {"book.view"}
    assert any("log head" in f.detail for f in stale.violations)
    assert checks_of(wrong) == {"book.view"}


def test_a_third_journal_row_and_a_missing_one_are_named(data: Dataset) -> None:
    row = data.journal[0]
    doubled = Dataset(**{**vars(data), "journal": [*data.journal, replace(row, sort_key=row.sort_key + "x")]})
    missing = Dataset(**{**vars(data), "journal": data.journal[1:]})

    assert {"journal.rows", "positions.quantity"} <= checks_of(audit(doubled))
    assert any(f.subject == row.trade_id for f in audit(doubled).violations if f.check == "journal.rows")
    assert "journal.rows" in checks_of(audit(missing))


def test_a_journal_count_that_differs_from_the_rows_is_named(data: Dataset) -> None:
    data.counts[0] = replace(data.counts[0], rows=data.counts[0].rows + 1)

    assert checks_of(audit(data)) == {"journal.counts"}


def test_positions_are_checked_against_the_journal(data: Dataset) -> None:
    position = next(p for p in data.positions if p.quantity != 0)
    index = data.positions.index(position)
    data.positions[index] = replace(position, quantity=position.quantity + 1)
    wrong_quantity = audit(data)
    data.positions[index] = replace(position, realized_pnl=position.realized_pnl + D("0.01"))
    wrong_pnl = audit(data)

    assert checks_of(wrong_quantity) == {"positions.quantity"}
    assert checks_of(wrong_pnl) == {"positions.pnl"}


def test_a_journal_that_contradicts_itself_is_named_not_raised(data: Dataset) -> None:
    row = data.journal[0]
    other = AccountSide.SELL if row.side is AccountSide.BUY else AccountSide.BUY
    data.journal.append(replace(row, sort_key="contradiction", side=other, quantity=row.quantity + 1))

    assert "positions.pnl" in checks_of(audit(data))


def test_last_prices_and_candles_are_checked_against_the_trades(data: Dataset) -> None:
    data.last_prices[0] = replace(data.last_prices[0], price=data.last_prices[0].price + 1)
    candle = next(c for c in data.candles if c.interval is Interval.M1 and c.trades > 1)
    index = data.candles.index(candle)
    data.candles[index] = replace(candle, open=candle.close, close=candle.open, volume=candle.volume + 1)

    report = audit(data)

    assert checks_of(report) == {"prices.last", "candles.ohlcv"}


def test_a_candle_without_trades_and_a_missing_tape_row_are_named(data: Dataset) -> None:
    ghost = replace(data.candles[0], bucket_start=data.candles[0].bucket_start - timedelta(days=3))
    data.candles.append(ghost)
    data.tape = data.tape[1:]

    assert checks_of(audit(data)) == {"candles.ohlcv", "market.tape"}


def test_dead_letters_are_notes_unless_asked_to_fail(data: Dataset) -> None:
    data.dead_letters.append(
        DeadLetter(
            queue="OrdersLaneDLQ", message_id="m-1", reason="body: invalid JSON", body="{", receive_count=1
        )
    )
    data.queues.append(QueueState(queue="OrdersLaneDLQ", visible=1, in_flight=0))

    lenient = audit(data)
    strict = audit(data, AuditOptions(fail_on_dead_letters=True))

    assert lenient.ok
    assert {n.check for n in lenient.notes} == {"dlq", "queues"}
    assert checks_of(strict) == {"dlq"}
    assert "invalid JSON" in strict.violations[0].detail


def _plain_order(status: OrderStatus, quantity: str, filled: str, remaining: str) -> OrderRecord:
    moment = Market().now
    return OrderRecord(
        order_id="o",
        user_id="u",
        ticker="T",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        quantity=D(quantity),
        price=D(1),
        status=status,
        filled_quantity=D(filled),
        remaining_quantity=D(remaining),
        avg_fill_price=None,
        reject_reason=None,
        created_at=moment,
        updated_at=moment,
    )


@pytest.mark.parametrize(
    ("status", "quantity", "filled", "remaining", "agrees"),
    [
        (OrderStatus.NEW, "2", "0", "2", True),
        (OrderStatus.NEW, "2", "1", "1", False),
        (OrderStatus.PARTIALLY_FILLED, "2", "1", "1", True),
        (OrderStatus.PARTIALLY_FILLED, "2", "2", "0", False),
        (OrderStatus.PARTIALLY_FILLED, "2", "1", "2", False),
        (OrderStatus.FILLED, "2", "2", "0", True),
        (OrderStatus.FILLED, "2", "1.5", "0.5", False),
        (OrderStatus.CANCELED, "2", "0.5", "1.5", True),
        (OrderStatus.CANCELED, "2", "2", "0", False),
        (OrderStatus.EXPIRED, "2", "0", "2", True),
        (OrderStatus.REJECTED, "2", "0", "2", True),
        (OrderStatus.REJECTED, "2", "0", "0", True),
        (OrderStatus.REJECTED, "2", "1", "1", False),
    ],
)
def test_status_agrees_with_the_fill(
    status: OrderStatus, quantity: str, filled: str, remaining: str, agrees: bool
) -> None:
    assert (status_problem(_plain_order(status, quantity, filled, remaining)) is None) is agrees
