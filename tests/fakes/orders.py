"""In-memory OrderStore and Lane with the semantics of their DynamoDB and SQS FIFO adapters.

The store's writes are the adapter's conditional writes (create if absent, NEW → REJECTED only while
no matching event was applied, cancelRequested only on a live order); listing is newest first by
(createdAt, id) with an opaque cursor. The lane records what was queued and can be told to fail.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1
from tradestream.errors import LaneUnavailable
from tradestream.matching import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.orders.model import FINAL_STATUSES, OPEN_STATUSES, Order
from tradestream.orders.ports import Lane, OrderPage, OrderStore

LaneCommand = OrderPlacedV1 | OrderCancelRequestedV1


class InMemoryOrderStore(OrderStore):
    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._lock = threading.Lock()
        self.creates = 0

    def create(self, order: Order) -> Order | None:
        with self._lock:  # attribute_not_exists(orderId)
            existing = self._orders.get(order.id)
            if existing is not None:
                return existing
            self._orders[order.id] = order
            self.creates += 1
            return None

    def get(self, order_id: str) -> Order | None:
        with self._lock:
            return self._orders.get(order_id)

    def put(self, order: Order) -> None:
        """Test setup: store an order as the projection would have left it."""
        with self._lock:
            self._orders[order.id] = order

    def reject_unqueued(self, order_id: str, reason: str, updated_at: str) -> Order | None:
        with self._lock:  # status = NEW (and no matching event applied: the fake has none)
            order = self._orders.get(order_id)
            if order is None or order.status is not OrderStatus.NEW:
                return None
            updated = order.with_changes(
                status=OrderStatus.REJECTED, reject_reason=reason, updated_at=updated_at
            )
            self._orders[order_id] = updated
            return updated

    def request_cancel(self, order_id: str, updated_at: str) -> Order | None:
        with self._lock:  # status IN (NEW, PARTIALLY_FILLED)
            order = self._orders.get(order_id)
            if order is None or order.status not in OPEN_STATUSES:
                return None
            updated = order.with_changes(cancel_requested=True, updated_at=updated_at)
            self._orders[order_id] = updated
            return updated

    def list_for_user(
        self, user_id: str, *, ticker: str | None, status: str, limit: int, cursor: str | None
    ) -> OrderPage:
        wanted = {"open": OPEN_STATUSES, "final": FINAL_STATUSES}.get(status)
        with self._lock:
            mine = sorted(
                (o for o in self._orders.values() if o.user_id == user_id),
                key=lambda o: (o.created_at, o.id),
                reverse=True,
            )
        matching = [
            o
            for o in mine
            if (ticker is None or o.ticker == ticker)
            and (wanted is None or o.status in wanted)
            and (cursor is None or f"{o.created_at}#{o.id}" < cursor)
        ]
        page = matching[:limit]
        more = len(matching) > limit
        return OrderPage(items=page, next_cursor=f"{page[-1].created_at}#{page[-1].id}" if more else None)


class RecordingLane(Lane):
    """The FIFO queue: `sent` holds every command queued, in order. `fail` makes send raise."""

    def __init__(self) -> None:
        self.sent: list[LaneCommand] = []
        self.fail = False

    def send(self, command: LaneCommand) -> None:
        if self.fail:
            raise LaneUnavailable(f"the {command.ticker} lane did not accept the command")
        self.sent.append(command)


def sample_order(order_id: str) -> Order:
    """A NEW LIMIT GTC buy of 3 ACME at 10, as the API stores it."""
    stamp = "2026-01-02T03:04:05.678Z"
    return Order(
        id=order_id,
        user_id="u-1",
        client_order_id=None,
        ticker="ACME",
        side=Side.BUY,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        post_only=False,
        self_trade_prevention=SelfTradePrevention.CANCEL_TAKER,
        quantity=Decimal(3),
        price=Decimal(10),
        status=OrderStatus.NEW,
        filled_quantity=Decimal(0),
        remaining_quantity=Decimal(3),
        last_fill_price=None,
        avg_fill_price=None,
        reject_reason=None,
        cancel_requested=False,
        created_at=stamp,
        updated_at=stamp,
    )
