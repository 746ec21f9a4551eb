"""Property tests: the book against the reference model on random streams; snapshots, replay, invariants."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.matching.matching_reference import ReferenceBook
from tradestream.matching import (
    Event,
    NewOrder,
    OrderBook,
    OrderStatus,
    OrderType,
    OrderUpdate,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)

Step = tuple[Literal["place"], NewOrder] | tuple[Literal["cancel"], str]

USERS = ("ann", "ben", "cat")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def streams(draw: st.DrawFn, max_steps: int = 40) -> list[Step]:
    """Places of every type, TIF, postOnly and STP mode (a few malformed, a few reusing an id) and
    cancels of resting, final and unknown ids, on a narrow price band so orders meet often."""
    steps: list[Step] = []
    ids: list[str] = []
    for index in range(draw(st.integers(0, max_steps))):
        if draw(st.integers(0, 4)) == 0:
            known = bool(ids) and draw(st.booleans())
            steps.append(("cancel", draw(st.sampled_from(ids)) if known else "ghost"))
            continue
        reuse = bool(ids) and draw(st.integers(0, 9)) == 0
        order_id = draw(st.sampled_from(ids)) if reuse else f"o{index}"
        ids.append(order_id)
        order_type = draw(st.sampled_from(OrderType))
        price: int | None = draw(st.integers(97, 103)) if order_type is OrderType.LIMIT else None
        quantity = draw(st.integers(1, 8))
        if draw(st.integers(0, 24)) == 0:  # malformed on purpose
            price, quantity = draw(st.sampled_from([(None, quantity), (100, quantity), (price, 0), (-1, 1)]))
        tif = draw(st.sampled_from(TimeInForce))
        steps.append(
            (
                "place",
                NewOrder(
                    order_id=order_id,
                    user_id=draw(st.sampled_from(USERS)),
                    side=draw(st.sampled_from(Side)),
                    type=order_type,
                    time_in_force=tif,
                    quantity=quantity,
                    price=price,
                    post_only=draw(st.integers(0, 3)) == 0,
                    self_trade_prevention=draw(st.sampled_from(SelfTradePrevention)),
                ),
            )
        )
    return steps


def apply(book: OrderBook | ReferenceBook, step: Step) -> list[Event]:
    if step[0] == "place":
        return book.place(step[1])
    return book.cancel(step[1])


def resting_rows(book: OrderBook) -> list[tuple[str, str, Side, int, int, int, int, int | None]]:
    return [
        (
            o.order_id,
            o.user_id,
            o.side,
            o.price,
            o.quantity,
            o.filled_quantity,
            o.filled_notional,
            o.last_fill_price,
        )
        for o in book.orders()
    ]


@SETTINGS
@given(streams())
def test_the_book_behaves_like_the_reference_model(steps: list[Step]) -> None:
    book, reference = OrderBook(), ReferenceBook()
    for step in steps:
        assert apply(book, step) == apply(reference, step), step
        assert resting_rows(book) == reference.priority_order()
        assert book.depth(100) == reference.depth(100)
    assert book.depth(2) == reference.depth(2)


@SETTINGS
@given(streams(), st.data())
def test_a_restored_snapshot_is_the_same_book_and_stays_the_same(
    steps: list[Step], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(steps)))
    live = OrderBook()
    for step in steps[:cut]:
        apply(live, step)
    snapshot = live.snapshot()
    restored = OrderBook.restore(json.loads(json.dumps(snapshot)))
    assert restored == live
    assert restored.snapshot() == snapshot
    for step in steps[cut:]:
        assert apply(restored, step) == apply(live, step)
        assert restored == live


@SETTINGS
@given(streams())
def test_replaying_the_log_rebuilds_the_live_book(steps: list[Step]) -> None:
    live, replayed = OrderBook(), OrderBook()
    log = [apply(live, step) for step in steps]
    assert [apply(replayed, step) for step in steps] == log
    assert replayed == live
    assert replayed.depth(100) == live.depth(100)


@SETTINGS
@given(streams())
def test_order_invariants_hold_on_every_stream(steps: list[Step]) -> None:
    book = OrderBook()
    quantity: dict[str, int] = {}
    traded: dict[str, int] = defaultdict(int)
    notional: dict[str, int] = defaultdict(int)
    last_update: dict[str, OrderUpdate] = {}
    for step in steps:
        if step[0] == "place" and step[1].order_id in book:
            assert [e.status for e in book.place(step[1]) if isinstance(e, OrderUpdate)] == [
                OrderStatus.REJECTED
            ]
            continue
        if step[0] == "place":  # a new life for this id: forget an earlier, final one
            order = step[1]
            quantity[order.order_id] = max(order.quantity, 0)
            traded.pop(order.order_id, None)
            notional.pop(order.order_id, None)
        events = apply(book, step)
        _assert_event_shape(step, events)
        for event in events:
            if isinstance(event, Trade):
                for order_id in (event.maker_order_id, event.taker_order_id):
                    traded[order_id] += event.quantity
                    notional[order_id] += event.quantity * event.price
            else:
                last_update[event.order_id] = event
                assert 0 <= event.filled_quantity <= quantity[event.order_id]
                assert event.filled_quantity == traded[event.order_id]
                assert event.filled_notional == notional[event.order_id]
                if event.status is not OrderStatus.REJECTED:
                    assert event.remaining_quantity == quantity[event.order_id] - event.filled_quantity
    for order_id, update in last_update.items():
        resting = book.get(order_id)
        if update.status.is_final:
            assert resting is None, update
        else:
            assert resting is not None, update
            assert (resting.filled_quantity, resting.remaining_quantity) == (
                update.filled_quantity,
                update.remaining_quantity,
            )
            assert update.status is (
                OrderStatus.PARTIALLY_FILLED if resting.filled_quantity else OrderStatus.NEW
            )


def _assert_event_shape(step: Step, events: list[Event]) -> None:
    """Each Trade is followed by its maker's update; a place ends with the taker's one update."""
    if step[0] == "cancel":
        assert all(isinstance(e, OrderUpdate) and e.status is OrderStatus.CANCELED for e in events)
        assert len(events) <= 1
        return
    taker = step[1].order_id
    final = events[-1]
    assert isinstance(final, OrderUpdate) and final.order_id == taker
    assert [e for e in events if isinstance(e, OrderUpdate) and e.order_id == taker] == [final]
    for position, event in enumerate(events):
        if isinstance(event, Trade):
            assert event.taker_order_id == taker
            follower = events[position + 1]
            assert isinstance(follower, OrderUpdate) and follower.order_id == event.maker_order_id
            assert follower.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)
