"""The emulator floor: the calls the design implies for a workload, made straight against moto.

No Lambda runner, no HTTP edge, no handler code: for the log entries a benchmark phase committed, this
replays exactly the AWS calls the architecture says an order needs, with item and message payloads of
the real size, and times them. What the pipeline achieves is then reported as a fraction of this.

The calls, per the design (ARCHITECTURE.md, "Flow of an order"):
- orders API: one conditional PutItem of the order + one FIFO SendMessage per placement; a cancel is one
  conditional UpdateItem + one SendMessage;
- lane: one ReceiveMessage + one DeleteMessageBatch per ten commands (a lane batch);
- matching: one conditional PutItem per log entry (a ticker's part of a lane batch) + one PutRecords per
  lane batch carrying every entry of it (one more per entry depth when an entry spans records);
- projections, per Kinesis batch: one GetRecords per projection (4), then one conditional write per item
  touched: order status per order; journal rows by BatchWriteItem (25 a call) plus one guarded counter
  update per (user, ticker) and (user, day, ticker); a position per (user, ticker) and a last price per
  ticker; the tape by BatchWriteItem, a candle per (ticker, interval, bucket), the latest trade per ticker.

A Kinesis batch here is a "round": the next log entry of every ticker, which is what a pipeline that
keeps up sees when all tickers trade at once. Rounds run on `threads` client threads, each with its own
FIFO queue and stream (so their calls never wait on each other's messages); every thread writes to the
same tables of a freshly provisioned copy of the template's stack.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from localcloud import template as template_loader
from localcloud.resources import LocalResources, client
from localcloud.tablerouter import routing_handlers, table_routes
from tradestream.adapters.dynamodb.attributes import compress_json
from tradestream.adapters.dynamodb.timekeys import time_key
from tradestream.contracts import MatchingBatchV1, OrderCancelRequestedV1, OrderPlacedV1
from tradestream.lane.state import LogEntry
from tradestream.marketdata import aggregate
from tradestream.money import to_str
from tradestream.projections.journal import counter_keys, transaction_rows
from tradestream.projections.market_data import latest_by_ticker, tape_trades
from tradestream.projections.order_status import latest_updates
from tradestream.projections.portfolio import last_prices, position_batches
from tradestream.projections.runner import event_key

PROJECTIONS = 4
BATCH_WRITE = 25
LANE_BATCH = 10  # the lane event source's BatchSize: commands a matching invocation receives


@dataclass(frozen=True)
class FloorResult:
    orders: int  # placements replayed
    commands: int  # placements and cancels
    entries: int
    rounds: int
    seconds: float
    threads: int
    calls: Counter[tuple[str, str]]

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0


def rounds_of(entries: Sequence[LogEntry]) -> list[list[LogEntry]]:
    """Round r holds the r-th entry of every ticker that has one."""
    by_ticker: dict[str, list[LogEntry]] = {}
    for entry in sorted(entries, key=lambda e: (e.ticker, e.seq)):
        by_ticker.setdefault(entry.ticker, []).append(entry)
    depth = max((len(v) for v in by_ticker.values()), default=0)
    return [[v[r] for v in by_ticker.values() if r < len(v)] for r in range(depth)]


def lane_batches(entries: Sequence[LogEntry]) -> list[list[LogEntry]]:
    """A round's entries as the lane batches that carried them: up to ten commands a batch."""
    batches: list[list[LogEntry]] = []
    size = 0
    for entry in entries:
        if not batches or size + len(entry.commands) > LANE_BATCH:
            batches.append([])
            size = 0
        batches[-1].append(entry)
        size += len(entry.commands)
    return batches


