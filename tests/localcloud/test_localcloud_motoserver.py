"""The SQS FIFO fixes localcloud.motoserver installs in moto (in-process, no server needed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer
from moto.sqs import models

from localcloud import motoserver
from localcloud.cloud import free_port
from localcloud.resources import client
from tests.localcloud.support import restored


@pytest.fixture
def sqs() -> Iterator[Any]:
    """An in-process moto SQS with the fix installed, and moto restored afterwards (other suites use it)."""
    with restored((models.SQSBackend, "receive_message"), (models.Queue, "delete_message")):
        assert motoserver.patch()
        with mock_aws():
            yield boto3.client("sqs", region_name="us-east-1")


def fifo(sqs: Any, visibility_timeout: int) -> str:
    attributes = {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "true",
        "VisibilityTimeout": str(visibility_timeout),
    }
    url: str = sqs.create_queue(QueueName="lane.fifo", Attributes=attributes)["QueueUrl"]
    return url


def bodies(response: dict[str, Any]) -> list[str]:
    return [m["Body"] for m in response.get("Messages", [])]


def test_messages_of_a_group_come_back_in_order_after_their_visibility_timeout(sqs: Any) -> None:
    url = fifo(sqs, visibility_timeout=1)
    for body in ("m1", "m2", "m3"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="A")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert bodies(first) == ["m1", "m2", "m3"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["Messages"][0]["ReceiptHandle"])
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == []  # still in flight
    time.sleep(1.1)
    # plain moto 5.2.5 hands out m3 alone here, and m2 only after m3's next timeout
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == ["m2", "m3"]


def test_two_long_polls_never_get_the_same_group(sqs: Any) -> None:
    url = fifo(sqs, visibility_timeout=30)
    got: list[list[str]] = []

    def poll() -> None:
        got.append(bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=4, WaitTimeSeconds=1)))

    pollers = [threading.Thread(target=poll) for _ in range(2)]
    for thread in pollers:
        thread.start()
    time.sleep(0.2)  # both are waiting on an empty queue
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(n), "MessageBody": f"a{n}", "MessageGroupId": "A"} for n in range(8)],
    )
    for thread in pollers:
        thread.join()
    # plain moto keeps the in-flight groups it saw before the wait: both pollers get messages of A
    idle, busy = sorted(got, key=len)
    assert idle == []
    assert busy and busy == [f"a{n}" for n in range(len(busy))]


def test_redrive_to_the_dead_letter_queue_still_happens(sqs: Any) -> None:
    dlq = sqs.create_queue(
        QueueName="dlq.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )
    arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="lane.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "VisibilityTimeout": "1",
            "RedrivePolicy": f'{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": 1}}',
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison", MessageGroupId="A")
    sqs.send_message(QueueUrl=url, MessageBody="next", MessageGroupId="A")
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)) == ["poison"]
    time.sleep(1.1)
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)) == ["next"]
    assert bodies(sqs.receive_message(QueueUrl=dlq["QueueUrl"], MaxNumberOfMessages=10)) == ["poison"]


def test_a_deleted_handle_may_be_deleted_again_and_an_unknown_one_is_invalid(sqs: Any) -> None:
    url = fifo(sqs, visibility_timeout=30)
    for body in ("m1", "m2"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="A")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    entries = [
        {"Id": "again", "ReceiptHandle": first["ReceiptHandle"]},
        {"Id": "unknown", "ReceiptHandle": "not-a-handle"},
    ]
    answer = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert [e["Id"] for e in answer["Successful"]] == ["again"]
    assert [(e["Id"], e["Code"]) for e in answer["Failed"]] == [("unknown", "ReceiptHandleIsInvalid")]
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == ["m2"]


def test_messages_sent_while_a_consumer_deletes_are_all_received_once_in_order(sqs: Any) -> None:
    """moto's own delete rebuilt the message list: a message sent meanwhile could be dropped."""
    url = fifo(sqs, visibility_timeout=30)
    sent = [f"m{n:03d}" for n in range(300)]

    def send() -> None:
        for body in sent:
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=f"g{int(body[1:]) % 3}")

    sender = threading.Thread(target=send)
    sender.start()
    received: list[str] = []
    deadline = time.monotonic() + 60
    while len(received) < len(sent) and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        batch = messages.get("Messages", [])
        received += [m["Body"] for m in batch]
        if batch:
            handles = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            assert not sqs.delete_message_batch(QueueUrl=url, Entries=handles).get("Failed")
    sender.join()
    assert sorted(received) == sent  # each once
    for group in range(3):  # and each group in the order it was sent
        assert [b for b in received if int(b[1:]) % 3 == group] == [
            b for b in sent if int(b[1:]) % 3 == group
        ]


def test_concurrent_kinesis_puts_on_one_shard_all_stay_readable() -> None:
    # moto's Shard.put_record is not safe for concurrency: two puts could take one sequence number and
    # one record replaced the other (2,388 of 2,400 readable when measured). The patch serialises them.
    motoserver.patch_kinesis()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        kinesis = client("kinesis", f"http://127.0.0.1:{port}")
        kinesis.create_stream(StreamName="puts", ShardCount=1)

        def put(writer: int) -> None:
            for n in range(150):
                kinesis.put_records(
                    StreamName="puts", Records=[{"Data": f"{writer}-{n}".encode(), "PartitionKey": "A"}]
                )

        writers = [threading.Thread(target=put, args=(w,)) for w in range(6)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        iterator = kinesis.get_shard_iterator(
            StreamName="puts", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        seen: list[str] = []
        while records := (response := kinesis.get_records(ShardIterator=iterator, Limit=10_000))["Records"]:
            seen += [r["Data"].decode() for r in records]
            iterator = response["NextShardIterator"]
        assert sorted(seen) == sorted(f"{w}-{n}" for w in range(6) for n in range(150))
    finally:
        server.stop()
