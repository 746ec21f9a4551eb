"""Writes events/*.json: one sample event per function and per API route of template.yaml (`make events`).

API samples are API Gateway REST (v1) proxy events in the shape of `sam local generate-event apigateway
aws-proxy` (events/apigateway-aws-proxy.json, kept as generated), with the REQUEST authorizer's context on
the routes behind it. The authorizer sample is the authorizer's own REQUEST input. The lane sample is an
SQS FIFO batch of valid order.placed.v1 commands (message group = ticker); the stream samples are Kinesis
batches carrying one base64 matching.batch.v1 record. Everything is fixed (ids, times), so the files only
change when this script does.

Each sample also says what invoking it must give, in the order below on one fresh stack:
tests/integration/test_sample_events.py invokes them through `python -m localcloud invoke` and fails when a
file here differs from what this script writes (`make events` rewrites them).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradestream.contracts import MatchingBatchV1, OrderPlacedV1, OrderUpdatedV1, TradeExecutedV1
from tradestream.matching import OrderStatus, OrderType, Side, TimeInForce
from tradestream.orders.service import order_id_for

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
BASE_PROXY_EVENT = EVENTS / "apigateway-aws-proxy.json"

REGION = "us-east-1"
ACCOUNT = "123456789012"
API_ID = "tsapi12345"
STAGE = "local"
STACK = "tradestream-local"
SOURCE_IP = "198.51.100.7"
EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TIME = datetime(2026, 1, 1, tzinfo=UTC)

ALICE = {"userId": "6a1c4b7e-2f0d-4c55-9d8e-1b2c3d4e5f60", "username": "alice-sample"}
BOB = {"userId": "9f8e7d6c-5b4a-4321-8fed-cba987654321", "username": "bob-sample"}
SCOPES = "orders:write orders:read portfolio:read"
PASSWORD = "correct-horse-battery-staple"
TICKER = "AAPL"
CLIENT_ORDER_ID = "sample-1"
ALICE_ORDER = order_id_for(ALICE["userId"], CLIENT_ORDER_ID)
BOB_ORDER = order_id_for(BOB["userId"], "sample-2")
# Not a token: the samples that carry one show how a refused token is answered.
PLACEHOLDER_TOKEN = "sample.placeholder.token"


@dataclass(frozen=True)
class Expect:
    """What an invocation must return: an HTTP status, an error message, or an empty batchItemFailures."""

    status: int | None = None
    error: str | None = None
    batch_ok: bool = False
    result: dict[str, Any] | None = None  # the exact return value


@dataclass(frozen=True)
class Sample:
    file: str
    function: str  # logical id in template.yaml
    event: dict[str, Any]
    expect: Expect
    route: tuple[str, str] | None = None  # (METHOD, resource path) of an Api event
    # The one sample per function `make test` invokes; TRADESTREAM_SAMPLE_EVENTS=all invokes every sample.
    primary: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


# --- API Gateway -----------------------------------------------------------------------------------------
def _base_proxy_event() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(BASE_PROXY_EVENT.read_text())
    return loaded


def _query(params: dict[str, str] | None) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not params:
        return None, None
    return dict(params), {k: [v] for k, v in params.items()}


def api_event(
    name: str,
    method: str,
    resource: str,
    *,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    caller: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST (v1) proxy event as API Gateway hands it to the function behind `resource`."""
    path = resource
    for key, value in (path_parameters or {}).items():
        path = path.replace("{" + key + "}", value)
    event = copy.deepcopy(_base_proxy_event())
    headers = {
        "Accept": "application/json",
        "Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "User-Agent": "tradestream-sample",
        "X-Forwarded-For": SOURCE_IP,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        "X-Request-Id": f"sample-{name}",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    if caller is not None:
        headers["Authorization"] = f"Bearer {PLACEHOLDER_TOKEN}"
    single, multi = _query(query)
    context = event["requestContext"]
    context.update(
        {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "stage": STAGE,
            "requestId": f"sample-{name}",
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "resourcePath": resource,
            "requestTime": "01/Jan/2026:00:00:00 +0000",
            "requestTimeEpoch": EPOCH_MS,
        }
    )
    context["identity"].update({"sourceIp": SOURCE_IP, "userAgent": headers["User-Agent"]})
    if caller is not None:
        # What API Gateway adds from the REQUEST authorizer's answer (functions/authorizer/app.py).
        context["authorizer"] = {
            "principalId": caller["userId"],
            "userId": caller["userId"],
            "username": caller["username"],
            "scopes": SCOPES,
            "integrationLatency": 0,
        }
    else:
        context.pop("authorizer", None)
    event.update(
        {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": single,
            "multiValueQueryStringParameters": multi,
            "pathParameters": dict(path_parameters) if path_parameters else None,
            "stageVariables": None,
            "body": None if body is None else json.dumps(body),
            "isBase64Encoded": False,
        }
    )
    return event


def authorizer_event() -> dict[str, Any]:
    """The REQUEST authorizer's input for GET /api/me: the request parts plus type and methodArn."""
    proxy = api_event("authorizer", "GET", "/api/me", caller=ALICE)
    proxy["requestContext"].pop("authorizer", None)
    keys: tuple[str, ...] = ("resource", "path", "httpMethod", "headers", "multiValueHeaders")
    keys += ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters")
    keys += ("stageVariables", "requestContext")
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/GET/api/me",
        **{key: proxy[key] for key in keys},
    }


