"""moto with localcloud.motospeed's patches answers as moto does without them (in-process, restored after)."""

from __future__ import annotations

import datetime
import http.client
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws
from moto.core import base_backend
from moto.core import responses as moto_responses
from moto.core import serialize as moto_serialize
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models import table as dynamodb_table
from moto.dynamodb.parsing import expressions
from moto.kinesis import models as kinesis_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer
from moto.sqs import models
from moto.sqs.responses import SQSResponse
from waitress.channel import HTTPChannel
from waitress.server import create_server
from werkzeug.test import Client

from localcloud import motospeed
from localcloud.cloud import free_port
from localcloud.resources import client
from tests.localcloud.support import REPO, answer, create_table, restored
from tests.support import moto_server

_TIMES = {"CreatedTimestamp", "LastModifiedTimestamp"}


QUEUE_ATTRIBUTES = (
    (models.Queue, "attributes"),
    (models.SQSBackend, "is_message_valid_based_on_retention_period"),
)


@pytest.fixture
def patched() -> Iterator[None]:
    with restored(*QUEUE_ATTRIBUTES, (DomainDispatcherApplication, "get_backend_for_host")):
        assert motospeed.lazy_queue_attributes()
        assert motospeed.memoise_routing()
        yield


def scenario() -> dict[str, Any]:
    """Queues of every kind with messages visible, in flight and delayed; what SQS says of them."""
    seen: dict[str, Any] = {}
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        dlq_arn = arn["Attributes"]["QueueArn"]
        fifo = sqs.create_queue(
            QueueName="lane.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "30"},
        )["QueueUrl"]
        plain = sqs.create_queue(
            QueueName="plain",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
                "KmsMasterKeyId": "alias/aws/sqs",
                "Policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
            },
        )["QueueUrl"]
        for n in range(4):
            sqs.send_message(QueueUrl=fifo, MessageBody=f"f{n}", MessageGroupId=f"g{n % 2}")
            sqs.send_message(QueueUrl=plain, MessageBody=f"p{n}")
        sqs.send_message(QueueUrl=plain, MessageBody="later", DelaySeconds=60)
        # the same body again inside the deduplication window: content-based deduplication drops it
        sqs.send_message(QueueUrl=fifo, MessageBody="f0", MessageGroupId="g0")
        received = [sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3) for url in (fifo, plain)]
        seen["received"] = sorted(m["Body"] for r in received for m in r["Messages"])
        for name, url in (("fifo", fifo), ("plain", plain), ("dlq", dlq)):
            every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            seen[name] = {k: v for k, v in every.items() if k not in _TIMES}
            some: Any = [
                "ApproximateNumberOfMessages",
                "ContentBasedDeduplication",
                "RedrivePolicy",
                "Policy",
            ]
            answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=some)
            seen[f"{name}-some"] = answer.get("Attributes")
        with pytest.raises(sqs.exceptions.ClientError):
            sqs.send_message(QueueUrl=fifo, MessageBody="no group")
    return seen


