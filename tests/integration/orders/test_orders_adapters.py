"""The lane and order-status adapters on moto: the conditional append, newest-wins stores, the guard."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pynamodb.exceptions import PutError

from localcloud.faults import throttled_response
from localcloud.resources import LocalResources
from tests.fakes.orders import sample_order
from tests.unit.lane.builders import NOW, place
from tradestream.adapters.dynamodb.lane import (
    VIEW_ATTEMPTS,
    DynamoBookLog,
    DynamoBookViewStore,
    DynamoSnapshotStore,
)
from tradestream.adapters.dynamodb.orders import DynamoOrderStatusStore, DynamoOrderStore
from tradestream.contracts import OrderUpdatedV1
from tradestream.lane import state as lane_state
from tradestream.lane.state import Command, TickerLane
from tradestream.matching import OrderStatus, TimeInForce
from tradestream.orders.model import Order
from tradestream.projections.runner import event_key


def table(stack: LocalResources, logical_id: str) -> str:
    return str(stack.attribute(logical_id, "Ref"))


@pytest.fixture
def ticker() -> str:
    return "A" + uuid.uuid4().hex[:8].upper()


def test_the_log_append_is_conditional_and_entries_read_back_in_order(
    aws_env: LocalResources, ticker: str
) -> None:
    log = DynamoBookLog(table(aws_env, "BookLogTable"))
    lane = TickerLane(ticker=ticker)
    first = lane.apply([place("s1", "SELL", "1", "10", ticker=ticker)], now=NOW)
    second = lane.apply([place("b1", "BUY", "1", "10", ticker=ticker, user="ben")], now=NOW)

    assert log.append(first) is True
    assert log.append(first) is False  # the seq is taken: the fence against a second writer
    assert log.append(second) is True
    stored = log.get(ticker, 2)
    assert stored is not None
    assert (stored.commands, stored.published()) == (second.commands, second.published())
    assert [e.seq for e in log.entries_after(ticker, 0)] == [1, 2]
    assert [e.seq for e in log.entries_after(ticker, 1)] == [2]
    assert log.get(ticker, 3) is None
    assert log.entries_after(ticker + "X", 0) == []


def test_a_snapshot_is_kept_only_if_newer(aws_env: LocalResources, ticker: str) -> None:
    snapshots = DynamoSnapshotStore(table(aws_env, "BookSnapshotsTable"))
    lane = TickerLane(ticker=ticker)
    lane.apply([place("s1", "SELL", "1", "10", ticker=ticker)], now=NOW)
    older = lane.snapshot()
    lane.apply([place("s2", "SELL", "1", "11", ticker=ticker)], now=NOW)
    newer = lane.snapshot()

    snapshots.save(ticker, newer)
    snapshots.save(ticker, older)  # a late writer with an older head changes nothing
    latest = snapshots.latest(ticker)
    assert latest is not None
    restored = TickerLane.restore(ticker, latest)
    assert (restored.head, restored.book, restored.recent) == (2, lane.book, lane.recent)


def test_a_busy_tickers_snapshot_still_fits_one_item(aws_env: LocalResources, ticker: str) -> None:
    """A full window of recent ids (uuid order ids, as the API makes them) and a deep book: the
    snapshot must still be stored, or every cold start replays the log from an ever older head."""
    lane = TickerLane(ticker=ticker)
    commands: list[Command] = []
    for i in range(1500):  # resting orders on 100 levels
        side, price = ("BUY", 100 - i % 50) if i % 2 else ("SELL", 101 + i % 50)
        commands.append(
            place(str(uuid.uuid4()), side, "1.5", str(price), ticker=ticker, user=str(uuid.uuid4()))
        )
    for _ in range(lane_state.RECENT_COMMANDS):  # then a full window of orders that do not rest
        commands.append(
            place(str(uuid.uuid4()), "BUY", "1", "1", ticker=ticker, user="u", tif=TimeInForce.IOC)
        )
    for start in range(0, len(commands), 10):
        lane.apply(commands[start : start + 10], now=NOW)
    assert len(lane.recent) == lane_state.RECENT_COMMANDS

    snapshots = DynamoSnapshotStore(table(aws_env, "BookSnapshotsTable"))
    snapshots.save(ticker, lane.snapshot())
    latest = snapshots.latest(ticker)
    assert latest is not None, "the snapshot was too large to store"
    restored = TickerLane.restore(ticker, latest)
    assert (restored.head, len(restored.book)) == (lane.head, 1500)
    assert restored.book == lane.book


def test_the_book_view_keeps_the_newest_seq(aws_env: LocalResources, ticker: str) -> None:
    views = DynamoBookViewStore(table(aws_env, "BookViewsTable"))
    views.save(ticker, 2, [("9.5", "1", 1)], [])
    views.save(ticker, 1, [], [("10", "2", 2)])
    assert views.get(ticker) == (2, [("9.5", "1", 1)], [])
    assert views.get(ticker + "X") is None


@pytest.mark.parametrize(("throttles", "saved"), [(VIEW_ATTEMPTS - 1, True), (VIEW_ATTEMPTS, False)])
def test_a_throttled_book_view_write_is_tried_again(
    aws_env: LocalResources, ticker: str, throttles: int, saved: bool
) -> None:
    views = DynamoBookViewStore(table(aws_env, "BookViewsTable"))
    events = views.model._get_connection().connection.client.meta.events
    attempts: list[float] = []

    def throttle(**_: Any) -> Any:
        attempts.append(time.monotonic())
        if len(attempts) <= throttles:  # answered as the local cloud's throttling fault answers
            return throttled_response("dynamodb", "PutItem", {})
        return None

    events.register("before-call.dynamodb.PutItem", throttle)
    try:
        if saved:
            views.save(ticker, 1, [("9.5", "1", 1)], [])
        else:
            with pytest.raises(PutError):
                views.save(ticker, 1, [("9.5", "1", 1)], [])
    finally:
        events.unregister("before-call.dynamodb.PutItem", throttle)
    assert len(attempts) == (throttles + 1 if saved else VIEW_ATTEMPTS)
    assert attempts[-1] - attempts[0] >= 0.15  # backed off 50 then 100 ms between them
    assert views.get(ticker) == ((1, [("9.5", "1", 1)], []) if saved else None)


def _order(order_id: str) -> Order:
    return sample_order(order_id)


def _update(order_id: str, seq: int, n: int, status: OrderStatus, filled: str) -> OrderUpdatedV1:
    return OrderUpdatedV1(
        eventId=f"ACME:{seq}:{n}",
        ticker="ACME",
        seq=seq,
        n=n,
        orderId=order_id,
        userId="u-1",
        status=status,
        filledQuantity=Decimal(filled),
        remainingQuantity=Decimal(3) - Decimal(filled),
        lastFillPrice=Decimal(10),
        avgFillPrice=Decimal(10),
        updatedAt=datetime(2026, 1, 2, 3, 4, seq, tzinfo=UTC),
    )


def test_the_order_status_guard_refuses_older_and_repeated_events(aws_env: LocalResources) -> None:
    orders = DynamoOrderStore(table(aws_env, "OrdersTable"))
    status = DynamoOrderStatusStore(table(aws_env, "OrdersTable"))
    order_id = str(uuid.uuid4())
    assert orders.create(_order(order_id)) is None

    later = _update(order_id, 5, 1, OrderStatus.FILLED, "3")
    earlier = _update(order_id, 4, 7, OrderStatus.PARTIALLY_FILLED, "1")
    assert status.apply(later, event_key(5, 1)) is True
    assert status.apply(later, event_key(5, 1)) is False  # a redelivery
    assert status.apply(earlier, event_key(4, 7)) is False  # out of order: older than what it holds
    assert status.apply(_update("no-such-order", 6, 0, OrderStatus.NEW, "0"), event_key(6, 0)) is False

    stored = orders.get(order_id)
    assert stored is not None
    assert (stored.status, stored.filled_quantity, stored.updated_at) == (
        OrderStatus.FILLED,
        Decimal(3),
        "2026-01-02T03:04:05.000Z",
    )
    # And an order that saw a matching event can no longer be rejected as "never queued".
    assert orders.reject_unqueued(order_id, "LANE_UNAVAILABLE", "2026-01-02T03:04:06.000Z") is None
