"""In-memory BookLog, SnapshotStore, BookViewStore, EventPublisher and DeadLetters for the matching use case.

They keep what DynamoDB, Kinesis and SQS would keep, with the same semantics: the log's append is a
conditional put (False when the seq is taken), entries and snapshots go through their JSON form (so
what cannot be stored cannot pass a test), the snapshot and view stores keep the newest. Each can be
told to fail, and records what reached it, so tests assert on storage, not on calls.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradestream.contracts import MatchingBatchV1
from tradestream.lane.ports import BookLog, BookViewStore, DeadLetters, EventPublisher, SnapshotStore
from tradestream.lane.state import LogEntry

Levels = list[tuple[str, str, int]]


class PublishRefused(Exception):
    """What the fake stream raises when told to fail (Kinesis throttling, an outage)."""


class StoreDown(Exception):
    """What a fake store raises when told to fail."""


class InMemoryBookLog(BookLog):
    """(ticker, seq) → the entry's stored item. `before_append` runs inside append, before the check:
    the moment another writer's put may land (tests stage a conflict there)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, int], dict[str, Any]] = {}
        self._lock = threading.RLock()
        self.before_append: Callable[[LogEntry], None] | None = None
        self.appends = 0
        self.refused = 0
        self.reads_after: list[tuple[str, int]] = []

    def append(self, entry: LogEntry) -> bool:
        if self.before_append is not None:
            hook, self.before_append = self.before_append, None  # one shot
            hook(entry)
        with self._lock:  # attribute_not_exists(ticker) on the key (ticker, seq)
            key = (entry.ticker, entry.seq)
            if key in self._items:
                self.refused += 1
                return False
            self._items[key] = json.loads(json.dumps(entry.to_item()))
            self.appends += 1
            return True

    def get(self, ticker: str, seq: int) -> LogEntry | None:
        with self._lock:
            item = self._items.get((ticker, seq))
        return None if item is None else LogEntry.from_item(ticker, seq, copy.deepcopy(item))

    def entries_after(self, ticker: str, seq: int) -> list[LogEntry]:
        self.reads_after.append((ticker, seq))
        with self._lock:
            keys = sorted(k for k in self._items if k[0] == ticker and k[1] > seq)
            return [LogEntry.from_item(t, s, copy.deepcopy(self._items[(t, s)])) for t, s in keys]

    def seqs(self, ticker: str) -> list[int]:
        with self._lock:
            return sorted(s for t, s in self._items if t == ticker)


class InMemorySnapshotStore(SnapshotStore):
    def __init__(self) -> None:
        self._snapshots: dict[str, str] = {}
        self.saves = 0
        self.fail = False

    def latest(self, ticker: str) -> dict[str, Any] | None:
        stored = self._snapshots.get(ticker)
        if stored is None:
            return None
        snapshot: dict[str, Any] = json.loads(stored)
        return snapshot

    def save(self, ticker: str, snapshot: dict[str, Any]) -> None:
        if self.fail:
            raise StoreDown("snapshot store is down")
        encoded = json.dumps(snapshot)  # what cannot be JSON cannot be a snapshot
        current = self.latest(ticker)
        if current is None or int(current["head"]) < int(snapshot["head"]):
            self._snapshots[ticker] = encoded
            self.saves += 1

    def head(self, ticker: str) -> int | None:
        current = self.latest(ticker)
        return None if current is None else int(current["head"])


class InMemoryBookViewStore(BookViewStore):
    def __init__(self) -> None:
        self._views: dict[str, tuple[int, Levels, Levels]] = {}
        self.fail = False
        self.attempts: list[tuple[str, int]] = []  # every save asked for, refused or not

    def save(self, ticker: str, seq: int, bids: Levels, asks: Levels) -> None:
        self.attempts.append((ticker, seq))
        if self.fail:
            raise StoreDown("view store is down")
        current = self._views.get(ticker)
        if current is None or current[0] < seq:
            self._views[ticker] = (seq, list(bids), list(asks))

    def get(self, ticker: str) -> tuple[int, Levels, Levels] | None:
        return self._views.get(ticker)


class RecordingPublisher(EventPublisher):
    """The stream: `records` holds every batch that reached it, in order (duplicates included).

    `fail_next` refuses that many publish calls; `fail_tickers` refuses any call carrying one of them.
    """

    def __init__(self) -> None:
        self.records: list[MatchingBatchV1] = []
        self.fail_next = 0
        self.fail_tickers: set[str] = set()
        self.calls = 0

    def publish(self, batches: list[MatchingBatchV1]) -> None:
        self.calls += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise PublishRefused("the stream refused the records")
        if any(b.ticker in self.fail_tickers for b in batches):
            raise PublishRefused("the stream refused the records")
        # What the stream keeps is the JSON, so round-trip it the way a consumer will read it back.
        self.records.extend(
            MatchingBatchV1.model_validate_json(b.model_dump_json(by_alias=True)) for b in batches
        )

    def event_ids(self) -> list[str]:
        return [e.event_id for b in self.records for e in b.events]


@dataclass(frozen=True, kw_only=True)
class ParkedMessage:
    body: str
    reason: str
    message_id: str
    group_id: str | None


class InMemoryDeadLetters(DeadLetters):
    def __init__(self) -> None:
        self.parked: list[ParkedMessage] = []
        self.fail = False

    def send(self, *, body: str, reason: str, message_id: str, group_id: str | None) -> None:
        if self.fail:
            raise StoreDown("the DLQ is down")
        self.parked.append(ParkedMessage(body=body, reason=reason, message_id=message_id, group_id=group_id))
