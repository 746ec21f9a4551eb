"""Fuzzing the projections' parser (issue 9, bad input): any Kinesis record is either applied or parked.

Records range from arbitrary bytes and arbitrary JSON to matching batches with one field broken (in
the batch or in one of its events) and well-formed batches. `run_projection` runs with a recording
apply and the in-memory dead-letter port. For every Kinesis batch:
- it returns (no exception) with no batch item failures: a record reported failed would be retried
  until Lambda gives up on it, and every record after it on the shard would wait;
- every record is either parked with a reason (under its sequence number) or handed to apply.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.events import LambdaContextStub
from tests.fakes.lane import InMemoryDeadLetters
from tests.fakes.projections import (
    InMemoryCandleStore,
    InMemoryLastPriceStore,
    InMemoryPositionStore,
    InMemoryTickerStore,
    InMemoryTradeTape,
    InMemoryTransactionStore,
    kinesis_event,
)
from tests.unit.fuzz.strategies import json_values, mutated, timestamps
from tradestream.contracts import MatchingBatchV1
from tradestream.projections.errors import ContradictoryEvents
from tradestream.projections.journal import project_journal
from tradestream.projections.market_data import project_market_data
from tradestream.projections.portfolio import project_portfolio
from tradestream.projections.runner import run_projection

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-5, max_value=10**6).map(str),
    st.sampled_from(["0", "1e999", "1E+30", "[0,[1],2]", "0.00000001"]),
)


@st.composite
def trade(draw: st.DrawFn, seq: int, n: int) -> dict[str, Any]:
    return {
        "type": "trade.executed.v1",
        "eventId": f"AAA:{seq}:{n}",
        "ticker": "AAA",
        "seq": seq,
        "n": n,
        "tradeId": f"AAA:{seq}:{n}",
        "price": draw(decimals),
        "quantity": draw(decimals),
        "takerSide": draw(st.sampled_from(["BUY", "SELL"])),
        "makerOrderId": "o1",
        "takerOrderId": "o2",
        "makerUserId": "ann",
        "takerUserId": "ben",
        "executedAt": draw(timestamps),
    }


@st.composite
def update(draw: st.DrawFn, seq: int, n: int) -> dict[str, Any]:
    return {
        "type": "order.updated.v1",
        "eventId": f"AAA:{seq}:{n}",
        "ticker": "AAA",
        "seq": seq,
        "n": n,
        "orderId": "o1",
        "userId": "ann",
        "status": draw(
            st.sampled_from(["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "REJECTED"])
        ),
        "filledQuantity": draw(decimals),
        "remainingQuantity": draw(decimals),
        "lastFillPrice": draw(st.none() | decimals),
        "avgFillPrice": draw(st.none() | decimals),
        "reason": draw(st.none() | st.text(max_size=10)),
        "updatedAt": draw(timestamps),
    }


@st.composite
def batch(draw: st.DrawFn, *, flawed: bool = True) -> dict[str, Any]:
    seq = draw(st.integers(min_value=-1, max_value=50))
    events = []
    for n in range(draw(st.integers(min_value=0, max_value=4))):
        kinds = [trade(seq, n), update(seq, n)]
        if flawed:
            kinds += [mutated(kind) for kind in kinds]
        events.append(draw(st.one_of(kinds)))
    return {
        "type": "matching.batch.v1",
        "ticker": "AAA",
        "seq": seq,
        "committedAt": draw(timestamps),
        "events": events,
    }


records = st.one_of(
    st.binary(max_size=100),
    json_values.map(lambda value: json.dumps(value).encode()),
    mutated(batch()).map(lambda value: json.dumps(value).encode()),
    batch().map(lambda value: json.dumps(value).encode()),
)


@FUZZ
@given(data=st.lists(records, min_size=1, max_size=8))
def test_every_stream_record_is_applied_or_parked(data: list[bytes]) -> None:
    event = kinesis_event(data)
    applied: list[MatchingBatchV1] = []
    dead_letters = InMemoryDeadLetters()
    context: Any = LambdaContextStub()

    response = run_projection(event, context, apply=applied.extend, dead_letters=dead_letters)

    assert response == {"batchItemFailures": []}
    parked = {letter.message_id: letter.reason for letter in dead_letters.parked}
    assert all(parked.values()), parked
    handed = [entry.model_dump_json(by_alias=True) for entry in applied]
    for record in event["Records"]:
        sequence = record["kinesis"]["sequenceNumber"]
        raw = base64.b64decode(record["kinesis"]["data"])
        if sequence in parked:
            continue
        # Not parked: then its entry is what apply got (as the stream carried it).
        assert MatchingBatchV1.model_validate_json(raw).model_dump_json(by_alias=True) in handed, raw
    assert len(parked) + len(applied) == len(data)


def _entries(raw: list[dict[str, Any]]) -> list[MatchingBatchV1]:
    """The batches the contract accepts, one per seq, in order (what one ticker's log publishes)."""
    entries: dict[int, MatchingBatchV1] = {}
    for value in raw:
        try:
            entry = MatchingBatchV1.model_validate_json(json.dumps(value))
        except ValueError:
            continue
        entries.setdefault(entry.seq, entry)
    return [entries[seq] for seq in sorted(entries)]


@FUZZ
@given(raw=st.lists(batch(flawed=False), min_size=1, max_size=6))
def test_a_record_the_contract_accepts_is_one_every_projection_can_apply(raw: list[dict[str, Any]]) -> None:
    """Parse-time poison is parked; anything that passes must not fail a projection on every retry.

    (Two different events under one id are refused on purpose, as a rogue producer's: not a crash.)
    """
    entries = _entries(raw)
    with contextlib.suppress(ContradictoryEvents):
        project_journal(entries, InMemoryTransactionStore())
    project_portfolio(entries, positions=InMemoryPositionStore(), prices=InMemoryLastPriceStore())
    project_market_data(
        entries, candles=InMemoryCandleStore(), tape=InMemoryTradeTape(), tickers=InMemoryTickerStore()
    )