def test_queue_attributes_are_those_moto_computes(patched: None) -> None:
    ours = scenario()
    # f0..f2 received (in flight), f3 visible, the repeated f0 deduplicated away
    assert ours["fifo"]["ApproximateNumberOfMessages"] == "1"
    assert ours["fifo"]["ApproximateNumberOfMessagesNotVisible"] == "3"
    assert ours["plain"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert "KmsMasterKeyId" in ours["plain"] and "RedrivePolicy" in ours["plain"]


def test_the_same_scenario_without_the_patch_answers_the_same() -> None:
    stock = scenario()
    with restored(*QUEUE_ATTRIBUTES):
        assert motospeed.lazy_queue_attributes()
        ours = scenario()
    assert ours == stock


def test_the_mapping_is_moto_s_dict_key_for_key() -> None:
    with mock_aws():
        backend = models.sqs_backends["123456789012"]["us-east-1"]
        queue = backend.create_queue("q.fifo", FifoQueue="true", KmsMasterKeyId="k")
        lazy = motospeed.QueueAttributes(queue)
        assert dict(lazy) == models.Queue.__dict__["attributes"].fget(queue)
        assert list(lazy) == list(models.Queue.__dict__["attributes"].fget(queue))
        assert lazy.get("NotAnAttribute") is None and "NotAnAttribute" not in lazy


def test_method_names_are_memoised_per_class_and_still_those_of_the_class() -> None:
    original = getattr(moto_responses, "method_names_from_class")  # noqa: B009 - not re-exported by moto
    with restored((moto_responses, "method_names_from_class")):
        assert motospeed.memoise_method_names()
        names = getattr(moto_responses, "method_names_from_class")  # noqa: B009
        first = names(SQSResponse)
        assert first is names(SQSResponse)
        assert "send_message" in first and first == original(SQSResponse)


def test_routing_is_memoised_and_still_reaches_every_service(patched: None) -> None:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(2):  # the second round is answered from the memo
            client("sqs", endpoint).create_queue(QueueName="q")
            client("kinesis", endpoint).list_streams()
            client("ssm", endpoint).describe_parameters()
            assert client("dynamodb", endpoint).list_tables()["TableNames"] == []
    finally:
        server.stop()


def test_the_local_cloud_s_moto_keeps_connections_alive_and_serves_beside_a_long_poll() -> None:
    with moto_server() as port:
        endpoint = f"http://127.0.0.1:{port}"
        sqs = client("sqs", endpoint)
        url = sqs.create_queue(QueueName="idle")["QueueUrl"]
        poll = threading.Thread(target=lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3))
        poll.start()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        headers = {
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        }
        sockets = []
        for _ in range(2):  # answered while the long poll still waits, on one connection
            connection.request("POST", "/", body="{}", headers=headers)
            response = response_of(connection)
            assert response.status == 200 and response.getheader("Connection") != "close"
            sockets.append(connection.sock)
        assert sockets[0] is not None and sockets[0] is sockets[1]
        assert poll.is_alive()
        poll.join()


