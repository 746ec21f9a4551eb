"""DynamoDB's tables on moto processes of their own (localcloud/tablerouter.py): placement, the relay of
every kind of request to the table's moto, and the local cloud whose functions call those motos directly."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import requests

from localcloud.cloud import LocalCloud, free_port, wait_for_port
from localcloud.errors import LocalCloudError
from localcloud.resources import client
from localcloud.tablerouter import TABLES_PATH, routing_handlers, table_name, table_routes, tables_named
from tests.localcloud.support import FIXTURES, STACK, create_table, port_is_free, request, running_cloud

# --- which tables a request names ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("orders", "orders"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/orders", "orders"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-27T00:00:00.000", "orders"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/byUser", "orders"),
    ],
)
def test_a_table_is_named_by_its_name_or_its_arn(name: str, table: str) -> None:
    assert table_name(name) == table


@pytest.mark.parametrize(
    ("params", "tables"),
    [
        ({"TableName": "a", "Key": {}}, ["a"]),
        ({"RequestItems": {"a": [], "b": []}}, ["a", "b"]),
        (
            {"TransactItems": [{"Put": {"TableName": "a"}}, {"ConditionCheck": {"TableName": "b"}}]},
            ["a", "b"],
        ),
        ({"ResourceArn": "arn:aws:dynamodb:us-east-1:1:table/a"}, ["a"]),
        ({"StreamArn": "arn:aws:dynamodb:us-east-1:1:table/a/stream/x"}, ["a"]),
        ({"ShardIterator": "arn:aws:dynamodb:us-east-1:1:table/a/stream/x|1|shard-0"}, ["a"]),
        ({"Limit": 3}, []),
    ],
)
def test_the_tables_of_a_request(params: dict[str, Any], tables: list[str]) -> None:
    assert tables_named(params) == tables


# --- a DynamoDB moto with two table motos ----------------------------------------------------------


def moto(port: int, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "localcloud.motoserver", "-H", "127.0.0.1", "-p", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def motos() -> Iterator[tuple[str, list[str]]]:
    """(the DynamoDB moto's URL, the URLs of its two table motos)"""
    ports = [free_port() for _ in range(3)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    processes = [
        moto(ports[1]),
        moto(ports[2]),
        moto(ports[0], "--table-moto", urls[1], "--table-moto", urls[2]),
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_for_port("127.0.0.1", port, 60, process)
        yield urls[0], urls[1:]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def names_on(url: str) -> set[str]:
    return set(client("dynamodb", url).list_tables()["TableNames"])


KEY = ("k", "S", "HASH")


def two_tables(router: str, prefix: str) -> tuple[Any, str, str]:
    """(a client of the DynamoDB moto, two fresh tables it placed on different table motos)"""
    ddb = client("dynamodb", router)
    a, b = fresh(f"{prefix}-a"), fresh(f"{prefix}-b")
    for name in (a, b):
        create_table(ddb, name, KEY)
    routes = table_routes(router)
    assert routes[a] != routes[b]  # each placed on the moto holding fewer tables
    return ddb, a, b


def test_tables_are_placed_on_the_table_moto_holding_fewest_and_requests_follow_them(
    motos: tuple[str, list[str]],
) -> None:
    router, (first, second) = motos
    ddb = client("dynamodb", router)
    before = {url: len(names_on(url)) for url in (first, second)}
    a, b = fresh("a"), fresh("b")
    for name in (a, b):
        create_table(ddb, name, KEY)
    routes = table_routes(router)
    assert {routes[a], routes[b]} == {first, second}  # one each: the emptier moto takes the next table
    assert sum(len(names_on(url)) for url in (first, second)) == sum(before.values()) + 2
    ddb.put_item(TableName=a, Item={"k": {"S": "1"}, "v": {"S": "x"}})
    assert client("dynamodb", routes[a]).get_item(TableName=a, Key={"k": {"S": "1"}})["Item"]["v"] == {
        "S": "x"
    }
    assert ddb.get_item(TableName=a, Key={"k": {"S": "1"}})["Item"]["v"] == {"S": "x"}
    assert a not in names_on(routes[b])
    with pytest.raises(ddb.exceptions.ResourceInUseException):
        create_table(ddb, a, KEY)  # asked of the moto holding it, which refuses
    assert table_routes(router)[a] == routes[a]


def test_list_tables_merges_every_moto_and_pages_through_them(motos: tuple[str, list[str]]) -> None:
    router, table_motos = motos
    ddb = client("dynamodb", router)
    for _ in range(3):
        create_table(ddb, fresh("list"), KEY)
    everything = sorted(set().union(*(names_on(url) for url in table_motos)))
    paged: list[str] = []
    start: dict[str, str] = {}
    while True:
        page = ddb.list_tables(Limit=2, **start)
        assert len(page["TableNames"]) <= 2
        paged += page["TableNames"]
        if "LastEvaluatedTableName" not in page:
            break
        start = {"ExclusiveStartTableName": page["LastEvaluatedTableName"]}
    assert paged == everything
    assert ddb.list_tables()["TableNames"] == everything


def test_a_batch_over_two_motos_is_split_and_answered_as_one(motos: tuple[str, list[str]]) -> None:
    router, _ = motos
    ddb, a, b = two_tables(router, "batch")  # botocore checks each answer's CRC32 header against its body
    written = ddb.batch_write_item(
        RequestItems={
            a: [{"PutRequest": {"Item": {"k": {"S": "1"}}}}],
            b: [{"PutRequest": {"Item": {"k": {"S": "2"}}}}, {"PutRequest": {"Item": {"k": {"S": "3"}}}}],
        }
    )
    assert written["UnprocessedItems"] == {}
    got = ddb.batch_get_item(
        RequestItems={a: {"Keys": [{"k": {"S": "1"}}]}, b: {"Keys": [{"k": {"S": "2"}}, {"k": {"S": "3"}}]}}
    )
    assert {t: sorted(i["k"]["S"] for i in items) for t, items in got["Responses"].items()} == {
        a: ["1"],
        b: ["2", "3"],
    }
    assert got["UnprocessedKeys"] == {}
    assert client("dynamodb", table_routes(router)[b]).scan(TableName=b)["Count"] == 2


def test_a_refused_part_of_a_split_batch_is_the_answer(motos: tuple[str, list[str]]) -> None:
    ddb, a, b = two_tables(motos[0], "refused")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        ddb.batch_write_item(
            RequestItems={
                a: [{"PutRequest": {"Item": {"k": {"S": "1"}}}}],
                b: [{"PutRequest": {"Item": {"other": {"S": "no key"}}}}],
            }
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    # Unlike DynamoDB, which validates a batch whole, the part sent before the refused one stays applied.
    assert ddb.scan(TableName=a)["Count"] == 1 and ddb.scan(TableName=b)["Count"] == 0


def test_list_tables_refuses_a_limit_dynamodb_would(motos: tuple[str, list[str]]) -> None:
    router, _ = motos
    for limit in (0, 101, "5"):  # botocore checks these before sending; a raw request is not checked
        answer = requests.post(
            router,
            data=json.dumps({"Limit": limit}),
            headers={
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Content-Type": "application/x-amz-json-1.0",
            },
            timeout=10,
        )
        assert answer.status_code == 400
        assert answer.json()["__type"].endswith("ValidationException")


def test_a_transaction_over_two_motos_is_refused_and_one_over_one_runs(motos: tuple[str, list[str]]) -> None:
    ddb, a, b = two_tables(motos[0], "tx")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": a, "Item": {"k": {"S": "1"}}}},
                {"Put": {"TableName": b, "Item": {"k": {"S": "1"}}}},
            ]
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "different moto processes" in refused.value.response["Error"]["Message"]
    assert ddb.scan(TableName=a)["Count"] == 0 and ddb.scan(TableName=b)["Count"] == 0
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": a, "Item": {"k": {"S": "1"}}}},
            {"Put": {"TableName": a, "Item": {"k": {"S": "2"}}}},
        ]
    )
    assert ddb.scan(TableName=a)["Count"] == 2


def test_a_deleted_table_is_gone_and_created_again_returns_to_its_moto(motos: tuple[str, list[str]]) -> None:
    router, _ = motos
    ddb = client("dynamodb", router)
    name = fresh("gone")
    create_table(ddb, name, KEY)
    home = table_routes(router)[name]
    ddb.delete_table(TableName=name)
    assert name not in ddb.list_tables()["TableNames"]
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.describe_table(TableName=name)
    for _ in range(2):  # the other moto now holds fewer tables; the name still goes home
        create_table(ddb, fresh("filler"), KEY)
    create_table(ddb, name, KEY)
    assert table_routes(router)[name] == home
    assert name in names_on(home)


def test_a_table_no_moto_holds_is_answered_by_the_dynamodb_moto(motos: tuple[str, list[str]]) -> None:
    router, _ = motos
    ddb = client("dynamodb", router)
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.get_item(TableName=fresh("never"), Key={"k": {"S": "1"}})


def test_routed_calls_skip_the_dynamodb_moto(motos: tuple[str, list[str]]) -> None:
    router, _ = motos
    name = fresh("direct")
    create_table(client("dynamodb", router), name, KEY)
    nowhere = client("dynamodb", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    for event, handler in routing_handlers(table_routes(router)):
        nowhere.meta.events.register(event, handler)
    nowhere.put_item(TableName=name, Item={"k": {"S": "1"}})
    assert nowhere.batch_get_item(RequestItems={name: {"Keys": [{"k": {"S": "1"}}]}})["Responses"][name]
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        nowhere.list_tables()  # names no table: the client's own endpoint
    assert routing_handlers({}) == []  # every table in one moto: no call pays for a lookup


# --- the local cloud ---------------------------------------------------------------------------------

TEMPLATE = FIXTURES / "api" / "template.yaml"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with running_cloud(TEMPLATE, dynamodb_port=0, dynamodb_per_table=True) as running:
        yield running


def test_each_template_table_has_a_moto_of_its_own_that_the_functions_call(cloud: LocalCloud) -> None:
    assert cloud.resources is not None
    tables = cloud.resources.template.of_type("AWS::DynamoDB::Table")
    assert set(cloud.dynamodb_tables) == {cloud.resources.names[lid] for lid in tables}
    assert len(set(cloud.dynamodb_tables.values())) == len(tables)
    calls = f"{STACK}-authorizer-calls"
    token = f"allow-{uuid.uuid4().hex[:8]}"

    def relayed() -> int:
        assert cloud.dynamodb_endpoint is not None
        return int(requests.get(cloud.dynamodb_endpoint + TABLES_PATH, timeout=10).json()["relayed"])

    before = relayed()
    # the authorizer function counts its calls in DynamoDB, straight at the table's moto
    assert request(cloud, "GET", "/items/1", headers=[("X-Token", token)]).status == 200
    assert relayed() == before
    for url in (cloud.dynamodb_tables[calls], cloud.endpoint):  # its own moto, and through the relays
        item = client("dynamodb", url).get_item(TableName=calls, Key={"token": {"S": token}})["Item"]
        assert item["calls"] == {"N": "1"}


def test_a_moto_per_table_needs_dynamodb_s_own_moto() -> None:
    with (
        pytest.raises(LocalCloudError, match="dynamodb_port"),
        running_cloud(TEMPLATE, dynamodb_per_table=True, start_api=False, start_pollers=False),
    ):
        pass


def test_stopping_the_cloud_stops_every_table_moto() -> None:
    with running_cloud(
        TEMPLATE, dynamodb_port=0, dynamodb_per_table=True, start_api=False, start_pollers=False
    ) as running:
        ports = [int(url.rsplit(":", 1)[1]) for url in running.dynamodb_tables.values()]
        assert ports and not any(port_is_free(port) for port in ports)
    assert all(port_is_free(port) for port in ports)