# --- SQS FIFO lane ---------------------------------------------------------------------------------------
def _placed(
    user: dict[str, str], order_id: str, *, side: Side, tif: TimeInForce, qty: str, price: str
) -> str:
    command = OrderPlacedV1(
        orderId=order_id,
        userId=user["userId"],
        ticker=TICKER,
        side=side,
        orderType=OrderType.LIMIT,
        timeInForce=tif,
        quantity=Decimal(qty),
        price=Decimal(price),
        createdAt=TIME,
        correlationId=f"sample-{order_id[:8]}",
    )
    return command.model_dump_json(by_alias=True)


def lane_event() -> dict[str, Any]:
    """Two commands of the AAPL lane in one batch: Alice's resting BUY, then Bob's crossing IOC SELL."""
    bodies = [
        (
            ALICE_ORDER,
            _placed(ALICE, ALICE_ORDER, side=Side.BUY, tif=TimeInForce.GTC, qty="10", price="150.25"),
        ),
        (BOB_ORDER, _placed(BOB, BOB_ORDER, side=Side.SELL, tif=TimeInForce.IOC, qty="4", price="150.00")),
    ]
    records = []
    for n, (order_id, body) in enumerate(bodies, start=1):
        records.append(
            {
                "messageId": f"0c6f9a5e-0000-4000-8000-00000000000{n}",
                "receiptHandle": f"sample-receipt-{n}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(EPOCH_MS + n),
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": str(EPOCH_MS + n + 1),
                    "SequenceNumber": f"1800000000000000000{n}",
                    "MessageGroupId": TICKER,
                    "MessageDeduplicationId": order_id,
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-orders-lane.fifo",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


# --- Kinesis stream --------------------------------------------------------------------------------------
def scheduled_event() -> dict[str, Any]:
    """An EventBridge Scheduled Event, as `sam local generate-event cloudwatch scheduled-event` shapes it."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-ReconcilerFunctionEveryMinute"],
        "detail": {},
    }


def matching_batch() -> MatchingBatchV1:
    """Log entry 1 of AAPL as the lane sample commits it: one trade at the maker's price, two updates."""
    return MatchingBatchV1(
        ticker=TICKER,
        seq=1,
        committedAt=TIME,
        correlationId="sample-lane",
        events=[
            TradeExecutedV1(
                ticker=TICKER,
                seq=1,
                n=0,
                eventId=f"{TICKER}:1:0",
                tradeId=f"{TICKER}-1-0",
                price=Decimal("150.25"),
                quantity=Decimal("4"),
                takerSide=Side.SELL,
                makerOrderId=ALICE_ORDER,
                takerOrderId=BOB_ORDER,
                makerUserId=ALICE["userId"],
                takerUserId=BOB["userId"],
                executedAt=TIME,
            ),
            OrderUpdatedV1(
                ticker=TICKER,
                seq=1,
                n=1,
                eventId=f"{TICKER}:1:1",
                orderId=ALICE_ORDER,
                userId=ALICE["userId"],
                status=OrderStatus.PARTIALLY_FILLED,
                filledQuantity=Decimal("4"),
                remainingQuantity=Decimal("6"),
                lastFillPrice=Decimal("150.25"),
                avgFillPrice=Decimal("150.25"),
                updatedAt=TIME,
            ),
            OrderUpdatedV1(
                ticker=TICKER,
                seq=1,
                n=2,
                eventId=f"{TICKER}:1:2",
                orderId=BOB_ORDER,
                userId=BOB["userId"],
                status=OrderStatus.FILLED,
                filledQuantity=Decimal("4"),
                remainingQuantity=Decimal("0"),
                lastFillPrice=Decimal("150.25"),
                avgFillPrice=Decimal("150.25"),
                updatedAt=TIME,
            ),
        ],
    )


def stream_event() -> dict[str, Any]:
    data = base64.b64encode(matching_batch().model_dump_json(by_alias=True).encode()).decode()
    sequence = "49668000000000000000000000000000000000000000000000000001"
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": TICKER,
                    "sequenceNumber": sequence,
                    "data": data,
                    "approximateArrivalTimestamp": EPOCH_MS / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/sample-projection-role",
                "awsRegion": REGION,
                "eventSourceARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{STACK}-MatchingEventsStream",
            }
        ]
    }


