"""What the order use cases need: the order store and the lane, as small ABCs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1
from tradestream.orders.model import Order


@dataclass(frozen=True, kw_only=True)
class OrderPage:
    items: list[Order]
    next_cursor: str | None


class OrderStore(ABC):
    @abstractmethod
    def create(self, order: Order) -> Order | None:
        """Insert if the id is new; otherwise return the stored order (nothing written)."""

    @abstractmethod
    def get(self, order_id: str) -> Order | None: ...

    @abstractmethod
    def reject_unqueued(self, order_id: str, reason: str, updated_at: str) -> Order | None:
        """NEW → REJECTED for an order that never reached the lane; None if it moved on meanwhile."""

    @abstractmethod
    def request_cancel(self, order_id: str, updated_at: str) -> Order | None:
        """Set cancelRequested on a live order; None if it is final by now."""

    @abstractmethod
    def list_for_user(
        self, user_id: str, *, ticker: str | None, status: str, limit: int, cursor: str | None
    ) -> OrderPage:
        """Newest first; status is "open", "final" or "all"; cursor as returned by a previous page."""


class PendingOrders(ABC):
    @abstractmethod
    def stragglers(self, *, created_before: str, limit: int) -> list[Order]:
        """Orders the matching engine has not reported on yet, created before the ISO instant."""


class Lane(ABC):
    @abstractmethod
    def send(self, command: OrderPlacedV1 | OrderCancelRequestedV1) -> None:
        """Queue a command on its ticker's lane; raises LaneUnavailable if it could not be queued."""
