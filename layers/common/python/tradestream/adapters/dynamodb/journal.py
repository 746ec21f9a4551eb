"""The journal on DynamoDB: transaction rows keyed for per-user time order, and their guarded counts.

Rows: hash ``userId``, range ``sortKey`` = ``{executedAt, µs}#{ticker}#{seq}#{n}#{side}``, so one user's
rows come back in time order from one partition (``since`` is a key condition), with a ``byUserTicker``
index for one ticker. Counts: hash ``userId``, range ``TOTAL#{ticker}`` or ``DAY#{yyyy-mm-dd}#{ticker}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from tradestream.adapters.dynamodb.attributes import DecimalAttribute
from tradestream.adapters.dynamodb.base import bind, condition_failed, update_guarded
from tradestream.adapters.dynamodb.timekeys import parse_time_key, time_key
from tradestream.portfolio import Side
from tradestream.projections.errors import GuardConflict
from tradestream.projections.guard import CAS_ATTEMPTS
from tradestream.projections.journal import CounterKey, TransactionRow, TransactionStore
from tradestream.queries.transactions import TransactionReader

_TOTAL = "TOTAL#"
_DAY = "DAY#"


def _sort_key(row: TransactionRow) -> str:
    return f"{time_key(row.executed_at)}#{row.ticker}#{row.seq:012d}#{row.n:06d}#{row.side.value}"


def _counter_name(counter: CounterKey) -> str:
    if counter.day is None:
        return f"{_TOTAL}{counter.ticker}"
    return f"{_DAY}{counter.day.isoformat()}#{counter.ticker}"


class ByUserTickerIndex(GlobalSecondaryIndex["TransactionModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "byUserTicker"
        projection = AllProjection()

    userTicker = UnicodeAttribute(hash_key=True)
    sortKey = UnicodeAttribute(range_key=True)


class TransactionModel(Model):
    userId = UnicodeAttribute(hash_key=True)
    sortKey = UnicodeAttribute(range_key=True)
    userTicker = UnicodeAttribute()
    id = UnicodeAttribute()
    tradeId = UnicodeAttribute()
    orderId = UnicodeAttribute()
    side = UnicodeAttribute()
    ticker = UnicodeAttribute()
    quantity = DecimalAttribute()
    price = DecimalAttribute()
    executedAt = UnicodeAttribute()
    seq = NumberAttribute()
    n = NumberAttribute()
    byUserTicker = ByUserTickerIndex()


class TransactionCountModel(Model):
    userId = UnicodeAttribute(hash_key=True)
    counter = UnicodeAttribute(range_key=True)
    rows = NumberAttribute()
    # The counter's sequence guard: event_key(seq, n) of the newest row it counted.
    lastEventKey = NumberAttribute()


def _to_row(item: TransactionModel) -> TransactionRow:
    return TransactionRow(
        trade_id=item.tradeId,
        order_id=item.orderId,
        user_id=item.userId,
        side=Side(item.side),
        ticker=item.ticker,
        quantity=item.quantity,
        price=item.price,
        executed_at=parse_time_key(item.executedAt),
        seq=int(item.seq),
        n=int(item.n),
    )


class DynamoTransactionStore(TransactionStore):
    def __init__(self, rows_table: str, counts_table: str) -> None:
        self.rows = bind(TransactionModel, rows_table)
        self.counts = bind(TransactionCountModel, counts_table)

    def put_rows(self, rows: Sequence[TransactionRow]) -> None:
        # BatchWriteItem, 25 puts a call; pynamodb resends unprocessed items and raises if some remain.
        with self.rows.batch_write() as batch:
            for row in rows:
                batch.save(
                    self.rows(
                        row.user_id,
                        _sort_key(row),
                        userTicker=f"{row.user_id}#{row.ticker}",
                        id=row.id,
                        tradeId=row.trade_id,
                        orderId=row.order_id,
                        side=row.side.value,
                        ticker=row.ticker,
                        quantity=row.quantity,
                        price=row.price,
                        executedAt=time_key(row.executed_at),
                        seq=row.seq,
                        n=row.n,
                    )
                )

    def count(self, counter: CounterKey, keys: Sequence[int]) -> int:
        if not keys:
            return 0
        m = self.counts
        item = m(counter.user_id, _counter_name(counter))
        # The usual case, one write: every key is after the guard (or the counter is new).
        if self._add(item, len(keys), keys[-1], m.lastEventKey.does_not_exist() | (m.lastEventKey < keys[0])):
            return len(keys)
        # Refused: the batch was applied before, or straddles the guard. Count only what is after it.
        for _ in range(CAS_ATTEMPTS):
            try:
                stored = m.get(counter.user_id, _counter_name(counter), consistent_read=True)
            except m.DoesNotExist:
                stored_key = None
            else:
                stored_key = int(stored.lastEventKey)
            fresh = [key for key in keys if stored_key is None or key > stored_key]
            if not fresh:
                return 0
            guard = m.lastEventKey.does_not_exist() if stored_key is None else m.lastEventKey == stored_key
            if self._add(item, len(fresh), keys[-1], guard):
                return len(fresh)
        raise GuardConflict(f"counter {counter} kept changing under its conditional writes")

    def _add(self, item: TransactionCountModel, rows: int, last_key: int, condition: Any) -> bool:
        m = self.counts
        try:
            update_guarded(item, [m.rows.add(rows), m.lastEventKey.set(last_key)], condition)
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True


class DynamoTransactionReader(TransactionReader):
    def __init__(self, rows_table: str, counts_table: str) -> None:
        self.rows_model = bind(TransactionModel, rows_table)
        self.counts = bind(TransactionCountModel, counts_table)

    def count(self, user_id: str, ticker: str | None) -> int:
        m = self.counts
        if ticker is not None:
            try:
                return int(m.get(user_id, f"{_TOTAL}{ticker}").rows)
            except m.DoesNotExist:
                return 0
        return sum(int(item.rows) for item in m.query(user_id, m.counter.startswith(_TOTAL)))

    def count_days(self, user_id: str, first_day: date) -> int:
        m = self.counts
        # "~" sorts after every digit: DAY#<first_day> .. DAY#~ is that day and every later one.
        condition = m.counter.between(f"{_DAY}{first_day.isoformat()}", f"{_DAY}~")
        return sum(int(item.rows) for item in m.query(user_id, condition))

    def count_between(self, user_id: str, start: datetime, end: datetime) -> int:
        m = self.rows_model
        # Rows at exactly `end` sort after the bare time prefix, so `between` leaves them out.
        last = time_key(end - timedelta(microseconds=1)) + "#~"
        return m.count(user_id, m.sortKey.between(time_key(start), last))

    def rows(
        self,
        user_id: str,
        *,
        ticker: str | None,
        since: datetime | None,
        ascending: bool,
        offset: int,
        limit: int,
    ) -> list[TransactionRow]:
        m = self.rows_model
        results: Iterator[TransactionModel]
        # DynamoDB has no offset: the page's predecessors are read and skipped, page_size keeping the
        # number of round trips low. Deep pages cost more; the page/size contract of the API asks for it.
        page_size = min(1000, offset + limit)
        if ticker is not None:
            results = m.byUserTicker.query(
                f"{user_id}#{ticker}", scan_index_forward=ascending, limit=offset + limit, page_size=page_size
            )
        else:
            condition = m.sortKey >= time_key(since) if since is not None else None
            results = m.query(
                user_id, condition, scan_index_forward=ascending, limit=offset + limit, page_size=page_size
            )
        return [_to_row(item) for index, item in enumerate(results) if index >= offset]
