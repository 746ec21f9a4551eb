"""Kinesis event sources as Lambda polls them: per-shard order, batch size, TRIM_HORIZON vs LATEST, retries,
BisectBatchOnFunctionError, and the on-failure record AWS sends to an SQS destination.

moto is started first, on its own, so that records can be put on the stream before the local cloud (and
its event source mappings) exists: TRIM_HORIZON must deliver them, LATEST must not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from localcloud.cloud import LocalCloud, Settings, wait_for_port
from localcloud.pollers import KinesisShardPoller, ShardSignal
from localcloud.resources import client
from tests.localcloud.support import (
    FIXTURES,
    STACK,
    Invocation,
    aws,
    free_ports,
    invocations,
    wait_until,
)

TEMPLATE = FIXTURES / "kinesis" / "template.yaml"
ORDERED_STREAM = f"{STACK}-ordered"
ACCOUNT = "123456789012"
EARLY = 6  # put before the mappings exist
LATE = 30  # put after
TRIM_BATCH_SIZE = 3


@dataclass(frozen=True)
class Stream:
    cloud: LocalCloud
    early: list[dict[str, str]]  # {"data", "shard", "sequenceNumber"} in put order


def put(endpoint: str, stream: str, data: list[str]) -> list[dict[str, str]]:
    """PutRecords in order, spreading partition keys over the shards; returns where each record went."""
    response = client("kinesis", endpoint).put_records(
        StreamName=stream,
        Records=[{"Data": d.encode(), "PartitionKey": f"key-{i % 7}"} for i, d in enumerate(data)],
    )
    assert response["FailedRecordCount"] == 0
    return [
        {"data": d, "shard": r["ShardId"], "sequenceNumber": r["SequenceNumber"]}
        for d, r in zip(data, response["Records"], strict=True)
    ]


@pytest.fixture(scope="module")
def stream() -> Iterator[Stream]:
    aws_port, api_port = free_ports(2)
    moto = subprocess.Popen(
        [sys.executable, "-m", "localcloud.motoserver", "-H", "127.0.0.1", "-p", str(aws_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{aws_port}"
    try:
        wait_for_port("127.0.0.1", aws_port, 30)
        kinesis = client("kinesis", endpoint)
        kinesis.create_stream(StreamName=ORDERED_STREAM, ShardCount=2)
        kinesis.get_waiter("stream_exists").wait(StreamName=ORDERED_STREAM, WaiterConfig={"Delay": 0.1})
        early = put(endpoint, ORDERED_STREAM, [f"early-{n}" for n in range(EARLY)])
        settings = Settings(
            template=TEMPLATE,
            aws_port=aws_port,
            api_port=api_port,
            stack_name=STACK,
            external_endpoint=endpoint,
        )
        with LocalCloud(settings) as cloud:
            yield Stream(cloud, early)
    finally:
        moto.terminate()
        moto.wait(timeout=10)


def delivered(found: list[Invocation]) -> list[dict[str, Any]]:
    return [r for i in found if i.outcome == "ok" for r in i.records]


def wait_for_delivered(cloud: LocalCloud, function: str, count: int, prefix: str = "") -> list[Invocation]:
    """The function's invocations once `count` records were delivered, only those of batches whose first
    record's data starts with `prefix`."""

    def probe() -> list[Invocation] | None:
        found = [i for i in invocations(cloud, function) if i.records[0]["data"].startswith(prefix)]
        return found if len(delivered(found)) >= count else None

    return wait_until(probe, timeout=20, what=f"{count} records delivered to {function}", interval=0.2)


