"""reconcile(): re-sends stragglers older than the grace period as their original lane command."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.fakes.orders import RecordingLane, sample_order
from tradestream.contracts import OrderPlacedV1
from tradestream.orders.model import Order
from tradestream.orders.ports import PendingOrders
from tradestream.orders.reconciler import reconcile

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class ListedPending(PendingOrders):
    def __init__(self, orders: list[Order]) -> None:
        self.orders = orders
        self.asked: list[str] = []

    def stragglers(self, *, created_before: str, limit: int) -> list[Order]:
        self.asked.append(created_before)
        return [o for o in self.orders if o.created_at < created_before][:limit]


def test_stragglers_past_the_grace_period_are_resent_as_their_placed_command() -> None:
    old = replace(sample_order("o-old"), created_at="2026-03-01T11:58:00.000Z")
    recent = replace(sample_order("o-new"), created_at="2026-03-01T11:59:30.000Z")
    pending, lane = ListedPending([old, recent]), RecordingLane()

    assert reconcile(pending, lane, now=NOW, grace=timedelta(seconds=60)) == 1

    assert pending.asked == ["2026-03-01T11:59:00.000Z"]
    (command,) = lane.sent
    assert isinstance(command, OrderPlacedV1)
    assert (command.type, command.command_id, command.ticker) == ("order.placed.v1", "o-old", old.ticker)
    assert (command.quantity, command.price, command.side) == (old.quantity, old.price, old.side)
    assert command.created_at == datetime(2026, 3, 1, 11, 58, tzinfo=UTC)


def test_a_lane_that_is_still_down_stops_the_run_without_raising() -> None:
    lane = RecordingLane()
    lane.fail = True
    orders = [replace(sample_order(f"o-{i}"), created_at="2026-01-01T00:00:00.000Z") for i in range(3)]
    assert reconcile(ListedPending(orders), lane, now=NOW, grace=timedelta(seconds=60)) == 0
    assert lane.sent == []
