"""moto's CPU per DynamoDB call as the local cloud's DynamoDB patches add up, measured in the same run:
stock moto; with atomic item writes (localcloud/motoitems.py); plus each UpdateExpression parsed once
(localcloud/motospeed.py); plus the expression patches of localcloud/motoexpressions.py and the
serializer's memoised aliases (motospeed), which is moto's DynamoDB as the local cloud runs it.

    python bench/e2e/dynamodb_calls.py --calls 300 --rounds 9

In process (moto's mock). Each call is timed through boto3 (what a request costs, boto3's own CPU
included) and, for UpdateItem, straight at moto's backend too (the write alone). The calls are those
the projections and the orders API make: a guarded order-status update, a guarded put and a GetItem,
and a GetItem of a 21-attribute item (what an answer's width costs the serializer).
Rounds run the set-ups in turn and the report gives the median of the per-round ratios to stock.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core import serialize as moto_serialize  # noqa: E402
from moto.dynamodb import models as dynamodb_models  # noqa: E402
from moto.dynamodb.parsing import expressions  # noqa: E402

from localcloud import motoexpressions, motoitems, motospeed  # noqa: E402
from tests.localcloud.support import restored  # noqa: E402 - the tests' undoing of moto patches

# Everything the set-ups patch, restored between rounds.
PATCHED: list[tuple[Any, str]] = [
    *motoitems.PATCHED_ATTRIBUTES,
    *motoexpressions.PATCHED_ATTRIBUTES,
    (vars(expressions)["UpdateExpressionParser"], "make"),
    (moto_serialize.XFormedAttributePicker, "get_possible_keys"),
]


def memoised_parses() -> None:
    motoitems.patch()
    motospeed.memoise_update_expressions()


def local_cloud() -> None:
    memoised_parses()
    motoexpressions.install()
    motospeed.memoise_attribute_aliases()


SETUPS: dict[str, Callable[[], Any]] = {
    "stock": lambda: None,
    "atomic writes": motoitems.patch,
    "+ parses memoised": memoised_parses,
    "+ expressions, aliases (local cloud)": local_cloud,
}


@contextmanager
def patched(setup: Callable[[], Any]) -> Iterator[None]:
    with restored(*PATCHED):
        setup()
        yield


UPDATE = (
    "SET #status = :status, filledQty = :filled, lastFillPrice = :price, updatedAt = :at, seq = :seq, "
    "avgCost = :cost REMOVE pendingShard"
)
GUARD = "attribute_exists(orderId) AND seq < :seq"


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
        }

    def key(n: int) -> dict[str, Any]:
        return {"orderId": {"S": f"o{n % keys}"}}

    return {
        "guarded UpdateItem": lambda n: ddb.update_item(
            TableName="orders",
            Key=key(n),
            UpdateExpression=UPDATE,
            ConditionExpression=GUARD,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values(n),
        ),
        "guarded PutItem": lambda n: ddb.put_item(
            TableName="orders",
            Item={"orderId": {"S": f"new{n}"}, "status": {"S": "NEW"}, "seq": {"N": "0"}},
            ConditionExpression="attribute_not_exists(orderId)",
        ),
        "GetItem": lambda n: ddb.get_item(TableName="orders", Key=key(n)),
        "GetItem, 21 attributes": lambda n: ddb.get_item(TableName="orders", Key={"orderId": {"S": "wide"}}),
        "update_item at the backend": lambda n: backend.update_item(
            "orders", key(n), UPDATE, {"#status": "status"}, values(n), condition_expression=GUARD
        ),
    }


def round_us(setup: Callable[[], Any], count: int, keys: int) -> dict[str, float]:
    """CPU microseconds per call of each kind, on a fresh table."""
    with patched(setup), mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(keys):
            ddb.put_item(TableName="orders", Item={"orderId": {"S": f"o{n}"}, "seq": {"N": "0"}})
        # an item as wide as an order with its fills, for the serializer's cost per attribute
        wide = {f"s{i}": {"S": "value"} for i in range(15)} | {f"n{i}": {"N": "1.5"} for i in range(5)}
        ddb.put_item(TableName="orders", Item={"orderId": {"S": "wide"}, **wide})
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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300, help="calls of each kind per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--keys", type=int, default=50, help="distinct items the calls cycle through")
    args = parser.parse_args()
    for setup in SETUPS.values():  # warm-up: imports, moto's caches
        round_us(setup, args.calls // 10, args.keys)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETUPS}
    for _ in range(args.rounds):
        for name, setup in SETUPS.items():
            runs[name].append(round_us(setup, args.calls, args.keys))
    names = list(SETUPS)
    print(
        "| call | "
        + " | ".join(f"{n} µs" for n in names)
        + " | "
        + " | ".join(f"{n} / stock" for n in names[1:])
        + " |"
    )
    print("|---|" + "---:|" * (2 * len(names) - 1))
    for call in runs["stock"][0]:
        medians = [statistics.median(r[call] for r in runs[n]) for n in names]
        ratios = [
            statistics.median(b[call] / a[call] for a, b in zip(runs["stock"], runs[n], strict=True))
            for n in names[1:]
        ]
        print(
            f"| {call} | "
            + " | ".join(f"{m:.0f}" for m in medians)
            + " | "
            + " | ".join(f"{r:.2f}" for r in ratios)
            + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