def _s(value: object) -> dict[str, str]:
    return {"S": str(value)}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class _Lane:
    """One client thread's share of the floor: its own FIFO queue and stream, the shared tables."""

    def __init__(
        self,
        tables: dict[str, str],
        tag: str,
        index: int,
        tally: Callable[[str, str], None],
        *,
        endpoint: str,
        dynamodb_endpoint: str,
        table_motos: dict[str, str],
    ):
        self.tables = tables
        self.tally = tally
        self.ddb = client("dynamodb", dynamodb_endpoint)
        # Straight to each table's moto, as the functions' calls go (localcloud/tablerouter.py).
        for event, handler in routing_handlers(table_motos):
            self.ddb.meta.events.register(event, handler)
        self.sqs = client("sqs", endpoint)
        self.kinesis = client("kinesis", endpoint)
        self.queue = self.sqs.create_queue(
            QueueName=f"{tag}-lane-{index}.fifo",
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",
                "DeduplicationScope": "messageGroup",
                "FifoThroughputLimit": "perMessageGroupId",
                "VisibilityTimeout": "60",
            },
        )["QueueUrl"]
        self.stream = f"{tag}-events-{index}"
        self.kinesis.create_stream(StreamName=self.stream, ShardCount=1)
        self.kinesis.get_waiter("stream_exists").wait(
            StreamName=self.stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
        )
        shard = self.kinesis.list_shards(StreamName=self.stream)["Shards"][0]["ShardId"]
        self.iterators = [
            self.kinesis.get_shard_iterator(
                StreamName=self.stream, ShardId=shard, ShardIteratorType="LATEST"
            )["ShardIterator"]
            for _ in range(PROJECTIONS)
        ]

    def call(self, service: Any, name: str, operation: str, **kwargs: Any) -> Any:
        self.tally(name, operation)
        try:
            return getattr(service, _snake(operation))(**kwargs)
        except ClientError as exc:
            # A refused condition still cost moto the whole evaluation; rounds on different threads
            # may reach a guarded item out of order, which the real projections would retry or skip.
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return {}

    # --- the API, the lane, matching ------------------------------------------------------------
    def api(self, command: OrderPlacedV1 | OrderCancelRequestedV1) -> None:
        if isinstance(command, OrderPlacedV1):
            self.call(
                self.ddb,
                "dynamodb",
                "PutItem",
                TableName=self.tables["OrdersTable"],
                Item=_order_item(command),
                ConditionExpression="attribute_not_exists(orderId)",
            )
        else:
            self.call(
                self.ddb,
                "dynamodb",
                "UpdateItem",
                TableName=self.tables["OrdersTable"],
                Key={"orderId": _s(command.order_id)},
                UpdateExpression="SET cancelRequested = :t, updatedAt = :u",
                ConditionExpression="attribute_not_exists(orderId) OR #s IN (:new, :partial)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":t": {"BOOL": True},
                    ":u": _s(time_key(command.requested_at)),
                    ":new": _s("NEW"),
                    ":partial": _s("PARTIALLY_FILLED"),
                },
            )
        self.call(
            self.sqs,
            "sqs",
            "SendMessage",
            QueueUrl=self.queue,
            MessageBody=command.model_dump_json(by_alias=True),
            MessageGroupId=command.ticker,
            MessageDeduplicationId=command.command_id,
        )

    def lane(self, expected: int) -> None:
        received: list[str] = []
        while len(received) < expected:
            messages = self.call(
                self.sqs,
                "sqs",
                "ReceiveMessage",
                QueueUrl=self.queue,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            received.extend(m["ReceiptHandle"] for m in messages)
            self.call(
                self.sqs,
                "sqs",
                "DeleteMessageBatch",
                QueueUrl=self.queue,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def matching(self, batch: list[LogEntry]) -> None:
        for entry in batch:
            self.call(
                self.ddb,
                "dynamodb",
                "PutItem",
                TableName=self.tables["BookLogTable"],
                Item={
                    "ticker": _s(entry.ticker),
                    "seq": _n(entry.seq),
                    "entry": {"B": compress_json(entry.to_item())},
                },
                ConditionExpression="attribute_not_exists(ticker)",
            )
        records = [(entry.ticker, entry.records()) for entry in batch]
        for depth in range(max(len(chunks) for _, chunks in records)):
            self.call(
                self.kinesis,
                "kinesis",
                "PutRecords",
                StreamName=self.stream,
                Records=[
                    {"Data": chunks[depth].model_dump_json(by_alias=True).encode(), "PartitionKey": ticker}
                    for ticker, chunks in records
                    if depth < len(chunks)
                ],
            )

    # --- the projections ----------------------------------------------------------------------------
    def projections(self, published: list[MatchingBatchV1]) -> None:
        for i, iterator in enumerate(self.iterators):
            response = self.call(self.kinesis, "kinesis", "GetRecords", ShardIterator=iterator, Limit=100)
            self.iterators[i] = response["NextShardIterator"]
        self._order_status(published)
        self._journal(published)
        self._portfolio(published)
        self._market_data(published)

    def _guarded_update(self, table: str, key: dict[str, Any], sets: dict[str, Any], guard: int) -> None:
        names = {f"#a{i}": name for i, name in enumerate(sets)}
        values = {f":v{i}": value for i, value in enumerate(sets.values())}
        self.call(
            self.ddb,
            "dynamodb",
            "UpdateItem",
            TableName=self.tables[table],
            Key=key,
            UpdateExpression="SET "
            + ", ".join(f"#a{i} = :v{i}" for i in range(len(sets)))
            + ", lastEventKey = :k",
            ConditionExpression="attribute_not_exists(lastEventKey) OR lastEventKey < :k",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":k": _n(guard)},
        )

    def _order_status(self, published: list[MatchingBatchV1]) -> None:
        for key, update in latest_updates(published).values():
            self._guarded_update(
                "OrdersTable",
                {"orderId": _s(update.order_id)},
                {
                    "status": _s(update.status.value),
                    "filledQuantity": _s(to_str(update.filled_quantity)),
                    "remainingQuantity": _s(to_str(update.remaining_quantity)),
                    "updatedAt": _s(time_key(update.updated_at)),
                },
                key,
            )

    def _batch_write(self, table: str, items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), BATCH_WRITE):
            chunk = items[start : start + BATCH_WRITE]
            self.call(
                self.ddb,
                "dynamodb",
                "BatchWriteItem",
                RequestItems={self.tables[table]: [{"PutRequest": {"Item": item}} for item in chunk]},
            )

    def _journal(self, published: list[MatchingBatchV1]) -> None:
        rows = transaction_rows(published)
        self._batch_write(
            "TransactionsTable",
            [
                {
                    "userId": _s(r.user_id),
                    "sortKey": _s(
                        f"{time_key(r.executed_at)}#{r.ticker}#{r.seq:012d}#{r.n:06d}#{r.side.value}"
                    ),
                    "userTicker": _s(f"{r.user_id}#{r.ticker}"),
                    "id": _s(r.id),
                    "tradeId": _s(r.trade_id),
                    "orderId": _s(r.order_id),
                    "side": _s(r.side.value),
                    "ticker": _s(r.ticker),
                    "quantity": _s(to_str(r.quantity)),
                    "price": _s(to_str(r.price)),
                    "executedAt": _s(time_key(r.executed_at)),
                    "seq": _n(r.seq),
                    "n": _n(r.n),
                }
                for r in rows
            ],
        )
        for counter, keys in counter_keys(rows).items():
            name = f"TOTAL#{counter.ticker}" if counter.day is None else f"DAY#{counter.day}#{counter.ticker}"
            self.call(
                self.ddb,
                "dynamodb",
                "UpdateItem",
                TableName=self.tables["TransactionCountsTable"],
                Key={"userId": _s(counter.user_id), "counter": _s(name)},
                UpdateExpression="ADD #r :n SET lastEventKey = :k",
                ConditionExpression="attribute_not_exists(lastEventKey) OR lastEventKey < :first",
                ExpressionAttributeNames={"#r": "rows"},
                ExpressionAttributeValues={":n": _n(len(keys)), ":k": _n(keys[-1]), ":first": _n(keys[0])},
            )

    def _portfolio(self, published: list[MatchingBatchV1]) -> None:
        for price in last_prices(published).values():
            self._guarded_update(
                "LastPricesTable",
                {"ticker": _s(price.ticker)},
                {"price": _s(to_str(price.price)), "executedAt": _s(time_key(price.executed_at))},
                event_key(price.seq, price.n),
            )
        for (user, ticker), batch in position_batches(published).items():
            last = max(fill.key for fill in batch.fills)
            self.call(
                self.ddb,
                "dynamodb",
                "PutItem",
                TableName=self.tables["PositionsTable"],
                Item={
                    "userId": _s(user),
                    "ticker": _s(ticker),
                    "quantity": _s(to_str(sum((f.signed_quantity for f in batch.fills), Decimal(0)))),
                    "avgCost": _s("100"),
                    "realizedPnl": _s("0"),
                    "updatedAt": _s(time_key(batch.executed_at[last])),
                    "lastEventKey": _n(event_key(*last)),
                },
                ConditionExpression="attribute_not_exists(userId) OR lastEventKey < :k",
                ExpressionAttributeValues={":k": _n(event_key(*last))},
            )

    def _market_data(self, published: list[MatchingBatchV1]) -> None:
        trades = tape_trades(published)
        if not trades:
            return
        self._batch_write(
            "TradesTable",
            [
                {
                    "ticker": _s(t.ticker),
                    "tradeKey": _s(f"{t.seq:012d}#{t.n:06d}"),
                    "tradeId": _s(t.trade_id),
                    "price": _s(to_str(t.price)),
                    "quantity": _s(to_str(t.quantity)),
                    "takerSide": _s(t.taker_side.value),
                    "executedAt": _s(time_key(t.executed_at)),
                    "seq": _n(t.seq),
                    "n": _n(t.n),
                    "expiresAt": _n(int(t.executed_at.timestamp()) + 30 * 86400),
                }
                for t in trades
            ],
        )
        for delta in aggregate(t.to_trade() for t in trades).values():
            candle = delta.to_candle()
            close = event_key(*candle.close_seq)
            self.call(
                self.ddb,
                "dynamodb",
                "PutItem",
                TableName=self.tables["CandlesTable"],
                Item={
                    "series": _s(f"{candle.ticker}#{candle.interval.value}"),
                    "bucketStart": _s(time_key(candle.bucket_start)),
                    "ticker": _s(candle.ticker),
                    "interval": _s(candle.interval.value),
                    "open": _s(to_str(candle.open)),
                    "high": _s(to_str(candle.high)),
                    "low": _s(to_str(candle.low)),
                    "close": _s(to_str(candle.close)),
                    "volume": _s(to_str(candle.volume)),
                    "trades": _n(candle.trades),
                    "openKey": _n(event_key(*candle.open_seq)),
                    "closeKey": _n(close),
                },
                ConditionExpression="attribute_not_exists(series) OR closeKey < :k",
                ExpressionAttributeValues={":k": _n(close)},
            )
        for trade in latest_by_ticker(trades).values():
            self._guarded_update(
                "TickersTable",
                {"market": _s("ALL"), "ticker": _s(trade.ticker)},
                {"tradeId": _s(trade.trade_id), "price": _s(to_str(trade.price)), "seq": _n(trade.seq)},
                event_key(trade.seq, trade.n),
            )

    def round(self, entries: list[LogEntry]) -> None:
        commands = [command for entry in entries for command in entry.commands]
        for command in commands:
            self.api(command)
        # A receive hands out up to ten messages across message groups, as Lambda's poller gets them.
        self.lane(len(commands))
        for batch in lane_batches(entries):
            self.matching(batch)
        self.projections([entry.published() for entry in entries])


