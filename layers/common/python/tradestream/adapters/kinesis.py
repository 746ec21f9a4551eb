"""Publishing committed log entries to the matching events stream (partition key = ticker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3

from tradestream.contracts import MatchingBatchV1
from tradestream.lane.ports import EventPublisher
from tradestream.observability import logger as log


class PublishFailed(Exception):
    """Kinesis refused some records; their tickers' messages are retried and republish them."""


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
        by_ticker: dict[str, list[MatchingBatchV1]] = {}
        for batch in batches:
            by_ticker.setdefault(batch.ticker, []).append(batch)
        failed = self.publish_tickers(by_ticker)
        if failed:
            raise PublishFailed(f"entries of {', '.join(sorted(failed))} were not accepted by the stream")

    def publish_tickers(self, batches: Mapping[str, list[MatchingBatchV1]]) -> set[str]:
        # One record per log entry and at most one entry per ticker per call, stopping a ticker at its
        # first refusal: the stream then always holds a prefix of each ticker's entries in order, so a
        # retry that republishes them is safe (consumers' sequence guards drop what they applied;
        # nothing arrives half-applied or reordered). PutRecords refuses records one by one, and a
        # ticker is one partition key, so a call with one entry per ticker cannot reorder a ticker.
        # Usually every ticker has one entry: one call for the whole lane batch.
        pending = {ticker: list(entries) for ticker, entries in batches.items() if entries}
        failed: set[str] = set()
        while pending:
            calls = [(ticker, entries[0]) for ticker, entries in pending.items()]
            records = [
                {"Data": batch.model_dump_json(by_alias=True).encode(), "PartitionKey": ticker}
                for ticker, batch in calls
            ]
            try:
                response = self.client.put_records(StreamName=self._stream_name, Records=records)
            except Exception:
                log.exception("the stream refused a put of %d record(s); they will be retried", len(records))
                return failed | set(pending)
            results = response.get("Records") or []
            for (ticker, batch), result in zip(calls, results, strict=True):
                if result.get("ErrorCode"):
                    log.warning(
                        "%s entry %d was not accepted by the stream: %s",
                        ticker,
                        batch.seq,
                        result.get("ErrorCode"),
                    )
                    failed.add(ticker)
                    del pending[ticker]
                else:
                    pending[ticker].pop(0)
                    if not pending[ticker]:
                        del pending[ticker]
        return failed
