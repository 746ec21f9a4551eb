"""The reconciler on moto: stragglers are orders the engine never reported on; they are re-sent once seen."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from localcloud.resources import LocalResources, client
from tests.fakes.orders import sample_order
from tradestream.adapters.dynamodb.orders import DynamoOrderStatusStore, DynamoOrderStore, DynamoPendingOrders
from tradestream.adapters.sqs import SqsLane
from tradestream.contracts import OrderUpdatedV1
from tradestream.matching import OrderStatus
from tradestream.orders.reconciler import reconcile
from tradestream.projections.runner import event_key

LONG_AGO = "2020-01-01T00:00:00.000Z"


def _stored(aws_env: LocalResources, *, created_at: str) -> str:
    order = replace(
        sample_order(f"rec-{uuid.uuid4().hex[:12]}"), created_at=created_at, updated_at=created_at
    )
    assert DynamoOrderStore(str(aws_env.attribute("OrdersTable", "Ref"))).create(order) is None
    return order.id


def test_only_orders_the_engine_never_reported_on_are_stragglers(aws_env: LocalResources) -> None:
    table = str(aws_env.attribute("OrdersTable", "Ref"))
    straggler = _stored(aws_env, created_at=LONG_AGO)
    matched = _stored(aws_env, created_at=LONG_AGO)
    rejected = _stored(aws_env, created_at=LONG_AGO)
    fresh = _stored(aws_env, created_at="2999-01-01T00:00:00.000Z")
    DynamoOrderStatusStore(table).apply(
        OrderUpdatedV1(
            eventId="ACME:1:0",
            ticker="ACME",
            seq=1,
            n=0,
            orderId=matched,
            userId="u-1",
            status=OrderStatus.NEW,
            filledQuantity=Decimal(0),
            remainingQuantity=Decimal(3),
            updatedAt=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        event_key(1, 0),
    )
    DynamoOrderStore(table).reject_unqueued(rejected, "LANE_UNAVAILABLE", LONG_AGO)

    found = {
        o.id for o in DynamoPendingOrders(table).stragglers(created_before="2026-11-01T00:00:00Z", limit=500)
    }

    assert straggler in found
    assert not found & {matched, rejected, fresh}


def test_reconcile_resends_a_straggler_to_its_lane_with_its_own_dedup_id(aws_env: LocalResources) -> None:
    table = str(aws_env.attribute("OrdersTable", "Ref"))
    straggler = _stored(aws_env, created_at=LONG_AGO)
    sqs = client("sqs", aws_env.endpoint)
    # A lane of its own: the shared lane may hold other tests' messages of the same group.
    queue_url = sqs.create_queue(
        QueueName=f"reconciled-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]

    sent = reconcile(
        DynamoPendingOrders(table),
        SqsLane(queue_url, sqs),
        now=datetime.now(UTC),
        grace=timedelta(seconds=60),
    )

    assert sent >= 1
    messages = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    assert len(messages) == sent
    mine = [m for m in messages if json.loads(m["Body"])["orderId"] == straggler]
    assert len(mine) == 1, "the straggler is back on its lane, once"
    assert mine[0]["Attributes"]["MessageDeduplicationId"] == straggler
    assert mine[0]["Attributes"]["MessageGroupId"] == "ACME"
