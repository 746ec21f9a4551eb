"""Fuzzing the lane's parser (issue 9, bad input): any SQS body is either applied or parked, never a crash.

Bodies range from arbitrary text and arbitrary JSON to lane commands with one field broken, extreme
decimals, unknown enum values, wrong groups. The matching service runs on the in-memory fakes, so a
body that passes the contract reaches the real engine too. For every batch:
- `consume` returns (no exception) and reports no failed message: nothing here is a transient
  failure, and a message reported failed would be redelivered forever, stalling its ticker;
- every message is either parked in the DLQ with a reason, or its command is in the ticker's log.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.lane import (
    InMemoryBookLog,
    InMemoryBookViewStore,
    InMemoryDeadLetters,
    InMemorySnapshotStore,
    RecordingPublisher,
)
from tests.unit.fuzz.strategies import json_values, mutated, timestamps
from tradestream.contracts import parse_lane_command
from tradestream.lane.consumer import LaneConsumer
from tradestream.lane.service import MatchingService

TICKERS = ("AAA", "BBB")
ORDER_IDS = tuple(f"o{i}" for i in range(6))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

decimal_strings = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10**6).map(str),
    st.sampled_from(["0", "-1", "1e-20", "1E+30", "9223372036854775807", "0.0000001", "1e999", "NaN", "inf"]),
    st.integers(min_value=1, max_value=10**25).map(str),
)


@st.composite
def placed(draw: st.DrawFn) -> dict[str, Any]:
    limit = draw(st.booleans())
    return {
        "type": "order.placed.v1",
        "orderId": draw(st.sampled_from(ORDER_IDS)),
        "userId": draw(st.sampled_from(["ann", "ben"])),
        "ticker": draw(st.sampled_from(TICKERS)),
        "side": draw(st.sampled_from(["BUY", "SELL"])),
        "orderType": "LIMIT" if limit else "MARKET",
        "timeInForce": draw(st.sampled_from(["GTC", "IOC", "FOK"])),
        "quantity": draw(decimal_strings),
        **({"price": draw(decimal_strings)} if limit or draw(st.booleans()) else {}),
        "postOnly": draw(st.booleans()),
        "selfTradePrevention": draw(
            st.sampled_from(["CANCEL_TAKER", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "NONE"])
        ),
        "createdAt": draw(timestamps),
    }


@st.composite
def cancel(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "type": "order.cancel-requested.v1",
        "orderId": draw(st.sampled_from(ORDER_IDS)),
        "userId": draw(st.sampled_from(["ann", "ben"])),
        "ticker": draw(st.sampled_from(TICKERS)),
        "requestedAt": draw(timestamps),
    }


bodies = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    mutated(placed()).map(json.dumps),
    mutated(cancel()).map(json.dumps),
    placed().map(json.dumps),
    cancel().map(json.dumps),
)


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    records = []
    for i, body in enumerate(draw(st.lists(bodies, min_size=1, max_size=10))):
        try:
            own = json.loads(body).get("ticker")
        except (ValueError, AttributeError):
            own = None
        group = draw(st.sampled_from([own, own, *TICKERS]))
        attributes = {"ApproximateReceiveCount": "1"} | (
            {"MessageGroupId": group} if isinstance(group, str) else {}
        )
        records.append(
            {"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body, "attributes": attributes}
        )
    return records


def parsed(body: str) -> tuple[str, str] | None:
    """(ticker, command id) of a body the contract accepts."""
    try:
        command = parse_lane_command(body)
    except ValueError:
        return None
    return command.ticker, command.command_id


@FUZZ
@given(records=batches())
def test_every_lane_message_is_applied_or_parked(records: list[dict[str, Any]]) -> None:
    log, dead_letters = InMemoryBookLog(), InMemoryDeadLetters()
    service = MatchingService(
        log=log,
        snapshots=InMemorySnapshotStore(),
        views=InMemoryBookViewStore(),
        publisher=RecordingPublisher(),
        snapshot_every=2,
    )

    failed = LaneConsumer(service, dead_letters).consume(records)

    assert failed == set()
    parked = {letter.message_id: letter.reason for letter in dead_letters.parked}
    assert all(parked.values()), parked
    commands = {record["messageId"]: parsed(record["body"]) for record in records}
    tickers = {command[0] for command in commands.values() if command is not None}
    logged = {(t, c.command_id) for t in tickers for e in log.entries_after(t, 0) for c in e.commands}
    for record in records:
        # Parked, or applied (a repeat of an applied command id is recognised and not applied twice).
        assert record["messageId"] in parked or commands[record["messageId"]] in logged, record
