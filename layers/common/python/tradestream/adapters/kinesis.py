"""Publishing committed log entries to the matching events stream (partition key = ticker)."""

from __future__ import annotations

from typing import Any

import boto3

from tradestream.contracts import MatchingBatchV1
from tradestream.lane.ports import EventPublisher


class PublishFailed(Exception):
    """Kinesis refused some records; the whole SQS batch is retried and republishes them."""


class KinesisPublisher(EventPublisher):
    def __init__(self, stream_name: str, client: Any | None = None) -> None:
        self._stream_name = stream_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("kinesis")
        return self._client

    def publish(self, batches: list[MatchingBatchV1]) -> None:
        # One record per log entry, one entry per call, stopping at the first refusal: the stream then
        # always holds a prefix of the entries in order, so a retry that republishes them is safe
        # (consumers' sequence guards drop what they applied; nothing arrives half-applied or reordered).
        # Usually there is exactly one entry, so this is one PutRecords call per matching batch.
        for batch in batches:
            record = {"Data": batch.model_dump_json(by_alias=True).encode(), "PartitionKey": batch.ticker}
            response = self.client.put_records(StreamName=self._stream_name, Records=[record])
            if response.get("FailedRecordCount", 0):
                raise PublishFailed(f"{batch.ticker} entry {batch.seq} was not accepted by the stream")
