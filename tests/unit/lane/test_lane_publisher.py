"""KinesisPublisher: a lane batch's tickers in one PutRecords, each ticker's entries a prefix, in order."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.lane.builders import NOW
from tradestream.adapters.kinesis import KinesisPublisher, PublishFailed
from tradestream.contracts import MatchingBatchV1


def entry(ticker: str, seq: int) -> MatchingBatchV1:
    return MatchingBatchV1(ticker=ticker, seq=seq, committedAt=NOW, events=[])


class ScriptedKinesis:
    """put_records as Kinesis answers it: a record refused with an ErrorCode when its (ticker, seq) is
    in `refuse`, or the whole call raising while `down`."""

    def __init__(self, refuse: set[tuple[str, int]] | None = None) -> None:
        self.refuse = refuse or set()
        self.down = False
        self.calls: list[list[tuple[str, int]]] = []

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        if self.down:
            raise ConnectionError("the stream is unreachable")
        sent = [(r["PartitionKey"], MatchingBatchV1.model_validate_json(r["Data"]).seq) for r in Records]
        self.calls.append(sent)
        refused = {"ErrorCode": "ProvisionedThroughputExceededException"}
        results = [refused if s in self.refuse else {"SequenceNumber": "1"} for s in sent]
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


def test_one_entry_per_ticker_is_one_call_for_the_whole_batch() -> None:
    kinesis = ScriptedKinesis()
    failed = KinesisPublisher("s", kinesis).publish_tickers(
        {"AAA": [entry("AAA", 4)], "BBB": [entry("BBB", 9)], "CCC": [entry("CCC", 1)]}
    )
    assert failed == set()
    assert kinesis.calls == [[("AAA", 4), ("BBB", 9), ("CCC", 1)]]


def test_a_ticker_with_more_entries_sends_them_one_call_at_a_time_in_order() -> None:
    kinesis = ScriptedKinesis()
    failed = KinesisPublisher("s", kinesis).publish_tickers(
        {"AAA": [entry("AAA", 4), entry("AAA", 5), entry("AAA", 6)], "BBB": [entry("BBB", 9)]}
    )
    assert failed == set()
    assert kinesis.calls == [[("AAA", 4), ("BBB", 9)], [("AAA", 5)], [("AAA", 6)]]


def test_a_refused_record_stops_its_ticker_only_and_the_stream_keeps_a_prefix_of_it() -> None:
    kinesis = ScriptedKinesis(refuse={("AAA", 5)})
    failed = KinesisPublisher("s", kinesis).publish_tickers(
        {
            "AAA": [entry("AAA", 4), entry("AAA", 5), entry("AAA", 6)],
            "BBB": [entry("BBB", 9), entry("BBB", 10)],
        }
    )
    assert failed == {"AAA"}
    assert kinesis.calls == [[("AAA", 4), ("BBB", 9)], [("AAA", 5), ("BBB", 10)]]  # AAA 6 never sent


def test_a_put_that_raises_fails_every_ticker_still_pending() -> None:
    kinesis = ScriptedKinesis()
    kinesis.down = True
    publisher = KinesisPublisher("s", kinesis)
    assert publisher.publish_tickers({"AAA": [entry("AAA", 1)], "BBB": [entry("BBB", 1)]}) == {"AAA", "BBB"}
    with pytest.raises(PublishFailed, match="AAA"):
        publisher.publish([entry("AAA", 1)])


def test_publish_raises_unless_every_entry_reached_the_stream() -> None:
    kinesis = ScriptedKinesis(refuse={("BBB", 2)})
    publisher = KinesisPublisher("s", kinesis)
    publisher.publish([entry("AAA", 1), entry("AAA", 2)])
    with pytest.raises(PublishFailed, match="BBB"):
        publisher.publish([entry("BBB", 1), entry("BBB", 2)])
    assert kinesis.calls == [[("AAA", 1)], [("AAA", 2)], [("BBB", 1)], [("BBB", 2)]]
