"""The audit against a deployment on moto: a stack of its own, filled by the real handlers (orders API,
matching, the four projections), passes; the same stack with damaged items fails, naming the damage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import botocore.session
import pynamodb.connection.base
import pytest

from localcloud import template as template_loader
from localcloud.resources import LocalResources, client
from tests.events import LambdaContextStub
from tests.integration.conftest import function_environment
from tests.integration.orders.harness import Exchange, User, kinesis_record, new_user
from tests.support import TEMPLATE, load_function
from tradestream.audit import AuditConfig, Report, run_audit

FUNCTIONS = (
    "OrdersFunction",
    "MatchingFunction",
    "OrderStatusFunction",
    "JournalFunction",
    "PortfolioFunction",
    "MarketDataFunction",
)
PROJECTIONS = ("journal", "portfolio", "market_data")


class FullExchange(Exchange):
    """The orders harness, with every projection fed the stream (not only order status)."""

    def __init__(self, stack: LocalResources) -> None:
        super().__init__(stack)
        self.projections = [load_function(name) for name in PROJECTIONS]

    def project(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        event = {"Records": [kinesis_record(r, self.stream_arn) for r in records]}
        for module in self.projections:
            assert module.lambda_handler(event, LambdaContextStub()) == {"batchItemFailures": []}
        return super().project(records)


@pytest.fixture(scope="module")
def audited_stack(moto_endpoint: str) -> Iterator[LocalResources]:
    """A stack no other test writes to: the audit reads whole tables."""
    resources = LocalResources(
        template_loader.load(TEMPLATE), stack_name=f"audit-{uuid.uuid4().hex[:8]}", endpoint=moto_endpoint
    )
    resources.provision()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }.items():
            patch.setenv(key, value)
        for logical_id in FUNCTIONS:
            for key, value in function_environment(resources, logical_id).items():
                patch.setenv(key, value)
        # One botocore session for every model pynamodb binds (the orders tests do the same, for speed).
        session = botocore.session.get_session()
        patch.setattr(pynamodb.connection.base, "get_session", lambda: session)
        yield resources


@pytest.fixture(scope="module")
def traded(audited_stack: LocalResources) -> Exchange:
    """A session through the API: resting books, sweeps, a market order, an IOC, cancels, a self-trade."""
    exchange = FullExchange(audited_stack)
    ann, bob, cy = new_user("ann"), new_user("bob"), new_user("cy")

    def place(
        user: User, ticker: str, side: str, quantity: str, price: str | None, *, tif: str = "GTC"
    ) -> str:
        body = {"ticker": ticker, "side": side, "type": "LIMIT" if price else "MARKET", "quantity": quantity}
        body.update({"timeInForce": tif if price else "IOC"} | ({"price": price} if price else {}))
        return str(exchange.place(user, **body)["id"])

    for ticker in ("AUDA", "AUDB"):
        for step in range(4):
            place(ann, ticker, "SELL", "2", str(101 + step))
            place(bob, ticker, "BUY", "1.5", str(99 - step))
        exchange.pump()
        place(cy, ticker, "BUY", "5", "102.5")  # sweeps two levels and rests the rest
        place(ann, ticker, "SELL", "3", None)  # a market order into the bids
        place(bob, ticker, "BUY", "1", "100", tif="IOC")  # expires: nothing at 100
        resting = place(bob, ticker, "BUY", "1", "98.5")
        exchange.pump()
        assert exchange.call("POST", f"/api/orders/{resting}/cancel", bob).status == 202
        place(ann, ticker, "BUY", "1", "103")  # crosses her own ask: cancelled by STP, or trades cy's
        exchange.pump()
    exchange.pump()
    return exchange


def audit_of(stack: LocalResources) -> Report:
    host = urlparse(stack.endpoint).netloc
    config = AuditConfig(stack_name=stack.stack_name, template=TEMPLATE, endpoint=host, grace=timedelta(0))
    return run_audit(config)[1]


def test_the_audit_passes_on_what_the_handlers_wrote(traded: Exchange, audited_stack: LocalResources) -> None:
    report = audit_of(audited_stack)

    assert report.violations == []
    assert report.checked["journal.rows"] >= 6  # it did trade, on both tickers
    assert report.checked["book.view"] == 2
    assert report.checked["orders"] == 26  # 13 placements per ticker


def test_the_audit_names_damaged_items_and_lists_dead_letters(
    traded: Exchange, audited_stack: LocalResources
) -> None:
    ddb = client("dynamodb", audited_stack.endpoint)
    names = audited_stack.names
    filled = ddb.scan(
        TableName=names["OrdersTable"],
        FilterExpression="#s = :f",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": {"S": "FILLED"}},
    )["Items"][0]
    ddb.update_item(
        TableName=names["OrdersTable"],
        Key={"orderId": filled["orderId"]},
        UpdateExpression="SET filledQuantity = :q",
        ExpressionAttributeValues={":q": {"S": "0.5"}},
    )
    row = ddb.scan(TableName=names["TransactionsTable"], Limit=1)["Items"][0]
    ddb.delete_item(
        TableName=names["TransactionsTable"], Key={"userId": row["userId"], "sortKey": row["sortKey"]}
    )
    client("sqs", audited_stack.endpoint).send_message(
        QueueUrl=str(audited_stack.attribute("OrdersLaneDLQ", "QueueUrl")),
        MessageBody="not json",
        MessageGroupId="AUDA",
        MessageDeduplicationId="poison-1",
        MessageAttributes={"reason": {"DataType": "String", "StringValue": "body: Invalid JSON"}},
    )

    report = audit_of(audited_stack)
    again = audit_of(audited_stack)  # peeking released the dead letter: it is listed again

    failed = {(f.check, f.subject.split(" ")[0]) for f in report.violations}
    assert ("orders.fills", filled["orderId"]["S"]) in failed
    assert ("journal.rows", row["tradeId"]["S"]) in failed
    assert any(f.check == "positions.quantity" for f in report.violations)
    assert [n.detail.split(" (")[0] for n in report.notes if n.check == "dlq"] == ["body: Invalid JSON"]
    assert [n.check for n in again.notes if n.check == "dlq"] == ["dlq"]
