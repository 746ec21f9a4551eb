"""NewOrder: the command that places an order on a book (integer ticks and lots, never floats)."""

from __future__ import annotations

from dataclasses import dataclass

from tradestream.matching.enums import OrderType, SelfTradePrevention, Side, TimeInForce

# Prices and quantities must fit a signed 64-bit integer: the engine uses 2**63 as "no limit" for
# market orders, and downstream stores (DynamoDB numbers, the Kinesis contracts) stay exact.
MAX_UNITS = (1 << 63) - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class NewOrder:
    """An order as the lane delivers it; `price` is in ticks (None for MARKET), `quantity` in lots."""

    order_id: str
    user_id: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: int
    price: int | None
    post_only: bool = False
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER
