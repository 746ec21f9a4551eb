"""Order status from order.updated.v1: one guarded write per order per batch (its latest update)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from tradestream.contracts import MatchingBatchV1, OrderUpdatedV1
from tradestream.projections.fanout import each
from tradestream.projections.runner import event_key


class OrderStatusStore(ABC):
    @abstractmethod
    def apply(self, update: OrderUpdatedV1, key: int) -> bool:
        """Write the update unless the order already holds one with a key ≥ `key`; True if written."""


def latest_updates(entries: list[MatchingBatchV1]) -> dict[str, tuple[int, OrderUpdatedV1]]:
    latest: dict[str, tuple[int, OrderUpdatedV1]] = {}
    for entry in entries:
        for event in entry.events:
            if isinstance(event, OrderUpdatedV1):
                key = event_key(event.seq, event.n)
                if event.order_id not in latest or latest[event.order_id][0] < key:
                    latest[event.order_id] = (key, event)
    return latest


def project_order_status(entries: list[MatchingBatchV1], store: OrderStatusStore) -> int:
    """Returns how many orders changed."""
    return sum(each(lambda latest: store.apply(latest[1], latest[0]), latest_updates(entries).values()))
