"""Reads a deployment's tables and queues into a `Dataset`: paginated Scans, peeked (never consumed) DLQs.

Scan is the right tool here and nowhere else: the audit is offline and reads every item once, while a
request path must never pay for a whole table. Items are decoded from DynamoDB's wire format by hand
(the shapes the adapters write), so the audit does not depend on the adapters it checks.

Read order matters on a system that still moves: the orders table first, then the log, then the
projections. Everything an order's status claims was committed to the log before it was projected,
so reading the log later can only show more, never less, than the orders imply.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer

from tradestream.adapters.dynamodb.attributes import decompress_json
from tradestream.adapters.dynamodb.timekeys import parse_time_key
from tradestream.audit.dataset import (
    CandleRecord,
    CountRecord,
    Dataset,
    DeadLetter,
    JournalRecord,
    LastPriceRecord,
    OrderRecord,
    PositionRecord,
    QueueState,
    SnapshotRecord,
    TapeRecord,
    ViewRecord,
)
from tradestream.lane.state import LogEntry
from tradestream.marketdata import Interval
from tradestream.matching import OrderStatus, OrderType, Side, TimeInForce
from tradestream.portfolio import Side as AccountSide
from tradestream.projections.guard import seq_key_of

T = TypeVar("T")
Item = dict[str, Any]
# Long enough to list a queue in one pass, short enough that a consumer barely notices; the audit
# releases what it received at once anyway (visibility 0), so this only matters if the audit dies.
PEEK_VISIBILITY_SECONDS = 10

TABLES = (
    "OrdersTable",
    "BookLogTable",
    "BookSnapshotsTable",
    "BookViewsTable",
    "TransactionsTable",
    "TransactionCountsTable",
    "PositionsTable",
    "LastPricesTable",
    "CandlesTable",
    "TradesTable",
    "TickersTable",
)
LANE = "OrdersLane"
DEAD_LETTER_QUEUES = ("OrdersLaneDLQ", "ProjectionsDLQ")


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """Physical names by logical id: table names, and queue URLs."""

    tables: dict[str, str]
    queues: dict[str, str]


_deserializer = TypeDeserializer()


def _plain(item: dict[str, Any]) -> Item:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _bytes(value: Any) -> bytes:
    return bytes(value)  # boto3's Binary converts itself


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def scan(dynamodb: Any, table: str) -> Iterator[Item]:
    """Every item of a table, page by page (consistent reads: the audit must see committed writes)."""
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            yield _plain(item)


# --- item decoders (the adapters' item shapes) ------------------------------------------------------


def order(item: Item) -> OrderRecord:
    return OrderRecord(
        order_id=item["orderId"],
        user_id=item["userId"],
        ticker=item["ticker"],
        side=Side(item["side"]),
        order_type=OrderType(item["orderType"]),
        time_in_force=TimeInForce(item["timeInForce"]),
        quantity=Decimal(item["quantity"]),
        price=_decimal(item.get("price")),
        status=OrderStatus(item["status"]),
        filled_quantity=Decimal(item["filledQuantity"]),
        remaining_quantity=Decimal(item["remainingQuantity"]),
        avg_fill_price=_decimal(item.get("avgFillPrice")),
        reject_reason=item.get("rejectReason"),
        created_at=_iso(item["createdAt"]),
        updated_at=_iso(item["updatedAt"]),
    )


def log_entry(item: Item) -> LogEntry:
    return LogEntry.from_item(item["ticker"], int(item["seq"]), decompress_json(_bytes(item["entry"])))


def snapshot(item: Item) -> SnapshotRecord:
    state = decompress_json(_bytes(item["state"]))
    return SnapshotRecord(ticker=item["ticker"], head=int(item["head"]), state=state)


def view(item: Item) -> ViewRecord:
    def levels(raw: Any) -> list[tuple[str, str, int]]:
        decoded = json.loads(raw) if isinstance(raw, str) else raw
        return [(str(p), str(q), int(n)) for p, q, n in decoded]

    return ViewRecord(
        ticker=item["ticker"], seq=int(item["seq"]), bids=levels(item["bids"]), asks=levels(item["asks"])
    )


def journal_row(item: Item) -> JournalRecord:
    return JournalRecord(
        user_id=item["userId"],
        sort_key=item["sortKey"],
        trade_id=item["tradeId"],
        order_id=item["orderId"],
        side=AccountSide(item["side"]),
        ticker=item["ticker"],
        quantity=Decimal(item["quantity"]),
        price=Decimal(item["price"]),
        executed_at=parse_time_key(item["executedAt"]),
        seq=int(item["seq"]),
        n=int(item["n"]),
    )


def count(item: Item) -> CountRecord:
    kind, _, rest = str(item["counter"]).partition("#")
    if kind == "TOTAL":
        return CountRecord(user_id=item["userId"], ticker=rest, day=None, rows=int(item["rows"]))
    day, _, ticker = rest.partition("#")
    if kind != "DAY" or not ticker:
        raise ValueError(f"unknown counter {item['counter']!r}")
    return CountRecord(user_id=item["userId"], ticker=ticker, day=day, rows=int(item["rows"]))


def position(item: Item) -> PositionRecord:
    return PositionRecord(
        user_id=item["userId"],
        ticker=item["ticker"],
        quantity=Decimal(item["quantity"]),
        avg_cost=Decimal(item["avgCost"]),
        realized_pnl=Decimal(item["realizedPnl"]),
    )


def last_price(item: Item) -> LastPriceRecord:
    seq, n = seq_key_of(int(item["lastEventKey"]))
    return LastPriceRecord(ticker=item["ticker"], price=Decimal(item["price"]), seq=seq, n=n)


def candle(item: Item) -> CandleRecord:
    return CandleRecord(
        ticker=item["ticker"],
        interval=Interval(item["interval"]),
        bucket_start=parse_time_key(item["bucketStart"]),
        open=Decimal(item["open"]),
        high=Decimal(item["high"]),
        low=Decimal(item["low"]),
        close=Decimal(item["close"]),
        volume=Decimal(item["volume"]),
        trades=int(item["trades"]),
        open_seq=seq_key_of(int(item["openKey"])),
        close_seq=seq_key_of(int(item["closeKey"])),
    )


def tape(item: Item) -> TapeRecord:
    return TapeRecord(
        ticker=item["ticker"],
        trade_id=item["tradeId"],
        price=Decimal(item["price"]),
        quantity=Decimal(item["quantity"]),
        seq=int(item["seq"]),
        n=int(item["n"]),
    )


def _key_of(item: Item) -> str:
    keys = ("orderId", "ticker", "seq", "userId", "sortKey", "counter", "series", "bucketStart", "tradeKey")
    return "/".join(str(item[k]) for k in keys if k in item)


# --- queues ----------------------------------------------------------------------------------------------


def reason_of(message: dict[str, Any]) -> str:
    """Why a message is on a DLQ: our `reason` attribute, Lambda's on-failure record, or SQS's redrive."""
    attribute = message.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
    if attribute:
        return str(attribute)
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("requestContext"), dict):
        info = body.get("KinesisBatchInfo") or {}
        return (
            f"{body['requestContext'].get('condition', 'failure')}: shard {info.get('shardId')} records "
            f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')} ({info.get('batchSize')})"
        )
    receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
    return f"no reason attribute: redriven by SQS after {receives} receives"


def peek(sqs: Any, name: str, url: str, *, limit: int) -> tuple[list[DeadLetter], QueueState]:
    """Up to `limit` messages of a queue, released again at once; and its approximate depth."""
    state = queue_state(sqs, name, url)
    letters: dict[str, DeadLetter] = {}
    handles: list[str] = []
    try:
        while len(letters) < limit:
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(letters)),
                VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                letters[message["MessageId"]] = DeadLetter(
                    queue=name,
                    message_id=message["MessageId"],
                    reason=reason_of(message),
                    body=str(message.get("Body", "")),
                    receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                )
    finally:
        for start in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(handles[start : start + 10])
                ],
            )
    return list(letters.values()), state


def queue_state(sqs: Any, name: str, url: str) -> QueueState:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return QueueState(
        queue=name,
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


# --- the whole reading ------------------------------------------------------------------------------------


class Reader:
    def __init__(self, deployment: Deployment, *, dynamodb: Any, sqs: Any, peek_limit: int = 100) -> None:
        self.deployment = deployment
        self.dynamodb = dynamodb
        self.sqs = sqs
        self.peek_limit = peek_limit

    def _decode(self, data: Dataset, logical_id: str, decode: Callable[[Item], T]) -> list[T]:
        records: list[T] = []
        for item in scan(self.dynamodb, self.deployment.tables[logical_id]):
            try:
                records.append(decode(item))
            except (KeyError, TypeError, ValueError, ArithmeticError, zlib.error) as exc:
                data.undecodable.append((logical_id, _key_of(item), f"{type(exc).__name__}: {exc}"))
        return records

    def read(self, now: datetime | None = None) -> Dataset:
        data = Dataset(read_at=now or datetime.now(UTC))
        data.orders = self._decode(data, "OrdersTable", order)
        for entry in self._decode(data, "BookLogTable", log_entry):
            data.log.setdefault(entry.ticker, []).append(entry)
        data.snapshots = {s.ticker: s for s in self._decode(data, "BookSnapshotsTable", snapshot)}
        data.views = {v.ticker: v for v in self._decode(data, "BookViewsTable", view)}
        data.journal = self._decode(data, "TransactionsTable", journal_row)
        data.counts = self._decode(data, "TransactionCountsTable", count)
        data.positions = self._decode(data, "PositionsTable", position)
        data.last_prices = self._decode(data, "LastPricesTable", last_price)
        data.candles = self._decode(data, "CandlesTable", candle)
        data.tape = self._decode(data, "TradesTable", tape)
        data.tickers = self._decode(data, "TickersTable", tape)
        data.queues.append(queue_state(self.sqs, LANE, self.deployment.queues[LANE]))
        for name in DEAD_LETTER_QUEUES:
            letters, state = peek(self.sqs, name, self.deployment.queues[name], limit=self.peek_limit)
            data.dead_letters.extend(letters)
            data.queues.append(state)
        return data