def response_of(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    response = connection.getresponse()
    response.read()
    return response


def test_all_items_comes_in_moto_s_own_order() -> None:
    original = dynamodb_table.Table.all_items
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        for name, keys in (
            ("log", [("ticker", "S", "HASH"), ("seq", "N", "RANGE")]),
            ("orders", [("id", "S", "HASH")]),
        ):
            ddb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": a, "KeyType": k} for a, _, k in keys],
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t, _ in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        # numbers that sort differently as strings (10 < 9), ids out of insertion order
        for n in (10, 9, 100, 1, 25):
            for ticker in ("MSFT", "AAPL"):
                ddb.put_item(TableName="log", Item={"ticker": {"S": ticker}, "seq": {"N": str(n)}})
            ddb.put_item(TableName="orders", Item={"id": {"S": f"o{n}"}})
        tables = dynamodb_backends["123456789012"]["us-east-1"].tables
        stock = {name: [item.to_json() for item in original(tables[name])] for name in ("log", "orders")}
        with restored((dynamodb_table.Table, "all_items")):
            assert motospeed.sort_items_by_converted_keys()
            ours = {name: [item.to_json() for item in tables[name].all_items()] for name in ("log", "orders")}
    assert ours == stock
    assert [i["Attributes"]["seq"]["N"] for i in ours["log"][:5]] == ["1", "9", "10", "25", "100"]


def _query_tables(ddb: Any) -> None:
    """Orders (a hash key; a dense and a sparse index) and a log (hash and range keys; an index)."""
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("orderId", "userId", "createdKey", "pendingShard")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": "createdKey", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, hash_key in (("byUser", "userId"), ("pending", "pendingShard"))
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.create_table(
        TableName="log",
        KeySchema=[
            {"AttributeName": "ticker", "KeyType": "HASH"},
            {"AttributeName": "seq", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "ticker", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
            {"AttributeName": "day", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byDay",
                "KeySchema": [{"AttributeName": "day", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "tickerDay",
                "KeySchema": [
                    {"AttributeName": "ticker", "KeyType": "HASH"},
                    {"AttributeName": "day", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    create_table(ddb, "numbers", ("n", "N", "HASH"))
    for number in ("1", "2.50", "10"):
        ddb.put_item(TableName="numbers", Item={"n": {"N": number}, "label": {"S": f"n{number}"}})
    for n in range(120):
        order = {
            "orderId": {"S": f"o{(n * 37) % 120:03d}"},
            "userId": {"S": f"u{n % 7}"},
            "createdKey": {"S": f"2026-11-27T01:{n % 60:02d}#{n}"},
            "size": {"N": str(n % 11)},
        }
        if n % 5 == 0:
            order["pendingShard"] = {"S": f"pending#{n % 3}"}
        ddb.put_item(TableName="orders", Item=order)
        ddb.put_item(
            TableName="log",
            Item={
                "ticker": {"S": ("AAPL", "MSFT", "AMD")[n % 3]},
                "seq": {"N": str(n)},
                "day": {"S": f"d{n % 4}"},
            },
        )


def _by_key(table: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "TableName": table,
        "KeyConditionExpression": f"{name} = :v",
        "ExpressionAttributeValues": {":v": value},
    }


_QUERIES: list[dict[str, Any]] = [
    _by_key("orders", "orderId", {"S": "o037"}),
    _by_key("orders", "orderId", {"S": "none"}),
    {
        "TableName": "orders",
        "IndexName": "byUser",
        "KeyConditionExpression": "userId = :u AND createdKey > :c",
        "ExpressionAttributeValues": {":u": {"S": "u3"}, ":c": {"S": "2026-11-27T01:20"}},
        "ScanIndexForward": False,
        "Limit": 4,
    },
    {
        "TableName": "orders",
        "IndexName": "byUser",
        "KeyConditionExpression": "userId = :u",
        "FilterExpression": "#s > :n",
        "ExpressionAttributeNames": {"#s": "size"},
        "ExpressionAttributeValues": {":u": {"S": "u1"}, ":n": {"N": "4"}},
        "Limit": 5,
    },
    {
        "TableName": "orders",
        "IndexName": "pending",
        "KeyConditionExpression": "pendingShard = :p AND createdKey < :c",
        "ExpressionAttributeValues": {":p": {"S": "pending#1"}, ":c": {"S": "2026-11-27T01:45"}},
        "Limit": 3,
    },
    {
        "TableName": "orders",
        "IndexName": "pending",
        "KeyConditionExpression": "pendingShard = :p",
        "ExpressionAttributeValues": {":p": {"S": "pending#9"}},
    },
    {
        "TableName": "log",
        "KeyConditionExpression": "ticker = :t AND seq BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":t": {"S": "MSFT"}, ":a": {"N": "9"}, ":b": {"N": "100"}},
        "Limit": 6,
    },
    {
        "TableName": "log",
        "KeyConditionExpression": "ticker = :t",
        "ProjectionExpression": "seq",
        "ExpressionAttributeValues": {":t": {"S": "AMD"}},
        "ScanIndexForward": False,
    },
    {
        "TableName": "log",
        "IndexName": "byDay",
        "KeyConditionExpression": "#d = :d",
        "ExpressionAttributeNames": {"#d": "day"},
        "ExpressionAttributeValues": {":d": {"S": "d2"}},
        "Limit": 7,
    },
    {
        "TableName": "log",
        "IndexName": "tickerDay",
        "KeyConditionExpression": "ticker = :t AND #d > :d",
        "ExpressionAttributeNames": {"#d": "day"},
        "ExpressionAttributeValues": {":t": {"S": "AAPL"}, ":d": {"S": "d0"}},
        "ScanIndexForward": False,
        "Limit": 5,
    },
    # numbers equal as numbers ("2.5" is the stored "2.50"), and values that cannot be keys
    _by_key("numbers", "n", {"N": "2.5"}),
    _by_key("numbers", "n", {"N": "x"}),
    _by_key("orders", "orderId", {"SS": ["o1"]}),
    {
        "TableName": "orders",
        "IndexName": "byUser",
        "KeyConditionExpression": "userId = :u",
        "ExpressionAttributeValues": {":u": {"M": {"a": {"S": "u1"}}}},
    },
    {
        "TableName": "log",
        "IndexName": "nope",
        "KeyConditionExpression": "ticker = :t",
        "ExpressionAttributeValues": {":t": {"S": "AMD"}},
    },
]


def _every_page(ddb: Any, query: dict[str, Any]) -> list[Any]:
    pages = [answer(lambda: ddb.query(**query))]
    while isinstance(pages[-1], dict) and "LastEvaluatedKey" in pages[-1] and len(pages) < 50:
        start = pages[-1]["LastEvaluatedKey"]
        pages.append(answer(lambda: ddb.query(**query, ExclusiveStartKey=start)))  # noqa: B023 - called at once
    return pages


def test_a_query_starts_from_its_key_s_candidates_and_answers_every_page_as_moto_does() -> None:
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        _query_tables(ddb)
        stock = [_every_page(ddb, query) for query in _QUERIES]
        with restored((dynamodb_table.Table, "query"), (dynamodb_table.Table, "all_items")):
            assert motospeed.narrow_query_candidates()
            patched = dynamodb_table.Table.query
            assert motospeed.narrow_query_candidates()
            assert dynamodb_table.Table.query is patched  # twice is once
            read: list[int] = []
            walk = dynamodb_table.Table.all_items

            def all_items(self: Any) -> list[Any]:
                items = walk(self)
                read.append(len(items))
                return items

            setattr(dynamodb_table.Table, "all_items", all_items)  # noqa: B010
            ours = [_every_page(ddb, query) for query in _QUERIES]
    assert ours == stock
    assert sum(len(pages) for pages in stock) > len(_QUERIES) + 5  # paging was exercised
    assert any(isinstance(pages[0], tuple) for pages in stock)  # and an error
    # Only the two Queries whose values cannot be keys (N "x" and a set) fell back to sorting the table.
    assert read == [3, 120]


def test_a_present_account_s_backend_is_read_without_the_lock_and_a_missing_one_created_under_it() -> None:
    with restored((base_backend.BackendDict, "__getitem__")), mock_aws():
        assert motospeed.lock_free_backend_lookup()
        backends = models.sqs_backends
        first = backends["210987654321"]  # missing: moto's own creation, which registers it for reset
        assert backends in getattr(base_backend.BackendDict, "_instances")  # noqa: B009 - moto-internal
        got: list[Any] = []
        with base_backend.backend_lock:  # held here: a lookup that took it would wait for ever
            reader = threading.Thread(target=lambda: got.append(backends["210987654321"]))
            reader.start()
            reader.join(timeout=5)
        assert got == [first]
        first["us-east-1"].create_queue("kept")
        assert backends["210987654321"]["us-east-1"].list_queues("kept")[0].name == "kept"
        base_backend.BackendDict.reset()  # what mock_aws and the server's reset do
        assert backends["210987654321"]["us-east-1"].list_queues("kept") == []


def test_survivors_of_a_full_collection_are_frozen_and_garbage_is_still_collected() -> None:
    # In a child: freezing is for the life of the process, and pytest's own objects would be frozen.
    script = """
import gc, time
from localcloud import motospeed
motospeed.freeze_after_full_collections()
kept = [[i] for i in range(10_000)]
assert gc.get_freeze_count() == 0
gc.collect()
deadline = time.monotonic() + 5
while gc.get_freeze_count() < 10_000 and time.monotonic() < deadline:
    time.sleep(0.01)
frozen = gc.get_freeze_count()
cycle = []
cycle.append(cycle)  # garbage made after the freeze is the collector's again
del cycle
print(frozen, gc.collect())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    frozen, collected = (int(n) for n in done.stdout.split())
    assert frozen >= 10_000
    assert collected >= 1


def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
    """Known length, as moto answers; or chunks of unknown length; or no body at all."""
    if environ["PATH_INFO"] == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"first,", b"second"])
    if environ["PATH_INFO"] == "/empty":
        start_response("204 No Content", [])
        return [b""]
    body = json.dumps({"path": environ["PATH_INFO"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def test_a_response_of_known_length_leaves_in_one_write_and_others_as_waitress_writes_them() -> None:
    writes: list[bytes] = []
    with restored((HTTPChannel, "task_class"), (HTTPChannel, "write_soon")):
        assert motospeed.one_send_per_response()
        write_soon = HTTPChannel.write_soon

        def recording(channel: Any, data: Any) -> Any:
            if data:
                writes.append(bytes(data))
            return write_soon(channel, data)

        HTTPChannel.write_soon = recording
        server = create_server(wsgi, host="127.0.0.1", port=0, threads=2)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
        try:
            answers = []
            for path in ("/one", "/chunked", "/empty", "/two"):  # one kept-alive connection throughout
                writes.clear()
                connection.request("GET", path)
                response = connection.getresponse()
                answers.append((response.status, response.read(), list(writes)))
        finally:
            connection.close()
            # Closed from the server's own loop: closed from here, its sockets could vanish under the
            # loop's select (EBADF in the server thread, reported by pytest against a later test).
            server.trigger.pull_trigger(server.close)
            thread.join(timeout=10)
        assert not thread.is_alive()
    one, chunked, empty, two = answers
    for (status, body, sent), path in ((one, "/one"), (two, "/two")):
        assert status == 200 and json.loads(body) == {"path": path}
        assert len(sent) == 1 and sent[0].startswith(b"HTTP/1.1 200 OK") and sent[0].endswith(body)
    assert chunked[0] == 200 and chunked[1] == b"first,second"
    assert len(chunked[2]) > 1 and chunked[2][0].startswith(b"HTTP/1.1 200 OK")  # header, then chunks
    assert empty[0] == 204 and empty[1] == b""


def updates() -> list[Any]:
    """The same UpdateExpressions on several items, new and existing, guarded and not; a malformed one."""
    seen: list[Any] = []
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(ddb, "t", ("k", "S", "HASH"))
        expression = "SET #q = if_not_exists(#q, :zero) + :n, #s = :s ADD #c :one"
        names = {"#q": "qty", "#s": "seq", "#c": "count"}
        for key, n, seq in (("a", 1, 1), ("b", 5, 1), ("a", 2, 2), ("a", 3, 1), ("c", 4, 9)):
            values = {":zero": {"N": "0"}, ":n": {"N": str(n)}, ":s": {"N": str(seq)}, ":one": {"N": "1"}}
            try:
                ddb.update_item(
                    TableName="t",
                    Key={"k": {"S": key}},
                    UpdateExpression=expression,
                    ConditionExpression="attribute_not_exists(#s) OR #s < :s",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
                seen.append("written")
            except ddb.exceptions.ConditionalCheckFailedException:
                seen.append("refused")
        for _ in range(2):
            with pytest.raises(ddb.exceptions.ClientError) as raised:
                ddb.update_item(TableName="t", Key={"k": {"S": "a"}}, UpdateExpression="SET #q = = :n")
            seen.append(raised.value.response["Error"]["Code"])
        seen.append(sorted(ddb.scan(TableName="t")["Items"], key=lambda item: item["k"]["S"]))
    return seen


def test_update_expressions_parsed_once_answer_as_moto_does() -> None:
    parser = vars(expressions)["UpdateExpressionParser"]  # moto's stubs do not declare it
    expected = updates()
    with restored((parser, "make")):
        assert motospeed.memoise_update_expressions()
        assert updates() == expected
        assert parser.make("SET #a = :b") is parser.make("SET #a = :b")
    assert expected[:5] == ["written", "written", "written", "refused", "written"]
    assert [item["qty"]["N"] for item in expected[-1]] == ["3", "5", "4"]


def reads() -> dict[str, Any]:
    """Pages of a shard read from every kind of iterator, as (sequence number, data) pairs."""
    seen: dict[str, Any] = {}
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="s", ShardCount=1)
        shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
        latest = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="LATEST")
        empty = kinesis.get_records(ShardIterator=latest["ShardIterator"])
        seen["empty"] = (empty["Records"], empty["MillisBehindLatest"])
        at_zero = kinesis.get_shard_iterator(
            StreamName="s", ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber="0"
        )
        seen["empty at zero"] = kinesis.get_records(ShardIterator=at_zero["ShardIterator"])["Records"]
        sequence_numbers = []
        for n in range(25):
            put = kinesis.put_records(
                StreamName="s", Records=[{"Data": f"{n}-{i}".encode(), "PartitionKey": "k"} for i in range(3)]
            )
            sequence_numbers += [r["SequenceNumber"] for r in put["Records"]]
        seen["sequence_numbers"] = sequence_numbers
        starts: dict[str, Any] = {
            "trim": {"ShardIteratorType": "TRIM_HORIZON"},
            "at": {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": sequence_numbers[7]},
            "after": {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": sequence_numbers[7],
            },
            "latest": {"ShardIteratorType": "LATEST"},
        }
        for name, start in starts.items():
            iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, **start)["ShardIterator"]
            pages = []
            for limit in (1, 10, 100, 10, 10):
                page = kinesis.get_records(ShardIterator=iterator, Limit=limit)
                pages.append([(r["SequenceNumber"], r["Data"]) for r in page["Records"]])
                iterator = page["NextShardIterator"]
            seen[name] = pages
        described = kinesis.describe_stream(StreamName="s")["StreamDescription"]["Shards"][0]
        seen["range"] = described["SequenceNumberRange"]
    return seen


def test_kinesis_reads_by_index_answer_as_moto_s_walk() -> None:
    shard = kinesis_models.Shard
    expected = reads()
    with restored(
        (shard, "get_records"), (shard, "get_max_sequence_number"), (shard, "get_min_sequence_number")
    ):
        assert motospeed.index_kinesis_records()
        assert reads() == expected
    assert len(expected["sequence_numbers"]) == 75 and len(set(expected["sequence_numbers"])) == 75
    assert [len(page) for page in expected["trim"]] == [1, 10, 64, 0, 0]
    assert expected["after"][0][0][0] == expected["sequence_numbers"][8]
    assert expected["latest"] == [[], [], [], [], []]


def test_a_shard_whose_numbers_have_a_gap_is_read_by_moto_s_walk() -> None:
    shard = kinesis_models.Shard
    with restored(
        (shard, "get_records"), (shard, "get_max_sequence_number"), (shard, "get_min_sequence_number")
    ):
        walk = shard.get_records
        assert motospeed.index_kinesis_records()
        one = shard(0, 0, 2**128)
        for n in range(6):
            one.put_record("k", f"d{n}", "1")
        del one.records[3]  # moto never leaves a gap; the indexed read must not assume it silently
        for after, limit in (("0", 10), ("2", 2), ("3", 1), ("5", 10)):
            ours, theirs = one.get_records(after, limit), walk(one, after, limit)
            assert ([r.sequence_number for r in ours[0]], ours[1]) == (
                [r.sequence_number for r in theirs[0]],
                theirs[1],
            )
        assert one.get_max_sequence_number() == 6 and one.get_min_sequence_number() == 1


VOLATILE = {
    "MessageId",
    "ReceiptHandle",
    "SequenceNumber",
    "ShardIterator",
    "NextShardIterator",
    "RequestId",
    "SentTimestamp",
    "ApproximateFirstReceiveTimestamp",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
}


def normalised(value: Any) -> Any:
    """An answer with what differs between two runs of the same calls (ids, handles, times) blanked."""
    if isinstance(value, dict):
        return {
            k: "<volatile>" if k in VOLATILE else normalised(v)
            for k, v in value.items()
            if k != "ResponseMetadata"
        }
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, datetime.datetime):
        return "<time>"
    return value


def answers() -> list[Any]:
    """Answers of every shape the pipeline reads: items, pages, tables, queues, messages, shards, records."""
    seen: list[Any] = []
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        sqs: Any = boto3.client("sqs", region_name="us-east-1")
        kinesis: Any = boto3.client("kinesis", region_name="us-east-1")
        seen.append(create_table(ddb, "t", ("k", "S", "HASH"), ("n", "N", "RANGE")))
        item = {
            "k": {"S": "a"},
            "n": {"N": "1"},
            "m": {"M": {"x": {"L": [{"S": "q"}, {"N": "2"}, {"BOOL": True}, {"NULL": True}]}}},
            "ss": {"SS": ["b", "c"]},
            "ns": {"NS": ["1", "2.5"]},
            "b": {"B": b"\x00\x01"},
        }
        for n in range(3):
            seen.append(
                ddb.put_item(TableName="t", Item={**item, "n": {"N": str(n)}}, ReturnValues="ALL_OLD")
            )
        key = {"k": {"S": "a"}, "n": {"N": "1"}}
        seen.append(ddb.get_item(TableName="t", Key=key))
        seen.append(
            ddb.query(
                TableName="t",
                KeyConditionExpression="k = :k",
                ExpressionAttributeValues={":k": {"S": "a"}},
                Limit=2,
            )
        )
        seen.append(ddb.scan(TableName="t", ReturnConsumedCapacity="TOTAL"))
        seen.append(ddb.batch_get_item(RequestItems={"t": {"Keys": [key]}}))
        seen.append(
            ddb.update_item(
                TableName="t",
                Key=key,
                UpdateExpression="ADD ns :s",
                ExpressionAttributeValues={":s": {"NS": ["3"]}},
                ReturnValues="ALL_NEW",
            )
        )
        seen.append(ddb.describe_table(TableName="t"))
        url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        seen.append(
            sqs.send_message(
                QueueUrl=url,
                MessageBody="hi",
                MessageGroupId="g",
                MessageDeduplicationId="d",
                MessageAttributes={"a": {"DataType": "String", "StringValue": "v"}},
            )
        )
        seen.append(sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"]))
        seen.append(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))
        kinesis.create_stream(StreamName="s", ShardCount=1)
        seen.append(kinesis.put_records(StreamName="s", Records=[{"Data": b"x", "PartitionKey": "p"}]))
        seen.append(kinesis.describe_stream(StreamName="s"))
        shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        seen.append(kinesis.get_records(ShardIterator=iterator["ShardIterator"]))
    return [normalised(answer) for answer in seen]


def test_memoised_attribute_aliases_serialize_as_moto_does() -> None:
    expected = answers()
    with restored((moto_serialize.XFormedAttributePicker, "get_possible_keys")):
        assert motospeed.memoise_attribute_aliases()
        first, again = answers(), answers()  # again: every name from the memo
    assert first == expected and again == expected
    assert expected[4]["Item"]["m"]["M"]["x"]["L"][2] == {"BOOL": True}


def test_memoised_aliases_are_moto_s_for_every_member_of_every_answer() -> None:
    """Every output member of the services the local cloud serves, looked up on a dict and on an object:
    the memoised names are the names moto's providers give, whichever shape asked first."""
    picker = moto_serialize.XFormedAttributePicker()
    stock = picker.get_possible_keys

    class Table:  # an object of moto's own kind, whose class name prefixes members (TableName...)
        pass

    contexts = []
    owners: tuple[object, ...] = ({}, Table())
    for service in ("dynamodb", "sqs", "kinesis"):
        model = botocore.session.get_session().get_service_model(service)
        for operation in model.operation_names:
            output = model.operation_model(operation).output_shape
            for structure in [output] + [
                m for m in getattr(output, "members", {}).values() if m.type_name == "structure"
            ]:
                for key, shape in getattr(structure, "members", {}).items():
                    for obj in owners:
                        contexts.append(moto_serialize.AttributePickerContext(obj=obj, key=key, shape=shape))
    expected = [list(stock(c)) for c in contexts]
    with restored((moto_serialize.XFormedAttributePicker, "get_possible_keys")):
        assert motospeed.memoise_attribute_aliases()
        ours = [list(picker.get_possible_keys(c)) for c in reversed(contexts)][::-1]
        again = [list(picker.get_possible_keys(c)) for c in contexts]
    assert ours == expected and again == expected
    assert len(contexts) > 500 and len({tuple(e) for e in expected}) > 100


def _dynamodb_calls(app: Any) -> list[tuple[int, str, bytes, list[str]]]:
    """Raw DynamoDB requests, as an SDK sends them, through a WSGI app; (status, content type, body,
    the names of the response's headers)."""
    web = Client(app)
    auth = (
        "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )
    key = {"pk": {"S": "a"}}
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "CreateTable",
            {
                "TableName": "t",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        ),
        ("PutItem", {"TableName": "t", "Item": {**key, "n": {"N": "1"}}}),
        ("GetItem", {"TableName": "t", "Key": key}),
        (
            "UpdateItem",
            {
                "TableName": "t",
                "Key": key,
                "UpdateExpression": "SET n = n + :one",
                "ConditionExpression": "n > :one",  # false: ConditionalCheckFailedException, a 400
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            },
        ),
        (
            "Query",
            {
                "TableName": "t",
                "KeyConditionExpression": "pk = :a",
                "ExpressionAttributeValues": {":a": {"S": "a"}},
            },
        ),
        ("GetItem", {"TableName": "missing", "Key": key}),  # ResourceNotFoundException
        ("PutItem", {"TableName": "t", "Item": {"n": {"N": "1"}}}),  # no key: ValidationException
        ("ListTables", {}),
        ("ListTables", {"Origin": "http://localhost:5173"}),  # CORS headers for a browser's origin
    ]
    answers = []
    for operation, body in calls:
        origin = body.pop("Origin", None)
        response = web.post(
            "/",
            data=json.dumps(body),
            headers={
                **({"Origin": origin} if origin else {}),
                "Host": "dynamodb.us-east-1.amazonaws.com",
                "X-Amz-Target": f"DynamoDB_20120810.{operation}",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": auth,
            },
        )
        text = response.get_data()
        if operation == "CreateTable":
            text = json.dumps(sorted(json.loads(text)["TableDescription"])).encode()  # has a timestamp
        names = sorted(  # the CORS headers with their values, the others by name (ids, lengths vary)
            f"{name.lower()}: {value}" if name.lower().startswith(("access-", "vary")) else name.lower()
            for name, value in response.headers.items()
        )
        answers.append((response.status_code, response.headers.get("Content-Type", ""), text, names))
    return answers


def test_dynamodb_requests_skip_flask_and_answer_as_moto_s_flask_app_does() -> None:
    reached: list[str] = []

    def counting(app: Any) -> Any:
        def application(environ: dict[str, Any], start_response: Any) -> Any:
            reached.append(environ.get("HTTP_X_AMZ_TARGET", environ["PATH_INFO"]))
            return app(environ, start_response)

        return application

    with mock_aws():
        stock = _dynamodb_calls(DomainDispatcherApplication(create_backend_app))
    with mock_aws():
        direct_app = motospeed.DirectDynamoDB(counting(DomainDispatcherApplication(create_backend_app)))
        direct = _dynamodb_calls(direct_app)
        assert not reached, "a DynamoDB call went through moto's Flask application"
        # anything else is moto's Flask application's: another service, another path, a GET
        web = Client(direct_app)
        assert web.get("/moto-api/data.json").status_code == 200
        sqs = web.post("/", data="Action=ListQueues", headers={"Host": "sqs.us-east-1.amazonaws.com"})
        assert sqs.status_code == 200
        assert len(reached) == 2
    assert [answer[0] for answer in stock] == [200, 200, 200, 400, 200, 400, 400, 200, 200]
    assert "vary: Origin" in stock[-1][3] and "vary: Origin" not in stock[-2][3]  # flask_cors's answer
    assert direct == stock
