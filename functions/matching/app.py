"""The matching function: consumes the ticker lanes (SQS FIFO, group = ticker) and commits each batch."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.lane import DynamoBookLog, DynamoBookViewStore, DynamoSnapshotStore
from tradestream.adapters.kinesis import KinesisPublisher
from tradestream.adapters.sqs import SqsDeadLetters
from tradestream.heap import warm_heap
from tradestream.lane.consumer import LaneConsumer
from tradestream.lane.service import MatchingService
from tradestream.observability import logger
from tradestream.settings import MatchingSettings

# One bad ticker never stalls another: a failed message fails only the rest of its own group.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# A batch in which every message failed (its only ticker could not commit or publish) is reported like
# any partial failure, all items listed, instead of raising: SQS retries the same messages either way,
# but a raise is a function error (error metrics, alarms) for what is an ordinary retryable throttle.
processor.raise_on_entire_batch_failure = False


class GroupFailed(Exception):
    """This message's ticker batch did not commit or publish; SQS redelivers it."""


@functools.cache
def consumer() -> LaneConsumer:
    s = MatchingSettings.from_env()
    service = MatchingService(
        log=DynamoBookLog(s.book_log_table),
        snapshots=DynamoSnapshotStore(s.snapshots_table),
        views=DynamoBookViewStore(s.book_views_table),
        publisher=KinesisPublisher(s.events_stream),
        snapshot_every=s.snapshot_every,
    )
    return LaneConsumer(service, SqsDeadLetters(s.lane_dlq_url))


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = consumer().consume(event["Records"])

    def settle(record: SQSRecord) -> None:
        if record.message_id in failed:
            raise GroupFailed(record.message_id)

    return dict(
        process_partial_response(event=event, record_handler=settle, processor=processor, context=context)
    )
