"""How the audit tells why a message is on a DLQ, and decodes the per-user counters."""

from __future__ import annotations

import json

import pytest

from tradestream.audit.dataset import CountRecord
from tradestream.audit.reader import count, reason_of


def test_the_reason_attribute_of_a_parked_message_wins() -> None:
    message = {
        "Body": "{",
        "MessageAttributes": {"reason": {"DataType": "String", "StringValue": "bad side"}},
    }

    assert reason_of(message) == "bad side"


def test_lambdas_on_failure_record_names_the_condition_and_the_records() -> None:
    body = {
        "requestContext": {"condition": "RetryAttemptsExhausted"},
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": "1",
            "endSequenceNumber": "9",
            "batchSize": 3,
        },
    }

    assert reason_of({"Body": json.dumps(body)}) == (
        "RetryAttemptsExhausted: shard shardId-000000000000 records 1..9 (3)"
    )


def test_a_message_sqs_redrove_says_how_often_it_was_received() -> None:
    message = {"Body": '{"type": "order.placed.v1"}', "Attributes": {"ApproximateReceiveCount": "5"}}

    assert reason_of(message) == "no reason attribute: redriven by SQS after 5 receives"


def test_counters_decode_totals_and_days() -> None:
    total = count({"userId": "u", "counter": "TOTAL#AAPL", "rows": 3})
    day = count({"userId": "u", "counter": "DAY#2026-01-05#BRK.B", "rows": 2})

    assert total == CountRecord(user_id="u", ticker="AAPL", day=None, rows=3)
    assert day == CountRecord(user_id="u", ticker="BRK.B", day="2026-01-05", rows=2)
    with pytest.raises(ValueError, match="unknown counter"):
        count({"userId": "u", "counter": "WEEK#1", "rows": 1})
