"""A queue's poller receives the next batch while a full one is processed, and FIFO order still holds.

One poller, so without the receive ahead every receive would come after the batch before it was
deleted; the recorder function holds each batch 0.1 s, long enough for the ahead receive to show.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.pollers import SqsPoller
from tests.localcloud.support import STACK, aws, running_cloud
from tests.localcloud.test_localcloud_sqs import (
    LANE_BATCH_SIZE,
    TEMPLATE,
    Batch,
    deliveries,
    key,
    processed,
    send_all,
    wait_for_processed,
)

GROUPS = [f"ahead-{g}" for g in range(4)]
PER_GROUP = 6


@pytest.fixture(scope="module")
def found() -> Iterator[tuple[LocalCloud, list[Batch]]]:
    with running_cloud(TEMPLATE, sqs_pollers_per_source=1, start_pollers=False) as cloud:
        cloud.invoke("LaneRecorder", {"Records": []})  # warm: a cold start is not what is measured
        lane = aws(cloud, "sqs").get_queue_url(QueueName=f"{STACK}-Lane.fifo")["QueueUrl"]
        messages: list[tuple[str | None, dict[str, Any]]] = [
            (g, {"key": f"{g}/{n}"}) for g in GROUPS for n in range(PER_GROUP)
        ]
        send_all(cloud, lane, messages)
        cloud.start_pollers()
        yield cloud, wait_for_processed(cloud, "LaneRecorder", {g + "/": PER_GROUP for g in GROUPS})


def test_each_group_keeps_its_order_and_every_message_comes_once(
    found: tuple[LocalCloud, list[Batch]],
) -> None:
    _, batches = found
    for group in GROUPS:
        expected = [f"{group}/{n}" for n in range(PER_GROUP)]
        assert processed(batches, group + "/") == expected
        assert [key(r) for r in deliveries(batches, group + "/")] == expected


def test_the_batch_after_a_full_one_was_received_while_that_one_ran(
    found: tuple[LocalCloud, list[Batch]],
) -> None:
    cloud, batches = found
    ahead = [
        (before, after)
        for before, after in pairwise(batches)
        if len(before.records) == LANE_BATCH_SIZE
        and max(r["firstReceived"] for r in after.records) < before.ended
    ]
    assert ahead, [(b.started, b.ended, [r["firstReceived"] for r in b.records]) for b in batches]
    # what came ahead is other groups': SQS hands out no message of a group with one in flight
    assert all(not (before.groups & after.groups) for before, after in ahead)
    poller = next(p for p in cloud.pollers if isinstance(p, SqsPoller))
    assert poller.received_ahead >= len(ahead)
