"""moto's CPU per DynamoDB call, stock against the local cloud's atomic item writes (localcloud/motoitems.py),
measured in the same run.

    python bench/e2e/item_writes.py --calls 2000 --rounds 5

In process (moto's mock). Each call is timed twice: through boto3 (what a request costs the local
cloud's moto, boto3's own CPU included) and straight at moto's backend (the write alone, where the
copy shows most). The calls are those the projections make: an order status update, a position
update and a candle update with their guards, and a GetItem. Rounds alternate stock and patched and
the report gives the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.dynamodb import models as dynamodb_models  # noqa: E402

from localcloud import motoitems  # noqa: E402

STOCK = {name: getattr(dynamodb_models.DynamoDBBackend, name) for name in ("update_item", "put_item", "delete_item")}

UPDATE = (
    "SET #status = :status, filledQty = :filled, lastFillPrice = :price, updatedAt = :at, seq = :seq, "
    "avgCost = :cost, realized = :realized ADD fills :one"
)
GUARD = "attribute_not_exists(seq) OR seq < :seq"


def calls(ddb: Any, backend: Any, keys: int) -> dict[str, Callable[[int], Any]]:
    """One call of each kind, the nth on key n % keys, with a growing seq so every guard passes."""

    def values(n: int) -> dict[str, Any]:
        return {
            ":status": {"S": "PARTIALLY_FILLED"},
            ":filled": {"N": str(n)},
            ":price": {"N": "101.25"},
            ":at": {"S": "2026-11-26T16:00:00.000Z"},
            ":seq": {"N": str(n)},
            ":cost": {"N": "100.125"},
            ":realized": {"N": "-3.5"},
            ":one": {"N": "1"},
        }

    def key(n: int) -> dict[str, Any]:
        return {"orderId": {"S": f"o{n % keys}"}}

    return {
        "UpdateItem via boto3": lambda n: ddb.update_item(
            TableName="orders",
            Key=key(n),
            UpdateExpression=UPDATE,
            ConditionExpression=GUARD,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values(n),
        ),
        "GetItem via boto3": lambda n: ddb.get_item(TableName="orders", Key=key(n)),
        "update_item at the backend": lambda n: backend.update_item(
            "orders", key(n), UPDATE, {"#status": "status"}, values(n), condition_expression=GUARD
        ),
    }


def round_us(patched: bool, count: int, keys: int) -> dict[str, float]:
    """CPU microseconds per call of each kind, on a fresh table."""
    for name, method in STOCK.items():
        setattr(dynamodb_models.DynamoDBBackend, name, method)
    if patched:
        motoitems.patch()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        backend = dynamodb_models.dynamodb_backends["123456789012"]["us-east-1"]
        result = {}
        seq = 0
        for name, call in calls(ddb, backend, keys).items():
            started = time.process_time()
            for _ in range(count):
                seq += 1
                call(seq)
            result[name] = (time.process_time() - started) / count * 1e6
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="calls of each kind per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys", type=int, default=50, help="distinct items the calls cycle through")
    args = parser.parse_args()
    round_us(True, args.calls // 10, args.keys)  # warm-up: imports, moto's caches
    stock: list[dict[str, float]] = []
    ours: list[dict[str, float]] = []
    for _ in range(args.rounds):
        stock.append(round_us(False, args.calls, args.keys))
        ours.append(round_us(True, args.calls, args.keys))
    print("| call | stock moto µs | atomic writes µs | atomic / stock (median of rounds) |")
    print("|---|---:|---:|---:|")
    for name in stock[0]:
        s = statistics.median(r[name] for r in stock)
        o = statistics.median(r[name] for r in ours)
        ratio = statistics.median(b[name] / a[name] for a, b in zip(stock, ours, strict=True))
        print(f"| {name} | {s:.0f} | {o:.0f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
