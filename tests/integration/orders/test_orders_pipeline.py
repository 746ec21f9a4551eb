"""Orders through the lane, the matching handler, the stream and the order-status handler, on moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from tests.integration.orders.harness import Exchange, User
from tradestream.adapters.kinesis import KinesisPublisher, PublishFailed
from tradestream.contracts import MatchingBatchV1, parse_matching_batch


def limit(ticker: str, side: str, quantity: str, price: str, tif: str = "GTC") -> dict[str, Any]:
    return {
        "ticker": ticker,
        "side": side,
        "type": "LIMIT",
        "timeInForce": tif,
        "quantity": quantity,
        "price": price,
    }


def status_of(
    exchange: Exchange, user: User, order: dict[str, Any]
) -> tuple[str, str, str, str | None, str | None]:
    o = exchange.get(user, order["id"])
    return o["status"], o["filledQuantity"], o["remainingQuantity"], o["lastFillPrice"], o["avgFillPrice"]


def log_seqs(exchange: Exchange, ticker: str) -> list[int]:
    items = exchange.ddb.query(
        TableName=exchange.book_log_table,
        KeyConditionExpression="ticker = :t",
        ExpressionAttributeValues={":t": {"S": ticker}},
        ConsistentRead=True,
    )["Items"]
    return [int(item["seq"]["N"]) for item in items]


def batches(records: list[dict[str, Any]]) -> list[MatchingBatchV1]:
    return [parse_matching_batch(r["Data"]) for r in records]


def event_ids(records: list[dict[str, Any]]) -> list[str]:
    return [e.event_id for b in batches(records) for e in b.events]


def send_raw(exchange: Exchange, body: str, group: str) -> str:
    response = exchange.sqs.send_message(
        QueueUrl=exchange.lane_url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=uuid.uuid4().hex,
    )
    return str(response["MessageId"])


# --- matching and order status end to end -----------------------------------------------------------


def test_a_crossing_pair_fills_at_the_makers_price(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    sell = exchange.place(alice, **limit(ticker, "SELL", "2", "10"))
    buy = exchange.place(bob, **limit(ticker, "BUY", "1", "11"))
    exchange.pump()

    assert status_of(exchange, bob, buy) == ("FILLED", "1", "0", "10", "10")
    assert status_of(exchange, alice, sell) == ("PARTIALLY_FILLED", "1", "1", "10", "10")

    second = exchange.place(bob, **limit(ticker, "BUY", "3", "12"))
    exchange.pump()
    assert status_of(exchange, alice, sell) == ("FILLED", "2", "0", "10", "10")
    assert status_of(exchange, bob, second) == ("PARTIALLY_FILLED", "1", "2", "10", "10")

    book = exchange.call("GET", f"/api/orderbook/{ticker}", alice, query={"depth": "5"}).body
    assert book == {
        "ticker": ticker,
        "seq": 2,
        "bids": [{"price": "12", "quantity": "2", "orders": 1}],
        "asks": [],
    }


def test_a_sweep_reports_the_average_fill_price(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    exchange.place(alice, **limit(ticker, "SELL", "1", "10"))
    exchange.place(alice, **limit(ticker, "SELL", "2", "10.5"))
    exchange.pump()
    buy = exchange.place(
        bob, **{**limit(ticker, "BUY", "3", "0"), "type": "MARKET", "price": None, "timeInForce": "IOC"}
    )
    exchange.pump()
    assert status_of(exchange, bob, buy) == ("FILLED", "3", "0", "10.5", "10.33333333")


def test_an_ioc_remainder_expires(exchange: Exchange, alice: User, bob: User, ticker: str) -> None:
    exchange.place(alice, **limit(ticker, "SELL", "1", "10"))
    ioc = exchange.place(bob, **limit(ticker, "BUY", "3", "10", tif="IOC"))
    exchange.pump()
    assert status_of(exchange, bob, ioc) == ("EXPIRED", "1", "2", "10", "10")


def test_cancel_of_a_resting_order_ends_canceled_and_then_cancel_is_409(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    order = exchange.place(alice, **limit(ticker, "SELL", "5", "20"))
    exchange.place(bob, **limit(ticker, "BUY", "2", "20"))
    exchange.pump()
    assert exchange.call("POST", f"/api/orders/{order['id']}/cancel", alice).status == 202
    exchange.pump()

    canceled = exchange.get(alice, order["id"])
    assert (canceled["status"], canceled["filledQuantity"], canceled["remainingQuantity"]) == (
        "CANCELED",
        "2",
        "3",
    )
    assert canceled["cancelRequested"] is True
    late = exchange.call("POST", f"/api/orders/{order['id']}/cancel", alice)
    assert (late.status, late.body["code"]) == (409, "ORDER_NOT_CANCELABLE")
    assert exchange.receive() == []
    # Its remainder left the book: a new buy at 20 rests instead of trading.
    after = exchange.place(bob, **limit(ticker, "BUY", "1", "20"))
    exchange.pump()
    assert status_of(exchange, bob, after) == ("NEW", "0", "1", None, None)


def test_open_and_final_filters_follow_the_projected_status(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    filled = exchange.place(alice, **limit(ticker, "SELL", "1", "10"))
    resting = exchange.place(alice, **limit(ticker, "SELL", "1", "15"))
    exchange.place(bob, **limit(ticker, "BUY", "1", "10"))
    exchange.pump()

    def ids(status: str) -> list[str]:
        reply = exchange.call("GET", "/api/orders", alice, query={"ticker": ticker, "status": status})
        return [o["id"] for o in reply.body["items"]]

    assert ids("open") == [resting["id"]]
    assert ids("final") == [filled["id"]]
    assert ids("all") == [resting["id"], filled["id"]]


# --- the matching handler's batch semantics ---------------------------------------------------------


def test_poison_goes_to_the_lane_dlq_with_its_reason_and_the_lane_keeps_moving(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    sell = exchange.place(alice, **limit(ticker, "SELL", "1", "10"))
    bad_side = json.dumps(
        {
            "type": "order.placed.v1",
            "orderId": "p1",
            "userId": "u",
            "ticker": ticker,
            "side": "HOLD",
            "orderType": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "1",
            "price": "1",
            "createdAt": "2026-01-01T00:00:00Z",
        }
    )
    poison = {
        send_raw(
            exchange, "{not json", ticker
        ): "body: Invalid JSON: key must be a string at line 1 column 2",
        send_raw(exchange, bad_side, ticker): "order.placed.v1.side: Input should be 'BUY' or 'SELL'",
    }
    buy = exchange.place(bob, **limit(ticker, "BUY", "1", "10"))

    messages = exchange.receive()
    assert len(messages) == 4
    event = exchange.lane_event(messages)
    result = exchange.match(event)
    assert result == {"batchItemFailures": []}  # poison is acknowledged, never retried
    exchange.settle(event, result)
    exchange.project(exchange.stream_records())

    parked = exchange.receive(exchange.dlq_url, attribute_names=True)
    reasons = {
        m["MessageAttributes"]["sourceMessageId"]["StringValue"]: m["MessageAttributes"]["reason"][
            "StringValue"
        ]
        for m in parked
    }
    assert reasons == poison
    assert {m["Body"] for m in parked} == {"{not json", bad_side}
    assert all(m["Attributes"]["MessageGroupId"] == ticker for m in parked)
    assert status_of(exchange, bob, buy)[0] == status_of(exchange, alice, sell)[0] == "FILLED"
    assert exchange.receive() == []


def test_a_failing_ticker_fails_exactly_its_own_messages(
    exchange: Exchange, alice: User, bob: User, ticker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = ticker + "B"

    class ThrottledFor(KinesisPublisher):
        """PutRecords as Kinesis answers when one partition key's shard is over its limit: the call
        succeeds, that key's records come back with an ErrorCode, the others are written."""

        @property
        def client(self) -> Any:
            stream = super().client

            class PartlyRefusing:
                def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
                    kept = [r for r in Records if r["PartitionKey"] != bad]
                    written = iter(
                        stream.put_records(StreamName=StreamName, Records=kept)["Records"] if kept else []
                    )
                    refused = {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "slow down",
                    }
                    return {
                        "FailedRecordCount": sum(r["PartitionKey"] == bad for r in Records),
                        "Records": [refused if r["PartitionKey"] == bad else next(written) for r in Records],
                    }

            return PartlyRefusing()

    monkeypatch.setattr(exchange.matching, "KinesisPublisher", ThrottledFor)
    good_sell = exchange.place(alice, **limit(ticker, "SELL", "1", "10"))
    bad_sell = exchange.place(alice, **limit(bad, "SELL", "1", "10"))
    good_buy = exchange.place(bob, **limit(ticker, "BUY", "1", "10"))
    bad_buy = exchange.place(bob, **limit(bad, "BUY", "1", "10"))

    messages = exchange.receive()
    event = exchange.lane_event(messages)
    by_order = {json.loads(m["Body"])["orderId"]: m["MessageId"] for m in messages}
    result = exchange.match(event)

    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": by_order[bad_sell["id"]]},
            {"itemIdentifier": by_order[bad_buy["id"]]},
        ]
    }
    exchange.settle(event, result)
    records = exchange.stream_records()
    assert [(b.ticker, b.seq) for b in batches(records)] == [(ticker, 1)]
    exchange.project(records)
    assert status_of(exchange, bob, good_buy)[0] == status_of(exchange, alice, good_sell)[0] == "FILLED"
    assert log_seqs(exchange, bad) == [1]  # committed, not yet published: the retry republishes it

    # The stream recovers; SQS redelivers the failed group: the logged entry is published, not re-matched.
    monkeypatch.setattr(exchange.matching, "KinesisPublisher", KinesisPublisher)
    exchange.cold_start_matching()
    exchange.release(event, only={f["itemIdentifier"] for f in result["batchItemFailures"]})
    again = exchange.lane_event(exchange.receive())
    assert [r["messageId"] for r in again["Records"]] == [by_order[bad_sell["id"]], by_order[bad_buy["id"]]]
    assert exchange.match(again) == {"batchItemFailures": []}
    exchange.settle(again, {"batchItemFailures": []})
    records = exchange.stream_records()
    assert [(b.ticker, b.seq) for b in batches(records)] == [(bad, 1)]
    exchange.project(records)
    assert log_seqs(exchange, bad) == [1]
    assert status_of(exchange, bob, bad_buy)[0] == status_of(exchange, alice, bad_sell)[0] == "FILLED"