def failure_records(cloud: LocalCloud, stream_arn: str, count: int) -> list[dict[str, Any]]:
    sqs = aws(cloud, "sqs")
    url = sqs.get_queue_url(QueueName=f"{STACK}-FailureQueue")["QueueUrl"]
    got: list[dict[str, Any]] = []

    def probe() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            if body["KinesisBatchInfo"]["streamArn"] == stream_arn:
                got.append(body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(got) >= count

    wait_until(probe, timeout=20, what=f"{count} on-failure record(s) for {stream_arn}", interval=0.2)
    return got


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


@pytest.fixture(scope="module")
def late(stream: Stream) -> list[dict[str, str]]:
    return put(stream.cloud.endpoint, ORDERED_STREAM, [f"late-{n}" for n in range(LATE)])


# --- order, batch size, starting position ----------------------------------------------------------
def test_trim_horizon_delivers_every_record_in_shard_order(
    stream: Stream, late: list[dict[str, str]]
) -> None:
    found = wait_for_delivered(stream.cloud, "TrimHorizonReader", EARLY + LATE)
    records = [r for r in delivered(found) if r["data"].startswith(("early-", "late-"))]
    assert len(records) == EARLY + LATE  # nothing twice
    everything = stream.early + late
    shards = {r["shard"] for r in everything}
    assert len(shards) == 2, "the partition keys must spread over both shards for this test to mean anything"
    for shard in shards:
        expected = [r["data"] for r in everything if r["shard"] == shard]
        assert [r["data"] for r in records if r["shard"] == shard] == expected
        sequence = [int(r["sequenceNumber"]) for r in records if r["shard"] == shard]
        assert sequence == sorted(sequence)
    assert {r["source"] for r in records} == {stream_arn(ORDERED_STREAM)}


def test_batch_size_is_respected_and_a_batch_never_spans_shards(
    stream: Stream, late: list[dict[str, str]]
) -> None:
    found = wait_for_delivered(stream.cloud, "TrimHorizonReader", EARLY + LATE)
    assert max(len(i.records) for i in found) == TRIM_BATCH_SIZE
    assert all(len({r["shard"] for r in i.records}) == 1 for i in found)


def test_latest_delivers_only_what_was_put_after_the_mapping_existed(
    stream: Stream, late: list[dict[str, str]]
) -> None:
    found = wait_for_delivered(stream.cloud, "LatestReader", LATE)
    records = [r for r in delivered(found) if r["data"].startswith(("early-", "late-"))]
    assert sorted(r["data"] for r in records) == sorted(r["data"] for r in late)
    for shard in {r["shard"] for r in late}:
        expected = [r["data"] for r in late if r["shard"] == shard]
        assert [r["data"] for r in records if r["shard"] == shard] == expected


# --- batching window -------------------------------------------------------------------------------
WINDOW_STREAM = "WindowStream"
WINDOW_SECONDS = 2.0  # WindowReader's MaximumBatchingWindowInSeconds (its BatchSize is 4)


def test_a_batching_window_gathers_records_put_apart_into_one_batch(stream: Stream) -> None:
    name = f"{STACK}-{WINDOW_STREAM}"
    first_put = time.time()
    for n in range(3):
        put(stream.cloud.endpoint, name, [f"spread-{n}"])
        time.sleep(0.3)
    gathered = wait_for_delivered(stream.cloud, "WindowReader", 3, prefix="spread-")
    prompt = wait_for_delivered(stream.cloud, "PromptReader", 3, prefix="spread-")
    assert [[r["data"] for r in i.records] for i in gathered] == [["spread-0", "spread-1", "spread-2"]]
    # invoked when the window, counted from the first record, had passed, and not long after
    assert WINDOW_SECONDS - 0.1 <= gathered[0].started - first_put < WINDOW_SECONDS + 2
    # the shard's other mapping has no window: it did not wait for the three
    assert len(prompt) >= 2
    assert prompt[0].started - first_put < WINDOW_SECONDS - 0.5


def test_a_full_batch_is_invoked_before_its_window_ends(stream: Stream) -> None:
    name = f"{STACK}-{WINDOW_STREAM}"
    first_put = time.time()
    put(stream.cloud.endpoint, name, [f"full-{n}" for n in range(5)])
    found = wait_for_delivered(stream.cloud, "WindowReader", 5, prefix="full-")
    assert [[r["data"] for r in i.records] for i in found] == [
        ["full-0", "full-1", "full-2", "full-3"],
        ["full-4"],
    ]
    assert found[0].started - first_put < WINDOW_SECONDS - 0.5  # BatchSize 4 reached: no wait
    assert found[1].started - found[0].started >= WINDOW_SECONDS - 0.1  # the rest waits its window


# --- failures --------------------------------------------------------------------------------------
def test_bisect_isolates_the_poison_record_and_sends_it_to_the_destination(stream: Stream) -> None:
    name = f"{STACK}-PoisonStream"
    data = [f"good-{n}" for n in range(6)] + ["poison-6"] + [f"good-{n}" for n in range(7, 10)]
    sent = put(stream.cloud.endpoint, name, data)
    poison = sent[6]
    found = wait_for_delivered(stream.cloud, "BisectReader", 9)
    [failure] = failure_records(stream.cloud, stream_arn(name), 1)

    # every good record was processed exactly once, in order, although the poison shared their batch
    assert [r["data"] for r in delivered(invocations(stream.cloud, "BisectReader"))] == [
        d for d in data if not d.startswith("poison")
    ]
    alone = [i for i in found if [r["data"] for r in i.records] == ["poison-6"]]
    assert [i.outcome for i in alone] == ["failed"] * 3  # 1 attempt + MaximumRetryAttempts: 2
    assert any(len(i.records) > 1 and i.outcome == "failed" for i in found), "the batch was never bisected"

    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert (
        failure["requestContext"]["functionArn"]
        == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{STACK}-BisectReader"
    )
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["version"] == "1.0"
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["KinesisBatchInfo"]
    assert info["shardId"] == poison["shard"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison["sequenceNumber"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream_arn(name)
    assert set(info) == {
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    }
    assert set(failure) == {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"}


def test_retries_stop_at_maximum_retry_attempts_and_the_shard_moves_on(stream: Stream) -> None:
    name = f"{STACK}-RetryStream"
    [poison] = put(stream.cloud.endpoint, name, ["poison-alone"])
    [failure] = failure_records(stream.cloud, stream_arn(name), 1)
    attempts = [i for i in invocations(stream.cloud, "RetryReader") if i.records[0]["data"] == "poison-alone"]
    assert [(len(i.records), i.outcome) for i in attempts] == [(1, "failed")] * 2  # MaximumRetryAttempts: 1
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["KinesisBatchInfo"]["startSequenceNumber"] == poison["sequenceNumber"]
    assert failure["KinesisBatchInfo"]["batchSize"] == 1
    put(stream.cloud.endpoint, name, ["after-the-poison"])
    after = wait_for_delivered(stream.cloud, "RetryReader", 1)
    assert [r["data"] for r in delivered(after)] == ["after-the-poison"]


def test_latest_position_is_taken_when_the_mapping_starts_not_when_its_thread_first_polls(
    stream: Stream,
) -> None:
    cloud = stream.cloud
    assert cloud.wiring is not None
    source = next(s for s in cloud.wiring.event_sources if s.function == "LatestReader")
    poller = KinesisShardPoller(
        source,
        cloud.pools["LatestReader"],
        stream_name=ORDERED_STREAM,
        stream_arn=stream_arn(ORDERED_STREAM),
        shard_id="shardId-000000000000",
        endpoint=cloud.endpoint,
        on_failure_url=None,
    )
    poller.stopping.set()  # its thread ends at once: only start() itself can take the iterator
    poller.start()
    poller.join(timeout=5)
    assert poller.iterator is not None
    put_after = put(cloud.endpoint, ORDERED_STREAM, [f"after-start-{n}" for n in range(7)])
    mine = {r["sequenceNumber"] for r in put_after if r["shard"] == "shardId-000000000000"}
    assert mine
    got = client("kinesis", cloud.endpoint).get_records(ShardIterator=poller.iterator, Limit=100)["Records"]
    assert {r["SequenceNumber"] for r in got} == mine


def test_followers_of_a_shard_wake_when_the_leader_sees_records() -> None:
    signal = ShardSignal()
    seen = signal.generation
    woke: list[int] = []
    waiter = threading.Thread(target=lambda: woke.append(signal.wait(seen, timeout=10)))
    waiter.start()
    time.sleep(0.05)
    assert not woke  # idle: the follower waits instead of polling
    signal.notify()
    waiter.join(timeout=2)
    assert woke == [seen + 1]
    assert signal.wait(seen + 1, timeout=0.01) == seen + 1  # nothing new: returns after the timeout
