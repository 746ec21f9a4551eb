"""moto's DynamoDB item writes with localcloud.motoitems: moto's answers, atomic under concurrent requests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb import models as dynamodb_models

from localcloud import motoitems
from localcloud.resources import client
from tests.localcloud.support import answer, create_table, restored
from tests.support import moto_server

WRITES = motoitems.PATCHED_ATTRIBUTES


@pytest.fixture
def patched() -> Iterator[None]:
    with restored(*WRITES):
        assert motoitems.patch()
        yield


def tables(ddb: Any) -> None:
    create_table(ddb, "orders", ("orderId", "S", "HASH"))
    create_table(ddb, "candles", ("ticker", "S", "HASH"), ("bucket", "N", "RANGE"))


def writes() -> list[Any]:
    """Every kind of item write our code and a user's could send, new items and existing, guarded and
    not, failing and not, then both tables as a scan sees them."""
    seen: list[Any] = []
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        tables(ddb)
        order = {"TableName": "orders", "Key": {"orderId": {"S": "o1"}}}
        candle = {"TableName": "candles", "Key": {"ticker": {"S": "ACME"}, "bucket": {"N": "60"}}}
        cancel = {
            **order,
            "UpdateExpression": "SET #s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "CANCELLED"}},
        }
        calls: list[Callable[[], Any]] = [
            lambda: ddb.put_item(
                TableName="orders",
                Item={"orderId": {"S": "o1"}, "status": {"S": "NEW"}, "fills": {"L": []}},
                ConditionExpression="attribute_not_exists(orderId)",
            ),
            lambda: ddb.put_item(
                TableName="orders",
                Item={"orderId": {"S": "o1"}, "status": {"S": "NEW"}},
                ConditionExpression="attribute_not_exists(orderId)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
            lambda: ddb.update_item(
                **order,
                UpdateExpression="SET #s = :s, fills = list_append(fills, :f), meta.src = :m ADD n :one",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":s": {"S": "PARTIAL"},
                    ":f": {"L": [{"N": "3"}]},
                    ":m": {"S": "api"},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            ),
            lambda: ddb.update_item(
                **order,
                UpdateExpression="SET meta = :m ADD n :one, tags :t",
                ExpressionAttributeValues={
                    ":m": {"M": {"src": {"S": "api"}}},
                    ":one": {"N": "1"},
                    ":t": {"SS": ["a", "b"]},
                },
                ReturnValues="UPDATED_OLD",
            ),
            lambda: ddb.update_item(
                **order,
                UpdateExpression="SET meta.src = :m, fills = list_append(fills, :f) REMOVE n DELETE tags :t",
                ExpressionAttributeValues={
                    ":m": {"S": "lane"},
                    ":f": {"L": [{"N": "4"}]},
                    ":t": {"SS": ["a"]},
                },
                ReturnValues="ALL_OLD",
            ),
            lambda: ddb.update_item(
                **order,
                UpdateExpression="SET #s = :s",
                ConditionExpression="#s = :was",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "FILLED"}, ":was": {"S": "PARTIAL"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
            lambda: ddb.update_item(
                **candle,
                UpdateExpression="SET o = if_not_exists(o, :p), c = :p ADD v :q",
                ExpressionAttributeValues={":p": {"N": "10.5"}, ":q": {"N": "3"}},
                ReturnValues="UPDATED_NEW",
            ),
            lambda: ddb.update_item(
                **candle,
                UpdateExpression="SET o = if_not_exists(o, :p), c = :p ADD v :q",
                ExpressionAttributeValues={":p": {"N": "11"}, ":q": {"N": "2"}},
                ReturnValues="ALL_NEW",
            ),
            lambda: ddb.update_item(
                TableName="candles",
                Key={"ticker": {"S": "ACME"}, "bucket": {"S": "60"}},
                UpdateExpression="SET c = :p",
                ExpressionAttributeValues={":p": {"N": "1"}},
            ),
            lambda: ddb.update_item(
                **order, UpdateExpression="SET orderId = :x", ExpressionAttributeValues={":x": {"S": "o2"}}
            ),
            lambda: ddb.update_item(
                **order, UpdateExpression="SET a = = :x", ExpressionAttributeValues={":x": {"S": "y"}}
            ),
            lambda: ddb.batch_write_item(
                RequestItems={
                    "orders": [
                        {"PutRequest": {"Item": {"orderId": {"S": f"b{n}"}, "qty": {"N": str(n)}}}}
                        for n in range(3)
                    ]
                    + [{"DeleteRequest": {"Key": {"orderId": {"S": "missing"}}}}]
                }
            ),
            lambda: ddb.transact_write_items(
                TransactItems=[
                    {"Update": cancel},
                    {
                        "Put": {
                            "TableName": "orders",
                            "Item": {"orderId": {"S": "b0"}},
                            "ConditionExpression": "attribute_not_exists(orderId)",
                        }
                    },
                ]
            ),
            lambda: ddb.transact_write_items(
                TransactItems=[
                    {"Update": cancel},
                    {"Delete": {"TableName": "orders", "Key": {"orderId": {"S": "b1"}}}},
                ]
            ),
            lambda: ddb.delete_item(
                TableName="orders",
                Key={"orderId": {"S": "b2"}},
                ConditionExpression="qty = :q",
                ExpressionAttributeValues={":q": {"N": "7"}},
            ),
            lambda: ddb.delete_item(TableName="orders", Key={"orderId": {"S": "b2"}}, ReturnValues="ALL_OLD"),
        ]
        for call in calls:
            seen.append(answer(call))
        for name in ("orders", "candles"):
            seen.append(sorted(ddb.scan(TableName=name)["Items"], key=repr))
    return seen


def test_writes_answer_as_moto_s_own() -> None:
    stock = writes()
    with restored(*WRITES):
        assert motoitems.patch()
        ours = writes()
    assert ours == stock
    # the scenario reaches what it means to: refused writes answering the item, an update refused as
    # invalid, a refused and then a passed transaction, a candle created by an update, then aggregated
    assert [step[1] for step in stock[:16] if isinstance(step, tuple)] == [
        "ConditionalCheckFailedException",
        "ValidationException",
        "ConditionalCheckFailedException",
        "ValidationException",
        "ValidationException",
        "ValidationException",
        "TransactionCanceledException",
        "ConditionalCheckFailedException",
    ]
    assert stock[1][3]["status"] == {"S": "NEW"} and stock[5][3]["status"] == {"S": "NEW"}
    assert stock[7]["Attributes"]["v"] == {"N": "5"} and stock[7]["Attributes"]["o"] == {"N": "10.5"}
    orders = {item["orderId"]["S"]: item for item in stock[-2]}
    assert set(orders) == {"o1", "b0"} and orders["o1"]["status"] == {"S": "CANCELLED"}


def test_an_update_that_fails_on_its_last_action_leaves_the_item_as_it_was(patched: None) -> None:
    """moto applied the actions before the failing one and kept them; DynamoDB writes all or nothing."""
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        tables(ddb)
        ddb.put_item(TableName="orders", Item={"orderId": {"S": "o1"}, "note": {"S": "x" * 300_000}})
        with pytest.raises(ddb.exceptions.ClientError, match="exceeded the maximum allowed size"):
            ddb.update_item(
                TableName="orders",
                Key={"orderId": {"S": "o1"}},
                UpdateExpression="SET #s = :s, big = :big",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "FILLED"}, ":big": {"S": "y" * 150_000}},
            )
        item = ddb.get_item(TableName="orders", Key={"orderId": {"S": "o1"}})["Item"]
    assert sorted(item) == ["note", "orderId"]


def hammer(port: int, work: Callable[[Any, int], None], *, threads: int) -> list[BaseException]:
    """Run work(client, n) on `threads` threads against the moto at port; what they raised."""
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(client("dynamodb", f"http://127.0.0.1:{port}"), n)
        except BaseException as error:  # reported to the test
            failures.append(error)

    workers = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers)
    return failures


def test_a_read_never_sees_half_of_an_update() -> None:
    """Two threads rewrite an item's 40 attributes to one value each time; every read sees one value.
    Without the patch about one read in sixteen was torn (18 of 250)."""
    attributes = [f"a{i}" for i in range(40)]
    update = {
        "TableName": "orders",
        "Key": {"orderId": {"S": "o1"}},
        "UpdateExpression": "SET " + ", ".join(f"#{a} = :v" for a in attributes),
        "ExpressionAttributeNames": {f"#{a}": a for a in attributes},
    }
    torn: list[list[str]] = []
    done = threading.Event()
    with moto_server() as port:
        ddb = client("dynamodb", f"http://127.0.0.1:{port}")
        tables(ddb)
        ddb.update_item(**update, ExpressionAttributeValues={":v": {"N": "0"}})

        def work(writer: Any, n: int) -> None:
            if n == 0:  # the reader
                try:
                    for _ in range(250):
                        item = writer.get_item(TableName="orders", Key={"orderId": {"S": "o1"}})["Item"]
                        values = {item[a]["N"] for a in attributes}
                        if len(values) > 1:
                            torn.append(sorted(values))
                finally:
                    done.set()
                return
            count = 0
            while not done.is_set():
                count += 1
                writer.update_item(**update, ExpressionAttributeValues={":v": {"N": f"{n}{count}"}})

        assert hammer(port, work, threads=3) == []
    assert torn == []


def test_concurrent_writes_of_one_item_keep_every_change() -> None:
    """Four threads add to one counter and append to one list, unguarded and guarded on a version: no
    change is lost and no two guarded writes pass on the same version."""
    rounds = 40
    with moto_server() as port:
        ddb = client("dynamodb", f"http://127.0.0.1:{port}")
        tables(ddb)
        key = {"ticker": {"S": "ACME"}, "bucket": {"N": "60"}}
        ddb.put_item(TableName="candles", Item={**key, "version": {"N": "0"}, "by": {"L": []}})
        passed: list[tuple[int, int]] = []

        def work(writer: Any, n: int) -> None:
            # Half the writers spell the bucket 60.0: the same number, so the same item and its lock.
            spelled = {**key, "bucket": {"N": "60.0" if n % 2 else "60"}}
            for _ in range(rounds):
                writer.update_item(
                    TableName="candles",
                    Key=spelled,
                    UpdateExpression="ADD v :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )
                version = int(writer.get_item(TableName="candles", Key=key)["Item"]["version"]["N"])
                try:
                    writer.update_item(
                        TableName="candles",
                        Key=spelled,
                        UpdateExpression="SET version = :next, #by = list_append(#by, :me)",
                        ConditionExpression="version = :seen",
                        ExpressionAttributeNames={"#by": "by"},
                        ExpressionAttributeValues={
                            ":next": {"N": str(version + 1)},
                            ":seen": {"N": str(version)},
                            ":me": {"L": [{"N": str(n)}]},
                        },
                    )
                    passed.append((n, version))
                except writer.exceptions.ConditionalCheckFailedException:
                    pass

        assert hammer(port, work, threads=4) == []
        item = ddb.get_item(TableName="candles", Key=key)["Item"]
    assert item["v"] == {"N": str(4 * rounds)}
    assert int(item["version"]["N"]) == len(passed) == len(item["by"]["L"])
    assert len({version for _, version in passed}) == len(passed)
    assert [int(v["N"]) for v in item["by"]["L"]] == [n for n, _ in sorted(passed, key=lambda p: p[1])]


def test_item_locks_serialise_one_item_only_and_are_dropped_when_unused() -> None:
    locks = motoitems.ItemLocks()
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def hold(key: str, name: str) -> None:
        with locks.hold(key):
            order.append(name)
            if name == "first":
                inside.set()
                release.wait(10)

    first = threading.Thread(target=hold, args=("a", "first"))
    first.start()
    assert inside.wait(10)
    same = threading.Thread(target=hold, args=("a", "same item"))
    same.start()
    other = threading.Thread(target=hold, args=("b", "other item"))
    other.start()
    other.join(10)  # another item's write does not wait for the first
    assert order == ["first", "other item"] and same.is_alive()
    release.set()
    for t in (first, same):
        t.join(10)
    assert order == ["first", "other item", "same item"]
    assert len(locks) == 0
    with pytest.raises(RuntimeError), locks.hold("a"):
        raise RuntimeError("a failed write releases its lock")
    assert len(locks) == 0


def test_patching_twice_is_patching_once(patched: None) -> None:
    assert motoitems.patch()  # a second time: the wrappers are not wrapped again (their lock twice)
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        tables(ddb)
        done = threading.Event()

        def write() -> None:
            ddb.put_item(TableName="orders", Item={"orderId": {"S": "o1"}})
            ddb.update_item(
                TableName="orders",
                Key={"orderId": {"S": "o1"}},
                UpdateExpression="SET a = :a",
                ExpressionAttributeValues={":a": {"N": "1"}},
            )
            done.set()

        threading.Thread(target=write, daemon=True).start()
        assert done.wait(30)


def stream_records(patch: bool) -> list[Any]:
    """What a table's stream holds after a new item, an update of it and a failed update of a missing item."""
    with restored(*WRITES), mock_aws():
        if patch:
            assert motoitems.patch()
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        tables(ddb)
        ddb.update_table(
            TableName="orders",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        ddb.update_item(
            TableName="orders",
            Key={"orderId": {"S": "o1"}},
            UpdateExpression="SET a = :a",
            ExpressionAttributeValues={":a": {"N": "1"}},
        )
        ddb.update_item(
            TableName="orders",
            Key={"orderId": {"S": "o1"}},
            UpdateExpression="ADD a :a",
            ExpressionAttributeValues={":a": {"N": "2"}},
        )
        with pytest.raises(ddb.exceptions.ClientError):
            ddb.update_item(
                TableName="orders",
                Key={"orderId": {"S": "new"}},
                UpdateExpression="SET big = :big",
                ExpressionAttributeValues={":big": {"S": "x" * 500_000}},
            )
        shard = dynamodb_models.dynamodb_backends["123456789012"]["us-east-1"].tables["orders"].stream_shard
        records = [record.to_json() for record in shard.items] if shard is not None else []
        items = ddb.scan(TableName="orders")["Items"]
    return [
        (r["eventName"], r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage")) for r in records
    ] + [items]


def test_stream_records_are_moto_s_and_a_failed_update_leaves_none() -> None:
    stock, ours = stream_records(False), stream_records(True)
    # moto kept the key of the item its failed update would have created, and an INSERT for it
    assert stock[-1] == [{"orderId": {"S": "new"}}, {"orderId": {"S": "o1"}, "a": {"N": "3"}}]
    assert ours[-1] == [{"orderId": {"S": "o1"}, "a": {"N": "3"}}]
    assert ours[:-1] == [r for r in stock[:-1] if r[2] != {"orderId": {"S": "new"}}]
    assert [r[0] for r in ours[:-1]] == ["INSERT", "INSERT", "MODIFY"]  # moto: the key, then the update
