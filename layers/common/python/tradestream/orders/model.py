"""The order as stored and as returned to clients (one shape, camelCase on the wire)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradestream.matching import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.money import to_str

FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED}
)
OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


def iso_now(now: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds, the one timestamp format of the API."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class Order:
    id: str
    user_id: str
    client_order_id: str | None
    ticker: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    post_only: bool
    self_trade_prevention: SelfTradePrevention
    quantity: Decimal
    price: Decimal | None
    status: OrderStatus
    filled_quantity: Decimal
    remaining_quantity: Decimal
    last_fill_price: Decimal | None
    avg_fill_price: Decimal | None
    reject_reason: str | None
    cancel_requested: bool
    created_at: str
    updated_at: str

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def same_request(self, other: Order) -> bool:
        """Whether two placements ask for the same thing (the clientOrderId idempotency check)."""
        return (
            self.ticker,
            self.side,
            self.type,
            self.time_in_force,
            self.quantity,
            self.price,
            self.post_only,
            self.self_trade_prevention,
        ) == (
            other.ticker,
            other.side,
            other.type,
            other.time_in_force,
            other.quantity,
            other.price,
            other.post_only,
            other.self_trade_prevention,
        )

    def with_changes(self, **changes: Any) -> Order:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        def dec(value: Decimal | None) -> str | None:
            return None if value is None else to_str(value)

        return {
            "id": self.id,
            "userId": self.user_id,
            "clientOrderId": self.client_order_id,
            "ticker": self.ticker,
            "side": self.side.value,
            "type": self.type.value,
            "timeInForce": self.time_in_force.value,
            "postOnly": self.post_only,
            "selfTradePrevention": self.self_trade_prevention.value,
            "quantity": to_str(self.quantity),
            "price": dec(self.price),
            "status": self.status.value,
            "filledQuantity": to_str(self.filled_quantity),
            "remainingQuantity": to_str(self.remaining_quantity),
            "lastFillPrice": dec(self.last_fill_price),
            "avgFillPrice": dec(self.avg_fill_price),
            "rejectReason": self.reject_reason,
            "cancelRequested": self.cancel_requested,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
