"""The fault suite's dead-letter comparison can fail: each way a DLQ can differ from the poison is caught."""

from __future__ import annotations

import json

from tests.faults.support import PROJECTIONS, DeadLetter, dead_letter_problems

LANE_POISON = {"m1", "m2"}
STREAM_POISON = {"100"}


def parked(source: str, reason: str | None = "body: Invalid JSON") -> DeadLetter:
    return DeadLetter(body="not json", reason=reason, source_id=source)


def exhausted() -> DeadLetter:
    info = {"requestContext": {"condition": "RetryAttemptsExhausted"}, "KinesisBatchInfo": {"batchSize": 1}}
    return DeadLetter(body=json.dumps(info), reason=None, source_id=None)


def problems(
    lane: list[DeadLetter], projections: list[DeadLetter], *, redelivered: bool = False
) -> list[str]:
    return dead_letter_problems(
        lane_poison=LANE_POISON,
        stream_poison=STREAM_POISON,
        lane_dlq=lane,
        projections_dlq=projections,
        redelivered=redelivered,
    )


EXACT_LANE = [parked("m1"), parked("m2")]
EXACT_STREAM = [parked("100") for _ in PROJECTIONS]


def test_exactly_the_poison_passes() -> None:
    assert problems(EXACT_LANE, EXACT_STREAM) == []


def test_a_missing_or_an_extra_lane_message_fails() -> None:
    assert problems(EXACT_LANE[:1], EXACT_STREAM)
    # a lane message SQS moved after five failed deliveries: no reason, not poison
    assert problems([*EXACT_LANE, parked("m3", reason=None)], EXACT_STREAM)


def test_a_lane_message_parked_twice_fails() -> None:
    assert problems([*EXACT_LANE, parked("m1")], EXACT_STREAM)


def test_a_batch_a_projection_gave_up_on_fails() -> None:
    assert problems(EXACT_LANE, [*EXACT_STREAM, exhausted()], redelivered=True)


def test_stream_poison_must_be_parked_by_every_projection() -> None:
    assert problems(EXACT_LANE, EXACT_STREAM[:-1])


def test_repeats_of_stream_poison_pass_only_when_the_fault_redelivers() -> None:
    twice = EXACT_STREAM * 2
    assert problems(EXACT_LANE, twice)
    assert problems(EXACT_LANE, twice, redelivered=True) == []


def test_a_dead_letter_without_a_reason_fails() -> None:
    assert problems([parked("m1"), parked("m2", reason=None)], EXACT_STREAM)
