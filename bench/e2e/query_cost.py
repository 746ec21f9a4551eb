"""moto's CPU per DynamoDB Query by table size: stock moto against the local cloud's Query, which starts
from the items its key can match instead of sorting the whole table (localcloud/motospeed.py,
`narrow_query_candidates`).

    python bench/e2e/query_cost.py --orders 2000,8000 --rounds 3

In process (moto's mock, boto3 included in the CPU time), both with the local cloud's sort of
`all_items` and serializer aliases; the orders table and the book log as template.yaml declares them.
The calls: the reconciler's Query of each of the eight shards of the orders table's sparse `pending`
index (one order in a hundred still pending); a Query of one user's orders by the `byUser` index
(forty users); a Query of one ticker's log entries after a seq, as a cold matching worker makes (ten
tickers). A GetItem is the yardstick: its cost does not grow with the table. Prints CPU ms per call,
medians of the rounds, stock and ours, at each size.
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
from moto.core import serialize as moto_serialize  # noqa: E402
from moto.dynamodb.models import table as dynamodb_table  # noqa: E402

from localcloud import motospeed  # noqa: E402
from localcloud import template as template_loader  # noqa: E402
from localcloud.resources import LocalResources  # noqa: E402
from tests.localcloud.support import restored  # noqa: E402 - the tests' undoing of moto patches

SHARDS = 8
PATCHED = [
    (dynamodb_table.Table, "all_items"),
    (dynamodb_table.Table, "query"),
    (moto_serialize.XFormedAttributePicker, "get_possible_keys"),
]
USERS = 40
TICKERS = 10


def create_from_template(ddb: Any, *logical_ids: str) -> None:
    """The tables as the local cloud creates them from template.yaml, each under its logical id."""
    resources = LocalResources(template_loader.load(ROOT / "template.yaml"), stack_name="bench", endpoint="-")
    for logical_id in logical_ids:
        ddb.create_table(TableName=logical_id, **resources.table_arguments(resources.properties(logical_id)))


def fill(ddb: Any, orders: int) -> None:
    create_from_template(ddb, "OrdersTable", "BookLogTable")
    for n in range(orders):
        created = f"2026-11-27T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}#{n}"
        item = {
            "orderId": {"S": f"order-{n:07d}"},
            "userId": {"S": f"user-{n % USERS}"},
            "createdKey": {"S": created},
            "status": {"S": "FILLED"},
            "quantity": {"S": "10"},
            "price": {"S": "101.25"},
        }
        if n % 100 == 0:
            item["pendingShard"] = {"S": f"pending#{n % SHARDS}"}
        ddb.put_item(TableName="OrdersTable", Item=item)
        ddb.put_item(
            TableName="BookLogTable",
            Item={
                "ticker": {"S": f"T{n % TICKERS}"},
                "seq": {"N": str(n // TICKERS)},
                "entry": {"S": "x" * 200},
            },
        )


def calls(ddb: Any, orders: int) -> dict[str, Callable[[], Any]]:
    def pending() -> None:
        for shard in range(SHARDS):
            ddb.query(
                TableName="OrdersTable",
                IndexName="pending",
                KeyConditionExpression="pendingShard = :s AND createdKey < :c",
                ExpressionAttributeValues={":s": {"S": f"pending#{shard}"}, ":c": {"S": "2026-11-28"}},
                Limit=500,
            )

    return {
        "the reconciler's 8 pending Queries": pending,
        "a user's orders (byUser, 20)": lambda: ddb.query(
            TableName="OrdersTable",
            IndexName="byUser",
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": "user-7"}},
            ScanIndexForward=False,
            Limit=20,
        ),
        "a ticker's log after a seq": lambda: ddb.query(
            TableName="BookLogTable",
            KeyConditionExpression="ticker = :t AND seq > :s",
            ExpressionAttributeValues={":t": {"S": "T3"}, ":s": {"N": str(orders // TICKERS - 5)}},
        ),
        "GetItem (the yardstick)": lambda: ddb.get_item(
            TableName="OrdersTable", Key={"orderId": {"S": "order-0000042"}}
        ),
    }


def cpu_ms(call: Callable[[], Any], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - started) / repeat * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", default="2000,8000", help="table sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5, help="calls per measurement")
    args = parser.parse_args()
    for orders in (int(n) for n in args.orders.split(",")):
        with restored(*PATCHED), mock_aws():
            # What the local cloud's moto does to every Query besides: the sort, the serializer's aliases.
            motospeed.sort_items_by_converted_keys()
            motospeed.memoise_attribute_aliases()
            ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
            fill(ddb, orders)
            measured: dict[str, dict[str, list[float]]] = {}
            stock_query = dynamodb_table.Table.query
            for _ in range(args.rounds):
                for variant in ("stock", "ours"):
                    if variant == "ours":
                        motospeed.narrow_query_candidates()
                    else:
                        setattr(dynamodb_table.Table, "query", stock_query)  # noqa: B010
                    for name, call in calls(ddb, orders).items():
                        call()  # warm: moto builds caches on a first call
                        ms = cpu_ms(call, args.repeat)
                        measured.setdefault(name, {}).setdefault(variant, []).append(ms)
        for name, variants in measured.items():
            stock, ours = (statistics.median(variants[v]) for v in ("stock", "ours"))
            ratio = stock / ours
            print(f"{orders:>7} orders  {name:<36} stock {stock:7.2f} ms  ours {ours:6.2f} ms  {ratio:4.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
