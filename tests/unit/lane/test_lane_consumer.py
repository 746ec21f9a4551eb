"""LaneConsumer: poison to the DLQ with its reason (acknowledged), one matching call per ticker, isolation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.lane import (
    InMemoryBookLog,
    InMemoryBookViewStore,
    InMemoryDeadLetters,
    InMemorySnapshotStore,
    ParkedMessage,
    RecordingPublisher,
)
from tests.unit.lane.builders import NOW, TICKER, cancel, place
from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1
from tradestream.lane.consumer import LaneConsumer
from tradestream.lane.service import Committed, MatchingService
from tradestream.observability import logger


class Harness:
    def __init__(self, service: Callable[..., MatchingService] = MatchingService) -> None:
        self.log = InMemoryBookLog()
        self.publisher = RecordingPublisher()
        self.dead_letters = InMemoryDeadLetters()
        self.service = service(
            log=self.log,
            snapshots=InMemorySnapshotStore(),
            views=InMemoryBookViewStore(),
            publisher=self.publisher,
            snapshot_every=100,
            clock=lambda: NOW,
        )
        self.consumer = LaneConsumer(self.service, self.dead_letters)


@pytest.fixture
def harness() -> Harness:
    return Harness()


def record(
    message_id: str, body: str | OrderPlacedV1 | OrderCancelRequestedV1, group: str | None
) -> dict[str, Any]:
    """An SQS FIFO record as Lambda delivers it (only the fields the consumer reads matter)."""
    text = body if isinstance(body, str) else body.model_dump_json(by_alias=True)
    attributes = {"ApproximateReceiveCount": "1", "SequenceNumber": "1"}
    if group is not None:
        attributes["MessageGroupId"] = group
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": text,
        "attributes": attributes,
    }


def placed_json(**changes: Any) -> str:
    body = place("o9", "BUY", "1", "10").model_dump(mode="json", by_alias=True)
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...})


POISON = [
    pytest.param("not json", "body: Invalid JSON: expected ident at line 1 column 2", id="unparseable"),
    pytest.param("", "body: Invalid JSON: EOF while parsing a value at line 1 column 0", id="empty"),
    pytest.param(
        placed_json(side="HOLD"), "order.placed.v1.side: Input should be 'BUY' or 'SELL'", id="unknown-side"
    ),
    pytest.param(
        placed_json(quantity=...), "order.placed.v1.quantity: Field required", id="missing-quantity"
    ),
    pytest.param(
        placed_json(quantity="-1"), "order.placed.v1.quantity: Input should be greater than 0", id="negative"
    ),
    pytest.param(
        json.dumps({"type": "order.exploded.v1"}),
        "body: Input tag 'order.exploded.v1' found using 'type' does not match any of the expected tags:"
        " 'order.placed.v1', 'order.cancel-requested.v1'",
        id="unknown-type",
    ),
]


@pytest.mark.parametrize(("body", "reason"), POISON)
def test_poison_goes_to_the_dlq_with_its_reason_and_is_acknowledged(
    harness: Harness, body: str, reason: str
) -> None:
    failed = harness.consumer.consume(
        [
            record("m1", place("s1", "SELL", "1", "10"), TICKER),
            record("m2", body, TICKER),
            record("m3", place("b1", "BUY", "1", "10", user="ben"), TICKER),
        ]
    )
    assert failed == set()
    assert harness.dead_letters.parked == [
        ParkedMessage(body=body, reason=reason, message_id="m2", group_id=TICKER)
    ]
    # The ticker's lane kept moving: the good commands around the poison were matched, in order.
    entry = harness.log.get(TICKER, 1)
    assert entry is not None
    assert entry.commands == [place("s1", "SELL", "1", "10"), place("b1", "BUY", "1", "10", user="ben")]
    assert [b.seq for b in harness.publisher.records] == [1]


def test_a_command_on_another_tickers_lane_is_poison(harness: Harness) -> None:
    stray = place("s1", "SELL", "1", "10", ticker="OTHER")
    failed = harness.consumer.consume([record("m1", stray, TICKER)])
    assert failed == set()
    assert harness.dead_letters.parked == [
        ParkedMessage(
            body=stray.model_dump_json(by_alias=True),
            reason="ticker OTHER sent on the lane of ACME",
            message_id="m1",
            group_id=TICKER,
        )
    ]
    assert harness.log.seqs("OTHER") == [] and harness.log.seqs(TICKER) == []


def test_poison_that_cannot_be_parked_is_retried_instead_of_lost(harness: Harness) -> None:
    harness.dead_letters.fail = True
    failed = harness.consumer.consume(
        [record("m1", "not json", TICKER), record("m2", place("s1", "SELL", "1", "10"), TICKER)]
    )
    assert failed == {"m1"}
    assert harness.log.seqs(TICKER) == [1]


def test_a_failing_ticker_fails_only_its_own_messages(harness: Harness) -> None:
    harness.publisher.fail_tickers = {"BAD"}
    failed = harness.consumer.consume(
        [
            record("m1", place("s1", "SELL", "1", "10"), TICKER),
            record("m2", place("x1", "SELL", "1", "10", ticker="BAD"), "BAD"),
            record("m3", place("b1", "BUY", "1", "10", user="ben"), TICKER),
            record("m4", cancel("x1", ticker="BAD"), "BAD"),
        ]
    )
    assert failed == {"m2", "m4"}
    assert [(b.ticker, b.seq) for b in harness.publisher.records] == [(TICKER, 1)]
    assert harness.log.seqs(TICKER) == [1]


def test_each_ticker_is_one_matching_call_with_its_commands_in_lane_order(harness: Harness) -> None:
    failed = harness.consumer.consume(
        [
            record("m1", place("a1", "SELL", "1", "10"), TICKER),
            record("m2", place("z1", "SELL", "1", "10", ticker="ZED"), "ZED"),
            record("m3", cancel("a1"), TICKER),
            record("m4", place("z2", "BUY", "1", "10", ticker="ZED", user="ben"), "ZED"),
        ]
    )
    assert failed == set()
    acme, zed = harness.log.get(TICKER, 1), harness.log.get("ZED", 1)
    assert acme is not None and zed is not None
    assert acme.commands == [place("a1", "SELL", "1", "10"), cancel("a1")]
    assert zed.commands == [
        place("z1", "SELL", "1", "10", ticker="ZED"),
        place("z2", "BUY", "1", "10", ticker="ZED", user="ben"),
    ]
    assert harness.log.seqs(TICKER) == [1] and harness.log.seqs("ZED") == [1]


def test_a_redelivered_batch_is_acknowledged_and_republished(harness: Harness) -> None:
    batch = [
        record("m1", place("s1", "SELL", "1", "10"), TICKER),
        record("m2", place("b1", "BUY", "1", "10", user="ben"), TICKER),
    ]
    harness.publisher.fail_next = 1
    assert harness.consumer.consume(batch) == {"m1", "m2"}
    assert harness.consumer.consume(batch) == set()
    assert harness.log.appends == 1
    assert harness.publisher.event_ids() == ["ACME:1:0", "ACME:1:1", "ACME:1:2", "ACME:1:3"]


def test_log_lines_carry_the_request_ids_of_the_commands_being_matched(harness: Harness) -> None:
    harness.consumer.consume(
        [
            record("m1", place("a1", "SELL", "1", "10", correlation_id="req-2"), TICKER),
            record("m2", place("a2", "BUY", "1", "10", user="ben", correlation_id="req-1"), TICKER),
        ]
    )
    # powertools stamps the correlation id on every line the matching function logs from here on
    assert logger.get_correlation_id() == "req-1,req-2"


class MeetingService(MatchingService):
    """Each ticker's call waits until every ticker of the batch is being matched at once."""

    def __init__(self, tickers: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.barrier = threading.Barrier(tickers, timeout=5)
        self.correlation: dict[str, str | None] = {}

    def commit(self, ticker: str, commands: list[Any]) -> Committed:
        self.barrier.wait()  # broken (an exception, so a failed ticker) if the tickers ran in turn
        self.correlation[ticker] = logger.thread_safe_get_current_keys().get("correlation_id")
        return super().commit(ticker, commands)


def test_the_tickers_of_a_batch_are_matched_side_by_side_each_with_its_own_request_ids() -> None:
    harness = Harness(lambda **ports: MeetingService(3, **ports))
    service, consumer = harness.service, harness.consumer
    assert isinstance(service, MeetingService)
    batch = [
        record(f"m{i}", place(f"{t}{i}", "SELL", "1", "10", ticker=t, correlation_id=f"req-{t}-{i}"), t)
        for i in range(2)
        for t in ("AAA", "BBB", "CCC")
    ]
    assert consumer.consume(batch) == set()
    assert service.correlation == {t: f"req-{t}-0,req-{t}-1" for t in ("AAA", "BBB", "CCC")}
    assert all(harness.log.seqs(t) == [1] for t in ("AAA", "BBB", "CCC"))


class CountingPublisher(RecordingPublisher):
    """Counts publish_tickers calls: the batch's tickers reach the publisher together."""

    def __init__(self) -> None:
        super().__init__()
        self.together: list[list[str]] = []

    def publish_tickers(self, batches: Any) -> set[str]:
        self.together.append(sorted(batches))
        return super().publish_tickers(batches)


class FailingCommit(MatchingService):
    def commit(self, ticker: str, commands: list[Any]) -> Committed:
        if ticker == "BAD":
            raise ConnectionError("the log is unreachable")
        return super().commit(ticker, commands)


def test_the_committed_tickers_of_a_batch_are_published_together_and_a_failed_commit_is_left_out() -> None:
    publisher = CountingPublisher()
    harness = Harness(lambda **ports: FailingCommit(**{**ports, "publisher": publisher}))
    failed = harness.consumer.consume(
        [
            record("m1", place("a1", "SELL", "1", "10"), TICKER),
            record("m2", place("x1", "SELL", "1", "10", ticker="BAD"), "BAD"),
            record("m3", place("z1", "SELL", "1", "10", ticker="ZED"), "ZED"),
        ]
    )
    assert failed == {"m2"}
    assert publisher.together == [[TICKER, "ZED"]]
    assert sorted((b.ticker, b.seq) for b in publisher.records) == [(TICKER, 1), ("ZED", 1)]


def test_a_publisher_that_raises_retries_every_committed_ticker_and_the_retry_republishes(
    harness: Harness,
) -> None:
    batch = [
        record("m1", place("a1", "SELL", "1", "10"), TICKER),
        record("m2", place("z1", "SELL", "1", "10", ticker="ZED"), "ZED"),
    ]

    def down(_: Any) -> set[str]:
        raise ConnectionError("the stream is unreachable")

    harness.publisher.publish_tickers = down  # type: ignore[method-assign,assignment]
    assert harness.consumer.consume(batch) == {"m1", "m2"}
    del harness.publisher.publish_tickers
    assert harness.consumer.consume(batch) == set()
    assert harness.log.appends == 2  # committed once each; the retry only republished
    assert sorted((b.ticker, b.seq) for b in harness.publisher.records) == [(TICKER, 1), ("ZED", 1)]
