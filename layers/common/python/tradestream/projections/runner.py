"""The Kinesis side of every projection: parse records with powertools' BatchProcessor, park poison, apply."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from tradestream.contracts import MatchingBatchV1, parse_matching_batch
from tradestream.lane.ports import DeadLetters
from tradestream.observability import correlate, logger

# 1e6 events per entry is far beyond a batch of ten commands (a sweep emits two events per level).
EVENTS_PER_ENTRY = 1_000_000
# A failed apply is retried in place before the invocation fails: Lambda's own retries are bounded
# (MaximumRetryAttempts), after which it skips the records for good, since no sequence guard ever takes
# an older event back. A write throttled beyond the SDK's retries must not cost a position its trade.
APPLY_ATTEMPTS = 3
APPLY_BACKOFF_SECONDS = 0.05
_SPARE_MILLIS = 5_000  # never retry into the function's timeout


def event_key(seq: int, n: int) -> int:
    """(seq, n) as one number for DynamoDB conditions: the sequence guard compares these."""
    return seq * EVENTS_PER_ENTRY + n


def run_projection(
    event: dict[str, Any],
    context: LambdaContext,
    *,
    apply: Callable[[list[MatchingBatchV1]], None],
    dead_letters: DeadLetters,
) -> dict[str, Any]:
    """Parse every record (poison → DLQ with its reason, acknowledged), then apply the entries at once.

    Applying the whole batch together lets a projection write each item once per batch. If that
    write fails the invocation fails and Lambda retries or bisects the batch: every write is guarded
    by (seq, n), so replaying entries that were already applied changes nothing.
    """
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    entries: list[MatchingBatchV1] = []

    def parse(record: KinesisStreamRecord) -> None:
        data = record.kinesis.data_as_bytes()
        try:
            entries.append(parse_matching_batch(data))
        except (ValidationError, ValueError) as exc:
            logger.warning("poison record parked", extra={"sequenceNumber": record.kinesis.sequence_number})
            dead_letters.send(
                body=data.decode("utf-8", errors="replace"),
                reason=str(exc)[:1000],
                message_id=record.kinesis.sequence_number,
                group_id=None,
            )

    with processor(event["Records"], parse, lambda_context=context):
        processor.process()
    # A record whose parking failed is reported and Lambda retries from it, but it counts every record
    # before it as done: their entries must be applied now (found by the throttling fault, which lost
    # every entry ahead of a poison record whose DLQ send was throttled). Entries after it come again
    # with the retry, and the guards drop them then.
    entries.sort(key=lambda e: (e.ticker, e.seq))
    correlate([event.correlation_id for entry in entries for event in entry.events])
    _apply(apply, entries, context)
    return dict(processor.response())


def _apply(
    apply: Callable[[list[MatchingBatchV1]], None],
    entries: list[MatchingBatchV1],
    context: LambdaContext,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """apply() is idempotent (every write is guarded by (seq, n)), so running it again is always safe."""
    for attempt in range(1, APPLY_ATTEMPTS + 1):
        try:
            apply(entries)
            return
        except Exception:
            if attempt == APPLY_ATTEMPTS or context.get_remaining_time_in_millis() < _SPARE_MILLIS:
                raise
            logger.warning(
                "applying the batch failed; retrying it in place", extra={"attempt": attempt}, exc_info=True
            )
            sleep(APPLY_BACKOFF_SECONDS * 2 ** (attempt - 1))
