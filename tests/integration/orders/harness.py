"""The orders pipeline in-process on moto: the orders, matching and order-status handlers, fed real events.

`Exchange` plays API Gateway and Lambda's event source mappings by hand: it builds REST proxy events
from the SAM sample in events/, receives what the orders function put on the FIFO lane and hands it
to the matching handler as an SQS FIFO event (deleting what succeeded, as Lambda does), then reads the
Kinesis stream and hands those records to the order-status handler. Tickers and users are unique per
test, so tests share the session's moto server without seeing each other's books.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from localcloud.resources import LocalResources, client
from tests.support import ROOT, load_function

SAMPLE_EVENT = ROOT / "events" / "apigateway-aws-proxy.json"
REGION = "us-east-1"
ACCOUNT = "123456789012"


@functools.cache
def _sample() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SAMPLE_EVENT.read_text())
    return loaded


@dataclass(frozen=True)
class User:
    user_id: str
    username: str

    @property
    def authorizer(self) -> dict[str, str]:
        """requestContext.authorizer as API Gateway passes on the REQUEST authorizer's context."""
        return {
            "userId": self.user_id,
            "username": self.username,
            "scopes": "orders:read orders:write",
            "principalId": self.user_id,
        }


@dataclass
class Context:
    """The LambdaContext fields powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def rest_event(
    method: str,
    path: str,
    user: User | None,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A REST (v1) proxy event as API Gateway sends it, from the SAM-generated sample."""
    event = copy.deepcopy(_sample())
    headers = {"Host": "tsapi.execute-api.us-east-1.amazonaws.com", "User-Agent": "it-tests"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if request_id:
        headers["X-Request-Id"] = request_id
    context = event["requestContext"]
    context.update(
        {
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "httpMethod": method,
            "path": f"/local{path}",
            "resourcePath": resource or path,
        }
    )
    context.pop("authorizer", None)
    if user is not None:
        context["authorizer"] = user.authorizer
    event.update(
        {
            "resource": resource or path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": path_parameters,
            "stageVariables": None,
            "body": None if body is None else (body if isinstance(body, str) else json.dumps(body)),
            "isBase64Encoded": False,
        }
    )
    return event


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A received SQS message as Lambda's SQS event source hands it to the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: str(v) for k, v in message.get("Attributes", {}).items()},
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def kinesis_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/OrderStatusFunctionRole",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }


class Exchange:
    def __init__(self, stack: LocalResources) -> None:
        self.stack = stack
        endpoint = stack.endpoint
        self.sqs = client("sqs", endpoint)
        self.kinesis = client("kinesis", endpoint)
        self.ddb = client("dynamodb", endpoint)
        self.lane_url = str(stack.attribute("OrdersLane", "QueueUrl"))
        self.lane_arn = str(stack.attribute("OrdersLane", "Arn"))
        self.dlq_url = str(stack.attribute("OrdersLaneDLQ", "QueueUrl"))
        self.stream = str(stack.attribute("MatchingEventsStream", "Ref"))
        self.stream_arn = str(stack.attribute("MatchingEventsStream", "Arn"))
        self.book_log_table = str(stack.attribute("BookLogTable", "Ref"))
        self.snapshots_table = str(stack.attribute("BookSnapshotsTable", "Ref"))
        self.orders = load_function("orders")
        self.matching = load_function("matching")
        self.order_status = load_function("order_status")
        shard = self.kinesis.describe_stream(StreamName=self.stream)["StreamDescription"]["Shards"][0]
        self._iterator: str = self.kinesis.get_shard_iterator(
            StreamName=self.stream, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]
        self._received: list[str] = []
        self.drain(self.dlq_url)

    def close(self) -> None:
        """Leave the shared lane empty: delete what this test received (in flight, or it would come
        back after the visibility timeout into a later test) and what it sent but never received."""
        for handle in self._received:
            with contextlib.suppress(ClientError):  # deleted already, or received again since
                self.sqs.delete_message(QueueUrl=self.lane_url, ReceiptHandle=handle)
        self.drain(self.lane_url)

    # --- the API ---------------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        user: User | None,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        request_id: str | None = None,
    ) -> Reply:
        resource, params = _route(path)
        event = rest_event(
            method,
            path,
            user,
            body=body,
            query=query,
            resource=resource,
            path_parameters=params,
            request_id=request_id,
        )
        result = self.orders.lambda_handler(event, Context("orders"))
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ",".join(str(v) for v in values)
        text = result.get("body") or ""
        return Reply(int(result["statusCode"]), headers, json.loads(text) if text else None)

    def place(self, user: User, **body: Any) -> dict[str, Any]:
        reply = self.call("POST", "/api/orders", user, body=body)
        assert reply.status == 202, reply.body
        order: dict[str, Any] = reply.body
        return order

    def get(self, user: User, order_id: str) -> dict[str, Any]:
        reply = self.call("GET", f"/api/orders/{order_id}", user)
        assert reply.status == 200, reply.body
        order: dict[str, Any] = reply.body
        return order

    # --- the lane -----------------------------------------------------------------------------------
    def receive(self, url: str | None = None, *, attribute_names: bool = False) -> list[dict[str, Any]]:
        """Every message visible now, in receive order (the FIFO order of each group)."""
        messages: list[dict[str, Any]] = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=url or self.lane_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"] if attribute_names else [],
            )
            received = response.get("Messages", [])
            if not received:
                return messages
            messages.extend(received)
            if (url or self.lane_url) == self.lane_url:
                self._received.extend(m["ReceiptHandle"] for m in received)

    def drain(self, url: str) -> None:
        for message in self.receive(url):
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def lane_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [sqs_record(m, self.lane_arn) for m in messages]}

    def match(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.matching.lambda_handler(event, Context("matching"))
        return result

    def settle(self, event: dict[str, Any], result: dict[str, Any]) -> None:
        """What Lambda does after an invocation: delete the records that did not fail."""
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.lane_url, ReceiptHandle=record["receiptHandle"])

    def release(self, event: dict[str, Any], only: set[str] | None = None) -> None:
        """Make records visible again now (their visibility timeout, fast-forwarded); `only` those ids."""
        for record in event["Records"]:
            if only is None or record["messageId"] in only:
                self.sqs.change_message_visibility(
                    QueueUrl=self.lane_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )

    def cold_start_matching(self) -> None:
        """A new execution environment: the handler module, its settings and its cached books are new."""
        self.matching = load_function("matching")

    # --- the stream -------------------------------------------------------------------------------
    def stream_records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while True:
            response = self.kinesis.get_records(ShardIterator=self._iterator, Limit=1000)
            self._iterator = response["NextShardIterator"]
            records.extend(response["Records"])
            if not response["Records"]:
                return records

    def project(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        event = {"Records": [kinesis_record(r, self.stream_arn) for r in records]}
        result: dict[str, Any] = self.order_status.lambda_handler(event, Context("order-status"))
        return result

    # --- everything at once, as the event source mappings would ------------------------------------
    def pump(self) -> list[dict[str, Any]]:
        """Run the lane to empty and project what reached the stream; returns the matching results."""
        results = []
        while messages := self.receive():
            for start in range(0, len(messages), 10):
                event = self.lane_event(messages[start : start + 10])
                result = self.match(event)
                assert result == {"batchItemFailures": []}
                self.settle(event, result)
                results.append(result)
        records = self.stream_records()
        if records:
            assert self.project(records) == {"batchItemFailures": []}
        return results


def _route(path: str) -> tuple[str, dict[str, str] | None]:
    """The template's resource path and path parameters for a concrete path."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "orderbook"] and len(parts) == 3:
        return "/api/orderbook/{ticker}", {"ticker": parts[2]}
    if parts[:2] == ["api", "orders"] and len(parts) == 4:
        return "/api/orders/{order_id}/cancel", {"order_id": parts[2]}
    if parts[:2] == ["api", "orders"] and len(parts) == 3:
        return "/api/orders/{order_id}", {"order_id": parts[2]}
    return path, None


def new_user(name: str) -> User:
    suffix = uuid.uuid4().hex[:8]
    return User(user_id=f"u-{name}-{suffix}", username=f"{name}-{suffix}")
