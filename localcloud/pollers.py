"""Polls SQS queues and Kinesis shards and invokes their functions as Lambda's event source mappings do."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from localcloud.errors import InvocationError
from localcloud.functions import FunctionPool
from localcloud.resources import client
from localcloud.wiring import EventSource, Schedule

log = logging.getLogger("localcloud")
# The leader of a shard polls this often for records put from outside the local cloud's functions (tests,
# scripts, the CLI); a put by one of its functions wakes every mapping of the stream as it lands.
KINESIS_IDLE_SLEEP_SECONDS = 0.05
# Followers of a shard poll this rarely on their own; the leader wakes them when records arrive.
KINESIS_FOLLOWER_IDLE_SECONDS = 1.0
# A mapping gathering records for its batching window reads this often: soon enough after its batch
# fills, and a few reads a window rather than one per record the leader announces.
KINESIS_WINDOW_READ_SECONDS = 0.25


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Poller(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()


class SqsPoller(_Poller):
    """One Lambda poller of a queue. FIFO order per group comes from SQS: a group with messages in
    flight is not handed out again, so two pollers never hold batches of the same group at once."""

    def __init__(
        self,
        source: EventSource,
        pool: FunctionPool,
        *,
        queue_url: str,
        queue_arn: str,
        endpoint: str,
        duplicate: bool = False,
    ):
        super().__init__(f"sqs:{source.logical_id}")
        self.source = source
        self.pool = pool
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.sqs = client("sqs", endpoint)
        self.batches = 0
        self.duplicate = duplicate  # fault injection: every batch is delivered twice
        self.duplicates = 0

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {k: str(v) for k, v in message.get("Attributes", {}).items()}
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": (
                    base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None
                ),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": "us-east-1",
        }

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.source.batching_window_seconds
        while not self.stopping.is_set() and len(messages) < self.source.batch_size:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else 1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            messages.extend(received)
            if not received or time.monotonic() >= deadline:
                break
        return messages

    def poll_once(self) -> int:
        """Receive one batch and process it; returns how many messages were received."""
        messages = self._receive()
        if not messages:
            return 0
        records = [self._record(m) for m in messages]
        failed = self._invoke(records)
        if self.duplicate:
            # The same messages again, as SQS's at-least-once delivery may: the last outcome counts.
            self.duplicates += 1
            failed = self._invoke(records)
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
        self.batches += 1
        return len(records)

    def _invoke(self, records: list[dict[str, Any]]) -> set[str]:
        """Invoke the function with one batch; returns the ids of the messages that failed."""
        try:
            result = self.pool.invoke({"Records": records})
        except InvocationError as exc:
            log.warning("%s: batch of %d failed: %s", self.source.function, len(records), exc)
            return {r["messageId"] for r in records}
        return self._failed_ids(result, {r["messageId"] for r in records})

    def _failed_ids(self, result: Any, batch_ids: set[str]) -> set[str]:
        if not self.source.report_item_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        ids = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
        if not ids <= batch_ids or None in ids:
            # Lambda treats a malformed or unknown identifier as a failure of the whole batch.
            log.warning(
                "%s: invalid batchItemFailures %r; whole batch retried", self.source.function, failures
            )
            return batch_ids
        return {i for i in ids if i is not None}

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once()
            except Exception:  # the emulator must outlive a broken poll; Lambda's poller does too
                log.exception("%s: poll failed", self.name)
                self.stopping.wait(1)


class ShardSignal:
    """Shared by every mapping of one shard: wakes them when records may have arrived.

    A function's Kinesis put notifies it as the put lands (StreamSignals.put); for puts from elsewhere the
    leader polls often and notifies the others when its read finds records.

    Each mapping still reads the shard with its own iterator and checkpoint (Lambda's semantics are
    per mapping); only the idle polling is shared, so four projections on one shard cost moto one
    GetRecords per idle interval instead of four.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def announce(self, seen: int) -> int:
        """Notify, by a reader that had seen generation `seen`; returns the generation it has now seen:
        its own notice, but not one that came from elsewhere since it read (that one must wake it)."""
        with self._changed:
            unchanged = self._generation == seen
            self._generation += 1
            self._changed.notify_all()
            return self._generation if unchanged else seen

    def wait(self, seen: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen, timeout=timeout)
            return self._generation


