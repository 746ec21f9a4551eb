"""The projection runner retries a failed apply in place before failing the invocation.

Lambda's retries of a Kinesis batch are bounded; once they run out it skips the records, and a sequence
guard never takes an older event back. The fault suite found that a throttled write could cost a
projection its batch that way; these tests pin the in-place retry that stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.events import LambdaContextStub
from tests.fakes.lane import InMemoryDeadLetters
from tests.fakes.projections import LaneFeed, kinesis_event
from tradestream.contracts import MatchingBatchV1
from tradestream.projections import runner
from tradestream.projections.runner import APPLY_ATTEMPTS, run_projection


class Throttled(Exception):
    """What a write that outlasted the SDK's retries raises."""


@dataclass
class Flaky:
    failures: int
    calls: int = 0

    def __call__(self, entries: list[MatchingBatchV1]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise Throttled("ProvisionedThroughputExceededException")


@dataclass
class OutOfTime(LambdaContextStub):
    def get_remaining_time_in_millis(self) -> int:
        return 1_000


def context(stub: LambdaContextStub | None = None) -> Any:
    """The stub stands in for powertools' LambdaContext (what the handler is typed with)."""
    return stub or LambdaContextStub()


def entries() -> list[MatchingBatchV1]:
    feed = LaneFeed()
    feed.order("ann", "SELL", "1", "10")
    feed.order("ben", "BUY", "1", "10")
    return feed.entries


def test_an_apply_that_fails_and_then_succeeds_completes_the_invocation() -> None:
    apply, slept = Flaky(failures=APPLY_ATTEMPTS - 1), list[float]()
    runner._apply(apply, entries(), context(), sleep=slept.append)
    assert apply.calls == APPLY_ATTEMPTS
    assert slept == sorted(slept) and len(slept) == APPLY_ATTEMPTS - 1  # backing off


def test_an_apply_that_keeps_failing_fails_the_invocation_after_its_attempts() -> None:
    apply = Flaky(failures=APPLY_ATTEMPTS)
    with pytest.raises(Throttled):
        runner._apply(apply, entries(), context(), sleep=lambda _: None)
    assert apply.calls == APPLY_ATTEMPTS


def test_no_retry_when_the_function_is_about_to_time_out() -> None:
    apply = Flaky(failures=1)
    with pytest.raises(Throttled):
        runner._apply(apply, entries(), context(OutOfTime()), sleep=lambda _: None)
    assert apply.calls == 1


def test_the_handler_path_retries_too() -> None:
    apply = Flaky(failures=1)
    response = run_projection(
        kinesis_event(entries()), context(), apply=apply, dead_letters=InMemoryDeadLetters()
    )
    assert response == {"batchItemFailures": []}
    assert apply.calls == 2


def test_entries_ahead_of_a_poison_record_that_could_not_be_parked_are_applied() -> None:
    """Lambda retries from the lowest failed record and counts the ones before it as done."""
    good, later = entries()
    event = kinesis_event([good, b"not json", later])
    dead_letters = InMemoryDeadLetters()
    dead_letters.fail = True  # the DLQ send is throttled
    applied: list[MatchingBatchV1] = []

    response = run_projection(event, context(), apply=applied.extend, dead_letters=dead_letters)

    poison = event["Records"][1]["kinesis"]["sequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": poison}]}
    assert good in applied  # checkpointed by Lambda: applied now or never
