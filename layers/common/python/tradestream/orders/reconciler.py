"""Re-sends orders that never reached the lane (the API died between its write and its send)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradestream.errors import LaneUnavailable
from tradestream.observability import logger
from tradestream.orders.model import iso_now
from tradestream.orders.ports import Lane, PendingOrders
from tradestream.orders.service import placed_command


def reconcile(
    pending: PendingOrders, lane: Lane, *, now: datetime, grace: timedelta, limit: int = 500
) -> int:
    """Returns how many orders were re-sent.

    Safe to repeat: the lane deduplicates on orderId for five minutes, and after that the matching
    engine recognises an order it already applied and republishes its entry instead of matching again.
    An order is pending until the order-status projection applies its first event, so `grace` must
    cover a normal trip through the lane and the stream.
    """
    sent = 0
    for order in pending.stragglers(created_before=iso_now(now - grace), limit=limit):
        try:
            lane.send(placed_command(order, correlation_id=f"reconciler:{order.id}"))
        except LaneUnavailable:
            logger.warning("lane still unavailable; the next run retries", extra={"orderId": order.id})
            break
        sent += 1
    if sent:
        logger.info("re-sent orders that had not reached the lane", extra={"count": sent})
    return sent