class StreamSignals:
    """The ShardSignal of every polled shard; the first mapping to join a shard leads its polling."""

    def __init__(self) -> None:
        self._by_shard: dict[tuple[str, str], ShardSignal] = {}

    def join(self, stream: str, shard_id: str) -> tuple[ShardSignal, bool]:
        """The shard's signal, and whether the caller is the first mapping of the shard (its leader)."""
        key = (stream, shard_id)
        leader = key not in self._by_shard
        return self._by_shard.setdefault(key, ShardSignal()), leader

    def put(self, stream: str) -> None:
        """A function's records landed on `stream` (FunctionPool.on_put): wake every mapping of its
        shards, the leader included, instead of leaving them to the leader's next idle poll."""
        for (name, _), signal in self._by_shard.items():
            if name == stream:
                signal.notify()


class KinesisShardPoller(_Poller):
    """Reads one shard in order: batch size, batching window, retries, bisect on function error,
    on-failure destination."""

    def __init__(
        self,
        source: EventSource,
        pool: FunctionPool,
        *,
        stream_name: str,
        stream_arn: str,
        shard_id: str,
        endpoint: str,
        on_failure_url: str | None,
        signal: ShardSignal | None = None,
        leader: bool = True,
        duplicate: bool = False,
    ) -> None:
        super().__init__(f"kinesis:{source.logical_id}:{shard_id}")
        self.duplicate = duplicate  # fault injection: every batch that succeeds is delivered again
        self.duplicates = 0
        self.signal = signal
        self.leader = leader
        self.source = source
        self.pool = pool
        self.stream_name = stream_name
        self.stream_arn = stream_arn
        self.shard_id = shard_id
        self.on_failure_url = on_failure_url
        self.kinesis = client("kinesis", endpoint)
        self.sqs = client("sqs", endpoint)
        self.iterator: str | None = None
        self.checkpoint: str | None = None  # last sequence number fully handled, as Lambda keeps it
        self._seen = 0  # the shard signal's generation as of this mapping's last read
        self.sent_to_destination = 0

    def _record(self, record: dict[str, Any]) -> dict[str, Any]:
        arrival = record["ApproximateArrivalTimestamp"]
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": record["SequenceNumber"],
                "data": base64.b64encode(record["Data"]).decode(),
                "approximateArrivalTimestamp": arrival.timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{self.shard_id}:{record['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::123456789012:role/{self.source.function}Role",
            "awsRegion": "us-east-1",
            "eventSourceARN": self.stream_arn,
        }

    def start_iterator(self) -> None:
        args: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": self.shard_id}
        if self.checkpoint is not None:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=self.checkpoint)
        elif self.source.starting_position == "LATEST":
            args.update(ShardIteratorType="LATEST")
        else:
            args.update(ShardIteratorType="TRIM_HORIZON")
        self.iterator = self.kinesis.get_shard_iterator(**args)["ShardIterator"]

    def start(self) -> None:
        # LATEST means "what is put after the mapping exists", so the iterator is taken before start()
        # returns, not whenever the thread first gets to poll.
        self.start_iterator()
        super().start()

    def _read(self, limit: int) -> list[dict[str, Any]]:
        assert self.iterator is not None
        response = self.kinesis.get_records(ShardIterator=self.iterator, Limit=limit)
        self.iterator = response.get("NextShardIterator")
        records = [self._record(r) for r in response.get("Records", [])]
        if records and self.signal is not None and self.leader:
            # Now, not after this mapping's own function is done: the other projections of the
            # shard must not wait for this one's batch to be written. Its own notice does not end the
            # leader's next idle wait; a put's notice since its read does.
            self._seen = self.signal.announce(self._seen)
        return records

    def poll_once(self) -> int:
        if self.iterator is None:
            self.start_iterator()
        records = self._read(self.source.batch_size)
        window = self.source.batching_window_seconds
        if records and window > 0:
            # MaximumBatchingWindowInSeconds: read on until the batch is full or the window, counted
            # from the batch's first record, has passed; a mapping invoked once per window writes its
            # aggregates once per window.
            deadline = time.monotonic() + window
            while len(records) < self.source.batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.stopping.wait(min(remaining, KINESIS_WINDOW_READ_SECONDS)):
                    break
                records.extend(self._read(self.source.batch_size - len(records)))
        if records:
            self.deliver(records)
            self.checkpoint = records[-1]["kinesis"]["sequenceNumber"]
        return len(records)

    def _invoke(self, batch: list[dict[str, Any]]) -> tuple[int | None, bool]:
        """Returns (index of the first failed record or None, whether it was a function error)."""
        try:
            result = self.pool.invoke({"Records": batch})
        except InvocationError as exc:
            log.warning("%s: batch of %d failed: %s", self.source.function, len(batch), exc)
            return 0, True
        if not self.source.report_item_failures or not isinstance(result, dict):
            return None, False
        failures = result.get("batchItemFailures") or []
        sequence_numbers = [r["kinesis"]["sequenceNumber"] for r in batch]
        failed = [f.get("itemIdentifier") for f in failures if isinstance(f, dict)]
        if not failed:
            return None, False
        if any(s not in sequence_numbers for s in failed):
            return 0, False  # an unknown identifier fails the whole batch, as on AWS
        # Lambda checkpoints just before the lowest failed sequence number and retries from there.
        return min(sequence_numbers.index(s) for s in failed), False

    def deliver(self, records: list[dict[str, Any]]) -> None:
        work: deque[tuple[list[dict[str, Any]], int]] = deque([(records, 0)])
        while work and not self.stopping.is_set():
            batch, attempts = work.popleft()
            first_failed, function_error = self._invoke(batch)
            if first_failed is None:
                if self.duplicate:
                    # Kinesis is at least once too: the records again, as a retry from the checkpoint
                    # would bring them. Already handled, so whatever this delivery does is not retried.
                    self.duplicates += 1
                    self._invoke(batch)
                continue
            rest = batch[first_failed:]
            if function_error and self.source.bisect_on_error and len(rest) > 1:
                # Splitting does not count against the retry quota (Lambda's documented behaviour).
                half = len(rest) // 2
                work.appendleft((rest[half:], attempts))
                work.appendleft((rest[:half], attempts))
                continue
            attempts += 1
            if 0 <= self.source.maximum_retry_attempts < attempts:
                self._send_to_destination(rest, attempts)
                continue
            work.appendleft((rest, attempts))
            self.stopping.wait(min(1.0, 0.05 * 2**attempts))

    def _send_to_destination(self, batch: list[dict[str, Any]], attempts: int) -> None:
        first, last = batch[0]["kinesis"], batch[-1]["kinesis"]
        failure = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.pool.spec.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "KinesisBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": first["sequenceNumber"],
                "endSequenceNumber": last["sequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["approximateArrivalTimestamp"]),
                "approximateArrivalOfLastRecord": _iso(last["approximateArrivalTimestamp"]),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        log.warning(
            "%s: %d record(s) exhausted retries; sent to the on-failure destination",
            self.source.function,
            len(batch),
        )
        if self.on_failure_url:
            self.sqs.send_message(QueueUrl=self.on_failure_url, MessageBody=json.dumps(failure))
            self.sent_to_destination += len(batch)

    def stop(self) -> None:
        super().stop()
        if self.signal is not None:
            self.signal.notify()

    def _idle(self) -> None:
        if self.signal is None:
            self.stopping.wait(KINESIS_IDLE_SLEEP_SECONDS)
        else:
            # A notice since the generation seen before the last read ends the wait at once: a put
            # that landed while this mapping read or delivered is read now, not an idle interval later.
            timeout = KINESIS_IDLE_SLEEP_SECONDS if self.leader else KINESIS_FOLLOWER_IDLE_SECONDS
            self.signal.wait(self._seen, timeout)

    def run(self) -> None:
        while not self.stopping.is_set():
            # Taken before the read: whatever is announced from here on (a put, the leader's read) ends
            # this mapping's next idle wait.
            self._seen = self.signal.generation if self.signal is not None else 0
            try:
                got = self.poll_once()
                if got < self.source.batch_size:
                    # A short batch means the shard was drained when it was read: wait for the next
                    # records instead of asking at once (an empty GetRecords per mapping per batch was
                    # half of the local cloud's Kinesis calls).
                    self._idle()
            except Exception:
                log.exception("%s: poll failed", self.name)
                self.iterator = None
                self.stopping.wait(1)


class SchedulePoller(_Poller):
    """An EventBridge rate() schedule: invokes its function every interval with a Scheduled Event."""

    def __init__(self, schedule: Schedule, pool: FunctionPool) -> None:
        super().__init__(f"schedule:{schedule.logical_id}")
        self.schedule = schedule
        self.pool = pool
        self.fired = 0

    def event(self) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": _iso(time.time()).replace(".000Z", "Z"),
            "region": "us-east-1",
            "resources": [self.schedule.rule_arn],
            "detail": {},
        }

    def fire(self) -> None:
        self.fired += 1
        try:
            self.pool.invoke(self.event())
        except InvocationError as exc:
            # EventBridge retries asynchronous invocations; the next tick is our retry.
            log.warning("%s: scheduled invocation failed: %s", self.schedule.function, exc)

    def run(self) -> None:
        while not self.stopping.wait(self.schedule.interval_seconds):
            self.fire()