def _snake(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def _order_item(command: OrderPlacedV1) -> dict[str, Any]:
    created = time_key(command.created_at)
    item = {
        "orderId": _s(command.order_id),
        "userId": _s(command.user_id),
        "createdKey": _s(f"{created}#{command.order_id}"),
        "ticker": _s(command.ticker),
        "side": _s(command.side.value),
        "orderType": _s(command.order_type.value),
        "timeInForce": _s(command.time_in_force.value),
        "postOnly": {"BOOL": command.post_only},
        "selfTradePrevention": _s(command.self_trade_prevention.value),
        "quantity": _s(to_str(command.quantity)),
        "status": _s("NEW"),
        "filledQuantity": _s("0"),
        "remainingQuantity": _s(to_str(command.quantity)),
        "cancelRequested": {"BOOL": False},
        "createdAt": _s(created),
        "updatedAt": _s(created),
        "lastEventKey": _n(0),
    }
    if command.price is not None:
        item["price"] = _s(to_str(command.price))
    return item


def replay(
    entries: Sequence[LogEntry],
    *,
    endpoint: str,
    template: Any,
    threads: int = 4,
    dynamodb_endpoint: str | None = None,
    dynamodb_per_table: bool = False,
) -> FloorResult:
    """Provision a fresh copy of the stack's tables on `endpoint`, then replay the entries' floor calls
    (DynamoDB's at `dynamodb_endpoint` when it has a moto of its own, and each table's at its own moto
    with `dynamodb_per_table`, as the functions call them)."""
    tag = f"floor-{uuid.uuid4().hex[:6]}"
    loaded = template_loader.load(template)
    resources = LocalResources(loaded, stack_name=tag, endpoint=endpoint)
    resources.provision()
    tables = {
        lid: resources.names[lid]
        for lid, r in loaded.resources.items()
        if r["Type"] == "AWS::DynamoDB::Table"
    }
    calls: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def tally(service: str, operation: str) -> None:
        with lock:
            calls[(service, operation)] += 1

    table_motos = table_routes(dynamodb_endpoint) if dynamodb_endpoint and dynamodb_per_table else {}
    lanes = [
        _Lane(
            tables,
            tag,
            i,
            tally,
            endpoint=endpoint,
            dynamodb_endpoint=dynamodb_endpoint or endpoint,
            table_motos=table_motos,
        )
        for i in range(threads)
    ]
    rounds = rounds_of(entries)
    started = time.perf_counter()

    def run(index: int) -> None:
        for r in range(index, len(rounds), threads):
            lanes[index].round(rounds[r])

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="floor") as pool:
        list(pool.map(run, range(threads)))
    seconds = time.perf_counter() - started
    commands = [c for e in entries for c in e.commands]
    return FloorResult(
        orders=sum(1 for c in commands if isinstance(c, OrderPlacedV1)),
        commands=len(commands),
        entries=len(entries),
        rounds=len(rounds),
        seconds=seconds,
        threads=threads,
        calls=calls,
    )


