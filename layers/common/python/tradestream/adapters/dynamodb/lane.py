"""The event-sourced books on DynamoDB: the log (the commit point), snapshots and the top-of-book view."""

from __future__ import annotations

import time
from typing import Any

from pynamodb.attributes import BinaryAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from tradestream.adapters.dynamodb.attributes import CompressedJSONAttribute, compress_json, decompress_json
from tradestream.adapters.dynamodb.base import bind, condition_failed, throttled
from tradestream.lane.ports import BookLog, BookViewStore, SnapshotStore
from tradestream.lane.state import LogEntry
from tradestream.observability import logger as log

# DynamoDB items stop at 400 KB; a compressed book above this is skipped (the log still rebuilds it).
_MAX_SNAPSHOT_BYTES = 350_000


class BookLogModel(Model):
    ticker = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    entry = CompressedJSONAttribute()


class SnapshotModel(Model):
    ticker = UnicodeAttribute(hash_key=True)
    head = NumberAttribute()
    state = BinaryAttribute(legacy_encoding=False)  # zlib-compressed JSON


class BookViewModel(Model):
    ticker = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute()
    bids = JSONAttribute()
    asks = JSONAttribute()


class DynamoBookLog(BookLog):
    def __init__(self, table_name: str) -> None:
        self.model = bind(BookLogModel, table_name)

    def append(self, entry: LogEntry) -> bool:
        try:
            self.model(entry.ticker, entry.seq, entry=entry.to_item()).save(
                condition=self.model.ticker.does_not_exist()
            )
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def get(self, ticker: str, seq: int) -> LogEntry | None:
        try:
            item = self.model.get(ticker, seq, consistent_read=True)
        except self.model.DoesNotExist:
            return None
        return LogEntry.from_item(ticker, seq, item.entry)

    def entries_after(self, ticker: str, seq: int) -> list[LogEntry]:
        return [
            LogEntry.from_item(ticker, int(item.seq), item.entry)
            for item in self.model.query(ticker, self.model.seq > seq, consistent_read=True)
        ]


class DynamoSnapshotStore(SnapshotStore):
    def __init__(self, table_name: str) -> None:
        self.model = bind(SnapshotModel, table_name)

    def latest(self, ticker: str) -> dict[str, Any] | None:
        try:
            item = self.model.get(ticker, consistent_read=True)
        except self.model.DoesNotExist:
            return None
        snapshot: dict[str, Any] = decompress_json(item.state)
        return snapshot

    def save(self, ticker: str, snapshot: dict[str, Any]) -> None:
        state = compress_json(snapshot)
        if len(state) > _MAX_SNAPSHOT_BYTES:
            log.warning("%s: snapshot of %d bytes is too large for one item; skipped", ticker, len(state))
            return
        head = int(snapshot["head"])
        m = self.model
        try:
            m(ticker, head=head, state=state).save(condition=m.ticker.does_not_exist() | (m.head < head))
        except PutError as exc:
            if not condition_failed(exc):
                raise


# A view write throttled past the SDK's retries is tried this many times in all (again after 50, then
# 100 ms): a view left unwritten stays behind its log until the ticker's next commit rewrites it.
VIEW_ATTEMPTS = 3


class DynamoBookViewStore(BookViewStore):
    def __init__(self, table_name: str) -> None:
        self.model = bind(BookViewModel, table_name)

    def save(
        self, ticker: str, seq: int, bids: list[tuple[str, str, int]], asks: list[tuple[str, str, int]]
    ) -> None:
        m = self.model
        view = m(ticker, seq=seq, bids=bids, asks=asks)
        for attempt in range(VIEW_ATTEMPTS):
            try:
                view.save(condition=m.ticker.does_not_exist() | (m.seq < seq))
                return
            except PutError as exc:
                if condition_failed(exc):  # an older view arriving late changes nothing
                    return
                if not throttled(exc) or attempt + 1 == VIEW_ATTEMPTS:
                    raise
            time.sleep(0.05 * 2**attempt)

    def get(self, ticker: str) -> tuple[int, list[tuple[str, str, int]], list[tuple[str, str, int]]] | None:
        try:
            item = self.model.get(ticker)
        except self.model.DoesNotExist:
            return None
        return int(item.seq), [tuple(level) for level in item.bids], [tuple(level) for level in item.asks]
