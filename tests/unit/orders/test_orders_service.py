"""OrderService over in-memory ports: place (idempotent, owner-checked, lane failure), get, list, cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.orders import InMemoryOrderStore, RecordingLane
from tradestream.api.caller import Caller
from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1
from tradestream.errors import (
    ClientOrderIdConflict,
    Forbidden,
    LaneUnavailable,
    OrderNotCancelable,
    OrderNotFound,
)
from tradestream.matching import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.orders.model import Order
from tradestream.orders.requests import PlaceOrderRequest
from tradestream.orders.service import OrderService, order_id_for

ALICE = Caller(user_id="u-alice", username="alice", scopes=("orders:write",))
BOB = Caller(user_id="u-bob", username="bob", scopes=("orders:write",))
T0 = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
BODY: dict[str, Any] = {
    "ticker": "acme",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "1.5",
    "price": "10.25",
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, ms: int = 1) -> None:
        self.now += timedelta(milliseconds=ms)


class World:
    def __init__(self) -> None:
        self.store = InMemoryOrderStore()
        self.lane = RecordingLane()
        self.clock = Clock()
        self.service = OrderService(store=self.store, lane=self.lane, clock=self.clock)

    def place(self, caller: Caller = ALICE, **changes: Any) -> tuple[Order, bool]:
        body = {k: v for k, v in {**BODY, **changes}.items() if v is not ...}
        return self.service.place(caller, PlaceOrderRequest.model_validate(body), correlation_id="req-1")


@pytest.fixture
def world() -> World:
    return World()


# --- place ---------------------------------------------------------------------------------------


def test_place_stores_a_new_order_and_queues_it_on_the_tickers_lane(world: World) -> None:
    order, created = world.place(clientOrderId="c-1")

    assert created is True
    assert order.to_json() == {
        "id": order_id_for("u-alice", "c-1"),
        "userId": "u-alice",
        "clientOrderId": "c-1",
        "ticker": "ACME",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "postOnly": False,
        "selfTradePrevention": "CANCEL_TAKER",
        "quantity": "1.5",
        "price": "10.25",
        "status": "NEW",
        "filledQuantity": "0",
        "remainingQuantity": "1.5",
        "lastFillPrice": None,
        "avgFillPrice": None,
        "rejectReason": None,
        "cancelRequested": False,
        "createdAt": "2026-03-04T05:06:07.890Z",
        "updatedAt": "2026-03-04T05:06:07.890Z",
    }
    assert world.store.get(order.id) == order  # readable right after the 202
    assert world.lane.sent == [
        OrderPlacedV1(
            orderId=order.id,
            userId="u-alice",
            ticker="ACME",
            side=Side.BUY,
            orderType=OrderType.LIMIT,
            timeInForce=TimeInForce.GTC,
            quantity=Decimal("1.5"),
            price=Decimal("10.25"),
            postOnly=False,
            selfTradePrevention=SelfTradePrevention.CANCEL_TAKER,
            createdAt=T0,
            correlationId="req-1",
        )
    ]
    assert world.lane.sent[0].command_id == order.id  # the lane's MessageDeduplicationId


def test_without_a_client_order_id_every_place_is_a_new_order(world: World) -> None:
    first, _ = world.place()
    second, _ = world.place()
    assert first.id != second.id
    assert [c.order_id for c in world.lane.sent] == [first.id, second.id]


def test_the_same_client_order_id_returns_the_same_order_and_queues_nothing_twice(world: World) -> None:
    first, created = world.place(clientOrderId="c-1")
    world.clock.tick(500)
    again, created_again = world.place(clientOrderId="c-1", quantity="1.50", ticker="ACME")

    assert (created, created_again) == (True, False)
    assert again == first
    assert again.created_at == "2026-03-04T05:06:07.890Z"
    assert len(world.lane.sent) == 1
    assert world.store.creates == 1


def test_a_replay_returns_the_order_as_it_is_now(world: World) -> None:
    first, _ = world.place(clientOrderId="c-1")
    world.store.put(first.with_changes(status=OrderStatus.FILLED, filled_quantity=Decimal("1.5")))
    again, created = world.place(clientOrderId="c-1")
    assert created is False
    assert again.status is OrderStatus.FILLED
    assert len(world.lane.sent) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"quantity": "2"},
        {"price": "10.26"},
        {"side": "SELL"},
        {"ticker": "OTHER"},
        {"timeInForce": "IOC"},
        {"postOnly": True},
        {"selfTradePrevention": "NONE"},
        {"type": "MARKET", "price": None, "timeInForce": "IOC"},
    ],
)
def test_the_same_client_order_id_with_a_different_body_is_a_conflict(
    world: World, changes: dict[str, Any]
) -> None:
    world.place(clientOrderId="c-1")
    with pytest.raises(ClientOrderIdConflict) as caught:
        world.place(clientOrderId="c-1", **changes)
    assert (caught.value.status, caught.value.code) == (409, "CLIENT_ORDER_ID_CONFLICT")
    assert len(world.lane.sent) == 1


def test_client_order_ids_are_per_user(world: World) -> None:
    mine, _ = world.place(ALICE, clientOrderId="c-1")
    theirs, created = world.place(BOB, clientOrderId="c-1", quantity="3")
    assert created is True
    assert mine.id != theirs.id
    assert theirs.user_id == "u-bob"


def test_a_user_id_in_the_body_must_be_the_caller(world: World) -> None:
    world.place(userId="u-alice")  # naming yourself is fine
    with pytest.raises(Forbidden) as caught:
        world.place(userId="u-bob", clientOrderId="c-2")
    assert caught.value.status == 403
    assert world.store.get(order_id_for("u-alice", "c-2")) is None
    assert len(world.lane.sent) == 1


def test_an_order_the_lane_refused_ends_rejected_and_the_caller_gets_lane_unavailable(world: World) -> None:
    world.lane.fail = True
    with pytest.raises(LaneUnavailable) as caught:
        world.place(clientOrderId="c-1")
    assert (caught.value.status, caught.value.code) == (503, "LANE_UNAVAILABLE")

    stored = world.store.get(order_id_for("u-alice", "c-1"))
    assert stored is not None
    assert (stored.status, stored.reject_reason) == (OrderStatus.REJECTED, "LANE_UNAVAILABLE")
    # A replay does not resurrect it: the same order, final.
    world.lane.fail = False
    again, created = world.place(clientOrderId="c-1")
    assert (again.status, created) == (OrderStatus.REJECTED, False)
    assert world.lane.sent == []


# --- get and list ---------------------------------------------------------------------------------


def test_get_returns_the_callers_order(world: World) -> None:
    order, _ = world.place()
    assert world.service.get(ALICE, order.id) == order


@pytest.mark.parametrize("order_id", ["mine-for-bob", "no-such-order"])
def test_another_users_order_and_an_unknown_one_are_both_not_found(world: World, order_id: str) -> None:
    order, _ = world.place()
    with pytest.raises(OrderNotFound) as caught:
        world.service.get(BOB, order.id if order_id == "mine-for-bob" else order_id)
    assert (caught.value.status, caught.value.code) == (404, "ORDER_NOT_FOUND")


def test_list_is_the_callers_orders_newest_first(world: World) -> None:
    ids = []
    for i in range(3):
        ids.append(world.place(clientOrderId=f"c-{i}")[0].id)
        world.clock.tick()
    world.place(BOB)
    page = world.service.list(ALICE, ticker=None, status="all", limit=2, cursor=None)
    assert [o.id for o in page.items] == [ids[2], ids[1]]
    rest = world.service.list(ALICE, ticker=None, status="all", limit=2, cursor=page.next_cursor)
    assert ([o.id for o in rest.items], rest.next_cursor) == ([ids[0]], None)


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_marks_the_order_and_queues_a_cancel_command(world: World) -> None:
    order, _ = world.place()
    world.clock.tick(250)
    canceled = world.service.cancel(ALICE, order.id, correlation_id="req-9")

    assert canceled == order.with_changes(cancel_requested=True, updated_at="2026-03-04T05:06:08.140Z")
    assert canceled.status is OrderStatus.NEW  # CANCELED comes from the lane, not from the API
    assert world.store.get(order.id) == canceled
    assert world.lane.sent[1:] == [
        OrderCancelRequestedV1(
            orderId=order.id,
            userId="u-alice",
            ticker="ACME",
            requestedAt=T0 + timedelta(milliseconds=250),
            correlationId="req-9",
        )
    ]
    assert world.lane.sent[1].command_id == f"cancel:{order.id}"


def test_a_partially_filled_order_can_be_canceled(world: World) -> None:
    order, _ = world.place()
    world.store.put(order.with_changes(status=OrderStatus.PARTIALLY_FILLED, filled_quantity=Decimal("0.5")))
    assert world.service.cancel(ALICE, order.id, correlation_id=None).cancel_requested is True
    assert len(world.lane.sent) == 2


@pytest.mark.parametrize(
    "status", [OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED]
)
def test_a_final_order_cannot_be_canceled(world: World, status: OrderStatus) -> None:
    order, _ = world.place()
    world.store.put(order.with_changes(status=status))
    with pytest.raises(OrderNotCancelable) as caught:
        world.service.cancel(ALICE, order.id, correlation_id=None)
    assert (caught.value.status, caught.value.code) == (409, "ORDER_NOT_CANCELABLE")
    assert len(world.lane.sent) == 1
    stored = world.store.get(order.id)
    assert stored is not None and stored.cancel_requested is False


def test_an_order_that_turns_final_during_the_cancel_is_not_cancelable(world: World) -> None:
    order, _ = world.place()

    class TurnsFinal(InMemoryOrderStore):
        def request_cancel(self, order_id: str, updated_at: str) -> Order | None:
            self.put(order.with_changes(status=OrderStatus.FILLED))  # the projection got there first
            return super().request_cancel(order_id, updated_at)

    store = TurnsFinal()
    store.put(order)
    service = OrderService(store=store, lane=world.lane, clock=world.clock)
    with pytest.raises(OrderNotCancelable):
        service.cancel(ALICE, order.id, correlation_id=None)
    assert len(world.lane.sent) == 1


def test_another_users_order_cannot_be_canceled_and_is_not_found(world: World) -> None:
    order, _ = world.place()
    with pytest.raises(OrderNotFound):
        world.service.cancel(BOB, order.id, correlation_id=None)
    stored = world.store.get(order.id)
    assert stored is not None and stored.cancel_requested is False
    assert len(world.lane.sent) == 1