def expected_calls(entries: Sequence[LogEntry]) -> Counter[tuple[str, str]]:
    """The floor's calls for these entries without making them (the design's arithmetic)."""
    calls: Counter[tuple[str, str]] = Counter()
    for group in rounds_of(entries):
        commands = [command for entry in group for command in entry.commands]
        for command in commands:
            calls[("dynamodb", "PutItem" if isinstance(command, OrderPlacedV1) else "UpdateItem")] += 1
            calls[("sqs", "SendMessage")] += 1
        calls[("sqs", "ReceiveMessage")] += math.ceil(len(commands) / 10)
        calls[("sqs", "DeleteMessageBatch")] += math.ceil(len(commands) / 10)
        for batch in lane_batches(group):
            calls[("dynamodb", "PutItem")] += len(batch)
            calls[("kinesis", "PutRecords")] += max(len(entry.records()) for entry in batch)
        published = [e.published() for e in group]
        calls[("kinesis", "GetRecords")] += PROJECTIONS
        rows = transaction_rows(published)
        trades = tape_trades(published)
        calls[("dynamodb", "UpdateItem")] += len(latest_updates(published)) + len(counter_keys(rows))
        calls[("dynamodb", "UpdateItem")] += len(last_prices(published)) + len(latest_by_ticker(trades))
        calls[("dynamodb", "BatchWriteItem")] += math.ceil(len(rows) / BATCH_WRITE) + math.ceil(
            len(trades) / BATCH_WRITE
        )
        calls[("dynamodb", "PutItem")] += len(position_batches(published))
        calls[("dynamodb", "PutItem")] += len(aggregate(t.to_trade() for t in trades)) if trades else 0
    return calls
