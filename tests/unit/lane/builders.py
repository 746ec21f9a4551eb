"""Lane commands for the lane and matching tests: places and cancels as the orders API sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1
from tradestream.matching import OrderType, SelfTradePrevention, Side, TimeInForce

TICKER = "ACME"
NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def place(
    order_id: str,
    side: Side | str,
    quantity: str,
    price: str | None,
    *,
    user: str = "ann",
    ticker: str = TICKER,
    order_type: OrderType | str | None = None,
    tif: TimeInForce | str = TimeInForce.GTC,
    post_only: bool = False,
    stp: SelfTradePrevention | str = SelfTradePrevention.CANCEL_TAKER,
    correlation_id: str | None = None,
) -> OrderPlacedV1:
    kind = OrderType(order_type) if order_type else (OrderType.MARKET if price is None else OrderType.LIMIT)
    return OrderPlacedV1(
        orderId=order_id,
        userId=user,
        ticker=ticker,
        side=Side(side),
        orderType=kind,
        timeInForce=TimeInForce(tif),
        quantity=Decimal(quantity),
        price=None if price is None else Decimal(price),
        postOnly=post_only,
        selfTradePrevention=SelfTradePrevention(stp),
        createdAt=NOW,
        correlationId=correlation_id,
    )


def cancel(order_id: str, *, user: str = "ann", ticker: str = TICKER) -> OrderCancelRequestedV1:
    return OrderCancelRequestedV1(orderId=order_id, userId=user, ticker=ticker, requestedAt=NOW)
