"""The Kinesis side of every projection: parse records with powertools' BatchProcessor, park poison, apply."""

from __future__ import annotations

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
    if processor.fail_messages:
        # Parking failed for some record: retry the batch from there rather than lose it.
        return dict(processor.response())
    entries.sort(key=lambda e: (e.ticker, e.seq))
    correlate([event.correlation_id for entry in entries for event in entry.events])
    apply(entries)
    return dict(processor.response())
