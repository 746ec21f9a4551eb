"""What the matching use case needs: the book log, snapshots, the book view, the stream and the DLQ."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from tradestream.contracts import MatchingBatchV1
from tradestream.lane.state import LogEntry
from tradestream.observability import logger as log


class BookLog(ABC):
    @abstractmethod
    def append(self, entry: LogEntry) -> bool:
        """Conditional put of (ticker, seq): the commit point. False if that seq is already taken."""

    @abstractmethod
    def get(self, ticker: str, seq: int) -> LogEntry | None: ...

    @abstractmethod
    def entries_after(self, ticker: str, seq: int) -> list[LogEntry]:
        """Committed entries with a greater seq, in order (cold starts only)."""


class SnapshotStore(ABC):
    @abstractmethod
    def latest(self, ticker: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def save(self, ticker: str, snapshot: dict[str, Any]) -> None:
        """Keep the snapshot unless a newer one (greater head) is already stored."""


class BookViewStore(ABC):
    @abstractmethod
    def save(
        self, ticker: str, seq: int, bids: list[tuple[str, str, int]], asks: list[tuple[str, str, int]]
    ) -> None:
        """The top of the book after entry seq, for GET /api/orderbook (price, quantity, orders)."""

    @abstractmethod
    def get(
        self, ticker: str
    ) -> tuple[int, list[tuple[str, str, int]], list[tuple[str, str, int]]] | None: ...


class EventPublisher(ABC):
    @abstractmethod
    def publish(self, batches: list[MatchingBatchV1]) -> None:
        """All or nothing from the caller's view: raise unless every batch reached the stream."""

    def publish_tickers(self, batches: Mapping[str, list[MatchingBatchV1]]) -> set[str]:
        """Each ticker's batches in order, tickers independent of each other: returns the tickers whose
        batches did not all reach the stream (a prefix of them may have). An adapter that can put
        several tickers in one call overrides this; this one publishes ticker by ticker."""
        failed: set[str] = set()
        for ticker, batch in batches.items():
            try:
                self.publish(batch)
            except Exception:
                log.exception("%s: entries not published; they will be retried", ticker)
                failed.add(ticker)
        return failed


class DeadLetters(ABC):
    @abstractmethod
    def send(self, *, body: str, reason: str, message_id: str, group_id: str | None) -> None: ...
