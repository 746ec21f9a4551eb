"""moto's own CPU per call, per operation, on the template's tables: where the emulator's time goes.

    python bench/e2e/moto_costs.py --calls 300

Starts moto as the local cloud runs it, provisions the template's resources, then makes each kind of
call the pipeline makes `--calls` times from one client thread and reads moto's CPU time from /proc
around each kind: CPU milliseconds per call inside moto (what limits the emulator's throughput), next
to the wall-clock milliseconds the client waited. Orders are pre-loaded so the tables are not empty.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _path in (str(ROOT / "layers" / "common" / "python"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from localcloud import template as template_loader  # noqa: E402 - importable once the lines above ran
from localcloud.cloud import free_port, wait_for_port  # noqa: E402
from localcloud.resources import LocalResources, client  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def order_item(order_id: str, user: str) -> dict[str, Any]:
    return {
        "orderId": {"S": order_id},
        "userId": {"S": user},
        "createdKey": {"S": f"2026-01-05T10:00:00.000000Z#{order_id}"},
        "ticker": {"S": "AAPL"},
        "side": {"S": "BUY"},
        "orderType": {"S": "LIMIT"},
        "timeInForce": {"S": "GTC"},
        "postOnly": {"BOOL": False},
        "selfTradePrevention": {"S": "CANCEL_TAKER"},
        "quantity": {"S": "10"},
        "price": {"S": "100.5"},
        "status": {"S": "NEW"},
        "filledQuantity": {"S": "0"},
        "remainingQuantity": {"S": "10"},
        "cancelRequested": {"BOOL": False},
        "createdAt": {"S": "2026-01-05T10:00:00.000Z"},
        "updatedAt": {"S": "2026-01-05T10:00:00.000Z"},
        "lastEventKey": {"N": "0"},
        "pendingShard": {"S": f"pending#{hash(order_id) % 8}"},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--preload", type=int, default=3000, help="orders in the table before measuring")
    args = parser.parse_args()
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "localcloud.motoserver", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        wait_for_port("127.0.0.1", port, 30, moto)
        endpoint = f"http://127.0.0.1:{port}"
        resources = LocalResources(
            template_loader.load(ROOT / "template.yaml"), stack_name="c", endpoint=endpoint
        )
        resources.provision()
        ddb, sqs, kinesis = client("dynamodb", endpoint), client("sqs", endpoint), client("kinesis", endpoint)
        orders = resources.names["OrdersTable"]
        lane = str(resources.attribute("OrdersLane", "QueueUrl"))
        stream = resources.names["MatchingEventsStream"]
        for start in range(0, args.preload, 25):
            ddb.batch_write_item(
                RequestItems={
                    orders: [
                        {"PutRequest": {"Item": order_item(str(uuid.uuid4()), f"u{i % 40}")}}
                        for i in range(start, min(start + 25, args.preload))
                    ]
                }
            )
        book_log = resources.names["BookLogTable"]
        for start in range(0, args.preload, 25):
            ddb.batch_write_item(
                RequestItems={
                    book_log: [
                        {
                            "PutRequest": {
                                "Item": {
                                    "ticker": {"S": f"T{i % 10}"},
                                    "seq": {"N": str(i)},
                                    "entry": {"B": os.urandom(650)},
                                }
                            }
                        }
                        for i in range(start, min(start + 25, args.preload))
                    ]
                }
            )
        ids = [str(uuid.uuid4()) for _ in range(args.calls)]
        shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="LATEST")
        state = {"iterator": iterator["ShardIterator"]}

        def get_records(_: int) -> None:
            state["iterator"] = kinesis.get_records(ShardIterator=state["iterator"], Limit=100)[
                "NextShardIterator"
            ]

        def send_receive_delete(i: int) -> None:
            sqs.send_message(
                QueueUrl=lane,
                MessageBody="x" * 400,
                MessageGroupId=f"T{i % 10}",
                MessageDeduplicationId=f"e{ids[i]}",
            )
            receive_delete(i)

        def receive_delete(_: int) -> None:
            messages = sqs.receive_message(QueueUrl=lane, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=lane,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )

        kinds: list[tuple[str, Callable[[int], Any]]] = [
            (
                "PutItem order (2 GSIs), conditional",
                lambda i: ddb.put_item(
                    TableName=orders,
                    Item=order_item(ids[i], f"u{i % 40}"),
                    ConditionExpression="attribute_not_exists(orderId)",
                ),
            ),
            (
                "GetItem order, consistent",
                lambda i: ddb.get_item(TableName=orders, Key={"orderId": {"S": ids[i]}}, ConsistentRead=True),
            ),
            (
                "UpdateItem order status, guarded",
                lambda i: ddb.update_item(
                    TableName=orders,
                    Key={"orderId": {"S": ids[i]}},
                    UpdateExpression="SET #s = :s, lastEventKey = :k REMOVE pendingShard",
                    ConditionExpression="attribute_exists(orderId) AND lastEventKey < :k",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":s": {"S": "FILLED"}, ":k": {"N": "1000001"}},
                ),
            ),
            (
                "Query byUser index (one user)",
                lambda i: ddb.query(
                    TableName=orders,
                    IndexName="byUser",
                    KeyConditionExpression="userId = :u",
                    ExpressionAttributeValues={":u": {"S": f"u{i % 40}"}},
                    Limit=50,
                ),
            ),
            ("FIFO send + receive + delete, queue empty", send_receive_delete),
            (
                "Query book log, one ticker's newest entries",
                lambda i: ddb.query(
                    TableName=book_log,
                    KeyConditionExpression="ticker = :t AND seq > :s",
                    ExpressionAttributeValues={
                        ":t": {"S": f"T{i % 10}"},
                        ":s": {"N": str(args.preload - 50)},
                    },
                    ConsistentRead=True,
                ),
            ),
            (
                f"SendMessage FIFO, queue 0 -> {args.calls} deep",
                lambda i: sqs.send_message(
                    QueueUrl=lane,
                    MessageBody="x" * 400,
                    MessageGroupId=f"T{i % 10}",
                    MessageDeduplicationId=ids[i],
                ),
            ),
            (f"ReceiveMessage(10) + DeleteMessageBatch, {args.calls} deep -> 0", receive_delete),
            (
                "PutRecords (1 record, 1.7 KB)",
                lambda i: kinesis.put_records(
                    StreamName=stream, Records=[{"Data": b"x" * 1700, "PartitionKey": "T"}]
                ),
            ),
            ("GetRecords (Limit 100)", get_records),
        ]
        print(
            f"{args.preload} orders and log entries preloaded; {args.calls} calls per kind, one client thread"
        )
        print(f"{'call':<46} {'moto CPU ms/call':>17} {'client wait ms/call':>20}")
        for name, call in kinds:
            cpu0, wall0 = cpu_seconds(moto.pid), time.perf_counter()
            for i in range(args.calls):
                call(i)
            cpu1, wall1 = cpu_seconds(moto.pid), time.perf_counter()
            cpu_ms, wait_ms = 1000 * (cpu1 - cpu0) / args.calls, 1000 * (wall1 - wall0) / args.calls
            print(f"{name:<46} {cpu_ms:>17.2f} {wait_ms:>20.2f}")
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