# --- the manifest ----------------------------------------------------------------------------------------
def _api(
    file: str,
    function: str,
    method: str,
    resource: str,
    status: int,
    *,
    primary: bool = False,
    **kwargs: Any,
) -> Sample:
    name = file.removesuffix(".json")
    return Sample(
        file=file,
        function=function,
        event=api_event(name, method, resource, **kwargs),
        expect=Expect(status=status),
        route=(method, resource),
        primary=primary,
    )


def samples() -> list[Sample]:
    """Every sample, in the order that gives the expected results on one fresh stack."""
    credentials = {"username": ALICE["username"], "password": PASSWORD}
    refresh = {"refreshToken": PLACEHOLDER_TOKEN}
    order = {"order_id": ALICE_ORDER}
    owner = {"user_id": ALICE["userId"]}
    ticker = {"ticker": TICKER}
    both = {**owner, **ticker}
    place = {
        "ticker": TICKER,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "10",
        "price": "150.25",
        "clientOrderId": CLIENT_ORDER_ID,
    }
    stream = stream_event()
    return [
        _api("health-get.json", "HealthFunction", "GET", "/actuator/health", 200, primary=True),
        _api("health-openapi.json", "HealthFunction", "GET", "/api/openapi.json", 200),
        _api(
            "auth-register.json",
            "AuthFunction",
            "POST",
            "/api/users/register",
            201,
            primary=True,
            body=credentials,
        ),
        _api("auth-login.json", "AuthFunction", "POST", "/api/auth/login", 200, body=credentials),
        _api("auth-refresh.json", "AuthFunction", "POST", "/api/auth/refresh", 401, body=refresh),
        _api("auth-logout.json", "AuthFunction", "POST", "/api/auth/logout", 401, body=refresh, caller=ALICE),
        _api("auth-jwks.json", "AuthFunction", "GET", "/.well-known/jwks.json", 200),
        _api("auth-me.json", "AuthFunction", "GET", "/api/me", 200, caller=ALICE),
        Sample(
            file="authorizer-request.json",
            function="AuthorizerFunction",
            event=authorizer_event(),
            expect=Expect(error="Unauthorized"),
            primary=True,
            notes=("the placeholder token is refused with API Gateway's 'Unauthorized' contract",),
        ),
        _api(
            "orders-place.json",
            "OrdersFunction",
            "POST",
            "/api/orders",
            202,
            primary=True,
            body=place,
            caller=ALICE,
        ),
        _api(
            "orders-get.json",
            "OrdersFunction",
            "GET",
            "/api/orders/{order_id}",
            200,
            path_parameters=order,
            caller=ALICE,
        ),
        _api(
            "orders-list.json",
            "OrdersFunction",
            "GET",
            "/api/orders",
            200,
            query={"status": "open", "ticker": TICKER, "limit": "20"},
            caller=ALICE,
        ),
        _api(
            "orders-orderbook.json",
            "OrdersFunction",
            "GET",
            "/api/orderbook/{ticker}",
            200,
            path_parameters=ticker,
            query={"depth": "10"},
            caller=ALICE,
        ),
        _api(
            "orders-cancel.json",
            "OrdersFunction",
            "POST",
            "/api/orders/{order_id}/cancel",
            202,
            path_parameters=order,
            caller=ALICE,
        ),
        _api(
            "orders-delete.json",
            "OrdersFunction",
            "DELETE",
            "/api/orders/{order_id}",
            202,
            path_parameters=order,
            caller=ALICE,
        ),
        Sample(
            "matching-lane-batch.json", "MatchingFunction", lane_event(), Expect(batch_ok=True), primary=True
        ),
        Sample(
            "reconciler-scheduled.json",
            "ReconcilerFunction",
            scheduled_event(),
            Expect(result={"resent": 0}),
            primary=True,
            notes=("orders younger than the grace period are left alone",),
        ),
        Sample(
            "order-status-stream-batch.json",
            "OrderStatusFunction",
            stream,
            Expect(batch_ok=True),
            primary=True,
        ),
        Sample("journal-stream-batch.json", "JournalFunction", stream, Expect(batch_ok=True), primary=True),
        Sample(
            "portfolio-stream-batch.json", "PortfolioFunction", stream, Expect(batch_ok=True), primary=True
        ),
        Sample(
            "market-data-stream-batch.json", "MarketDataFunction", stream, Expect(batch_ok=True), primary=True
        ),
        _api(
            "query-transactions.json",
            "QueryFunction",
            "GET",
            "/api/transactions/{user_id}",
            200,
            primary=True,
            path_parameters=owner,
            query={"page": "0", "size": "20"},
            caller=ALICE,
        ),
        _api(
            "query-transactions-ticker.json",
            "QueryFunction",
            "GET",
            "/api/transactions/{user_id}/ticker/{ticker}",
            200,
            path_parameters=both,
            caller=ALICE,
        ),
        _api(
            "query-transactions-since.json",
            "QueryFunction",
            "GET",
            "/api/transactions/{user_id}/since",
            200,
            path_parameters=owner,
            query={"iso": "2025-12-31T00:00:00Z"},
            caller=ALICE,
        ),
        _api(
            "query-positions.json",
            "QueryFunction",
            "GET",
            "/api/portfolio/{user_id}/positions",
            200,
            path_parameters=owner,
            caller=ALICE,
        ),
        _api(
            "query-position.json",
            "QueryFunction",
            "GET",
            "/api/portfolio/{user_id}/positions/{ticker}",
            200,
            path_parameters=both,
            caller=ALICE,
        ),
        _api(
            "query-summary.json",
            "QueryFunction",
            "GET",
            "/api/portfolio/{user_id}/summary",
            200,
            path_parameters=owner,
            caller=ALICE,
        ),
        _api(
            "query-candles.json",
            "QueryFunction",
            "GET",
            "/api/market-data/candles/{ticker}",
            200,
            path_parameters=ticker,
            query={"interval": "1m", "limit": "10"},
            caller=ALICE,
        ),
        _api(
            "query-latest-candle.json",
            "QueryFunction",
            "GET",
            "/api/market-data/candles/{ticker}/latest",
            200,
            path_parameters=ticker,
            query={"interval": "1m"},
            caller=ALICE,
        ),
        _api(
            "query-trades.json",
            "QueryFunction",
            "GET",
            "/api/market-data/trades/{ticker}",
            200,
            path_parameters=ticker,
            query={"limit": "10"},
            caller=ALICE,
        ),
        _api("query-tickers.json", "QueryFunction", "GET", "/api/market-data/tickers", 200, caller=ALICE),
    ]


def render(sample: Sample) -> str:
    return json.dumps(sample.event, indent=2) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for sample in samples():
        target = EVENTS / sample.file
        text = render(sample)
        if check:
            if not target.is_file() or target.read_text() != text:
                stale.append(sample.file)
        else:
            target.write_text(text)
    if stale:
        print(f"events/ is stale ({', '.join(stale)}): run make events", file=sys.stderr)
        return 1
    if not check:
        print(f"wrote {len(samples())} sample events to {EVENTS.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