def test_a_batch_whose_only_ticker_fails_reports_every_message_as_a_failure(
    exchange: Exchange, alice: User, ticker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Throttled(KinesisPublisher):
        def publish_tickers(self, batches: Mapping[str, list[MatchingBatchV1]]) -> set[str]:
            raise PublishFailed("ProvisionedThroughputExceededException")

    monkeypatch.setattr(exchange.matching, "KinesisPublisher", Throttled)
    exchange.place(alice, **limit(ticker, "SELL", "1", "10"))
    exchange.place(alice, **limit(ticker, "SELL", "1", "11"))
    event = exchange.lane_event(exchange.receive())

    # A partial response, not a function error: SQS retries the messages, Lambda reports no crash.
    assert exchange.match(event) == {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
    }
    exchange.settle(event, {"batchItemFailures": []})  # tidy the shared queue


def test_a_redelivered_batch_republishes_the_same_entry_and_matches_nothing_twice(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    sell = exchange.place(alice, **limit(ticker, "SELL", "3", "10"))
    buy = exchange.place(bob, **limit(ticker, "BUY", "1", "10"))
    event = exchange.lane_event(exchange.receive())
    assert exchange.match(event) == {"batchItemFailures": []}
    # The invocation timed out before Lambda deleted the messages: they come back.
    exchange.release(event)
    redelivered = exchange.lane_event(exchange.receive())
    assert [r["messageId"] for r in redelivered["Records"]] == [r["messageId"] for r in event["Records"]]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in redelivered["Records"]] == ["2", "2"]
    assert exchange.match(redelivered) == {"batchItemFailures": []}
    exchange.settle(redelivered, {"batchItemFailures": []})

    records = exchange.stream_records()
    first, second = batches(records)
    assert first == second  # the same entry, the same event ids, twice
    assert event_ids(records) == [f"{ticker}:1:{n}" for n in range(4)] * 2
    assert log_seqs(exchange, ticker) == [1]
    assert exchange.project(records) == {"batchItemFailures": []}
    assert status_of(exchange, alice, sell) == ("PARTIALLY_FILLED", "1", "2", "10", "10")
    assert status_of(exchange, bob, buy) == ("FILLED", "1", "0", "10", "10")
    # Projecting the stream again (a Kinesis retry) changes nothing either.
    before = exchange.get(alice, sell["id"])
    assert exchange.project(records) == {"batchItemFailures": []}
    assert exchange.get(alice, sell["id"]) == before


def test_a_cold_start_rebuilds_the_book_from_the_snapshot_and_the_log_after_it(
    exchange: Exchange, alice: User, bob: User, ticker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPSHOT_EVERY", "2")
    resting = exchange.place(alice, **limit(ticker, "SELL", "3", "10"))
    exchange.pump()  # seq 1
    exchange.place(alice, **limit(ticker, "SELL", "1", "12"))
    exchange.pump()  # seq 2: snapshot
    exchange.place(bob, **limit(ticker, "BUY", "1", "10"))
    exchange.pump()  # seq 3: in the log only

    snapshot = exchange.ddb.get_item(
        TableName=exchange.snapshots_table, Key={"ticker": {"S": ticker}}, ConsistentRead=True
    )["Item"]
    assert snapshot["head"] == {"N": "2"}
    # Remove what the snapshot covers: a cold start that still matches right must have used it.
    for seq in (1, 2):
        exchange.ddb.delete_item(
            TableName=exchange.book_log_table, Key={"ticker": {"S": ticker}, "seq": {"N": str(seq)}}
        )

    exchange.cold_start_matching()
    taker = exchange.place(bob, **limit(ticker, "BUY", "3", "12"))
    exchange.pump()  # seq 4 on the rebuilt book

    assert log_seqs(exchange, ticker) == [3, 4]
    assert status_of(exchange, alice, resting) == ("FILLED", "3", "0", "10", "10")
    # 2 left at 10 (1 was taken before the cold start), then 1 at 12.
    assert status_of(exchange, bob, taker) == ("FILLED", "3", "0", "12", "10.66666667")


def test_a_cold_start_without_a_snapshot_replays_the_whole_log(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    resting = exchange.place(alice, **limit(ticker, "BUY", "2", "9.5"))
    exchange.pump()
    exchange.cold_start_matching()
    taker = exchange.place(bob, **limit(ticker, "SELL", "2", "9"))
    exchange.pump()
    assert status_of(exchange, alice, resting) == ("FILLED", "2", "0", "9.5", "9.5")
    assert status_of(exchange, bob, taker) == ("FILLED", "2", "0", "9.5", "9.5")


def test_an_all_poison_batch_is_acknowledged(exchange: Exchange, ticker: str) -> None:
    send_raw(exchange, "", ticker)
    event = exchange.lane_event(exchange.receive())
    assert exchange.match(event) == {"batchItemFailures": []}
    [parked] = exchange.receive(exchange.dlq_url, attribute_names=True)
    assert parked["Body"] == "(empty)"
    assert parked["MessageAttributes"]["reason"]["StringValue"].startswith("body: Invalid JSON")


def test_the_stream_carries_contract_valid_entries(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    exchange.place(alice, **limit(ticker, "SELL", "1", "10"))
    exchange.place(bob, **limit(ticker, "BUY", "1", "10"))
    event = exchange.lane_event(exchange.receive())
    exchange.settle(event, exchange.match(event))
    [record] = exchange.stream_records()
    assert record["PartitionKey"] == ticker
    try:
        entry = parse_matching_batch(record["Data"])
    except ValidationError as exc:  # pragma: no cover - the assertion below explains
        pytest.fail(f"the stream record is not a matching.batch.v1: {exc}")
    assert [(e.type, e.event_id) for e in entry.events] == [
        ("order.updated.v1", f"{ticker}:1:0"),
        ("trade.executed.v1", f"{ticker}:1:1"),
        ("order.updated.v1", f"{ticker}:1:2"),
        ("order.updated.v1", f"{ticker}:1:3"),
    ]


def test_a_poison_stream_record_is_parked_and_the_rest_of_the_batch_applies(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    exchange.place(alice, **limit(ticker, "SELL", "1", "10"))
    buy = exchange.place(bob, **limit(ticker, "BUY", "1", "10"))
    event = exchange.lane_event(exchange.receive())
    exchange.settle(event, exchange.match(event))
    [good] = exchange.stream_records()
    poison = {**good, "SequenceNumber": good["SequenceNumber"] + "1", "Data": b'{"type":"matching.batch.v1"}'}
    dlq = str(exchange.stack.attribute("ProjectionsDLQ", "QueueUrl"))
    exchange.drain(dlq)

    assert exchange.project([poison, good]) == {"batchItemFailures": []}

    assert status_of(exchange, bob, buy)[0] == "FILLED"
    [parked] = exchange.receive(dlq, attribute_names=True)
    assert parked["Body"] == '{"type":"matching.batch.v1"}'
    assert parked["MessageAttributes"]["sourceMessageId"]["StringValue"] == poison["SequenceNumber"]
    assert "ticker" in parked["MessageAttributes"]["reason"]["StringValue"]
