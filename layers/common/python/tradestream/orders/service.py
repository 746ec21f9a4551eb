"""Order use cases: place (idempotent on clientOrderId), read, list and cancel, all owner-scoped."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from tradestream.api.caller import Caller
from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1
from tradestream.errors import ClientOrderIdConflict, LaneUnavailable, OrderNotCancelable, OrderNotFound
from tradestream.matching import OrderStatus
from tradestream.orders.model import Order, iso_now
from tradestream.orders.ports import Lane, OrderPage, OrderStore
from tradestream.orders.requests import PlaceOrderRequest

# Fixed namespace: the same (userId, clientOrderId) always names the same order, so the order write
# itself is the idempotency check (one conditional put, no second table).
_CLIENT_ORDER_NAMESPACE = uuid.UUID("6f1c8f39-4c3e-4b5a-9d55-3f4f0c2a7e11")


def order_id_for(user_id: str, client_order_id: str | None) -> str:
    if client_order_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_CLIENT_ORDER_NAMESPACE, f"{user_id}\x1f{client_order_id}"))


def placed_command(order: Order, *, correlation_id: str | None) -> OrderPlacedV1:
    """The lane command of a stored order (the API sends it; the reconciler re-sends it)."""
    return OrderPlacedV1(
        orderId=order.id,
        userId=order.user_id,
        ticker=order.ticker,
        side=order.side,
        orderType=order.type,
        timeInForce=order.time_in_force,
        quantity=order.quantity,
        price=order.price,
        postOnly=order.post_only,
        selfTradePrevention=order.self_trade_prevention,
        createdAt=datetime.fromisoformat(order.created_at),
        correlationId=correlation_id,
    )


class OrderService:
    def __init__(self, *, store: OrderStore, lane: Lane, clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._lane = lane
        self._clock = clock or (lambda: datetime.now(UTC))

    def place(
        self, caller: Caller, request: PlaceOrderRequest, *, correlation_id: str | None
    ) -> tuple[Order, bool]:
        """Returns (order, created). A replay of the same clientOrderId returns the stored order."""
        caller.ensure_owner(request.user_id)
        now = self._clock()
        stamp = iso_now(now)
        order = Order(
            id=order_id_for(caller.user_id, request.client_order_id),
            user_id=caller.user_id,
            client_order_id=request.client_order_id,
            ticker=request.ticker,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            post_only=request.post_only,
            self_trade_prevention=request.self_trade_prevention,
            quantity=request.quantity,
            price=request.price,
            status=OrderStatus.NEW,
            filled_quantity=Decimal(0),
            remaining_quantity=request.quantity,
            last_fill_price=None,
            avg_fill_price=None,
            reject_reason=None,
            cancel_requested=False,
            created_at=stamp,
            updated_at=stamp,
        )
        existing = self._store.create(order)
        if existing is not None:
            if existing.user_id != caller.user_id or not existing.same_request(order):
                raise ClientOrderIdConflict(
                    f"clientOrderId {request.client_order_id!r} was used for another order"
                )
            return existing, False
        try:
            self._lane.send(placed_command(order, correlation_id=correlation_id))
        except LaneUnavailable:
            # Never leave an order NEW without a lane message: it would wait for a match forever.
            self._store.reject_unqueued(order.id, "LANE_UNAVAILABLE", iso_now(self._clock()))
            raise
        return order, True

    def get(self, caller: Caller, order_id: str) -> Order:
        order = self._store.get(order_id)
        if order is None or order.user_id != caller.user_id:
            # Another user's order reads as absent: its existence is not the caller's business.
            raise OrderNotFound(f"order {order_id} not found")
        return order

    def list(
        self, caller: Caller, *, ticker: str | None, status: str, limit: int, cursor: str | None
    ) -> OrderPage:
        return self._store.list_for_user(
            caller.user_id, ticker=ticker, status=status, limit=limit, cursor=cursor
        )

    def cancel(self, caller: Caller, order_id: str, *, correlation_id: str | None) -> Order:
        order = self.get(caller, order_id)
        if order.is_final:
            raise OrderNotCancelable(f"order {order_id} is {order.status.value}")
        updated = self._store.request_cancel(order_id, iso_now(self._clock()))
        if updated is None:
            raise OrderNotCancelable(f"order {order_id} became final")
        self._lane.send(
            OrderCancelRequestedV1(
                orderId=order.id,
                userId=order.user_id,
                ticker=order.ticker,
                requestedAt=self._clock(),
                correlationId=correlation_id,
            )
        )
        return updated
