"""SQS event sources as Lambda polls them: FIFO order per group, one batch per group in flight, batch size,
partial batch failures, visibility timeout, redrive to the DLQ; a standard queue too.

Every scenario is queued once, before the pollers start (the `sent` fixture): batch contents are
predictable and the visibility-timeout waits overlap;
each test then waits for and checks its own message groups in what the recorder function saw.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from tests.localcloud.support import FIXTURES, STACK, aws, running_cloud, scan, wait_until

TEMPLATE = FIXTURES / "sqs" / "template.yaml"
LANE_BATCH_SIZE = 4
PLAIN_BATCH_SIZE = 5
VISIBILITY_TIMEOUT = 2.0
MAX_RECEIVE_COUNT = 2
ORDER_GROUPS = [f"order-{g}" for g in range(4)]
ORDER_MESSAGES_PER_GROUP = 12
PARTIAL_MESSAGES_PER_GROUP = 6
PLAIN_MESSAGES = 23


@dataclass(frozen=True)
class Batch:
    """One invocation of a recorder function, as it recorded itself."""

    function: str
    started: float
    ended: float
    records: list[dict[str, Any]]

    @property
    def groups(self) -> set[str]:
        return {r["group"] for r in self.records if r["group"] is not None}


@dataclass(frozen=True)
class Sent:
    lane_url: str
    dlq_url: str
    plain_url: str
    ids: dict[str, str]  # message key ("order-0/3") -> message id


def key(record: dict[str, Any]) -> str:
    return str(record["body"]["key"])


def send_all(
    cloud: LocalCloud, url: str, messages: list[tuple[str | None, dict[str, Any]]]
) -> dict[str, str]:
    """Send (group or None, body) messages in order, ten per SendMessageBatch; returns key -> message id."""
    sqs = aws(cloud, "sqs")
    ids: dict[str, str] = {}
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        entries: list[dict[str, Any]] = []
        for i, (group, body) in enumerate(chunk):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": json.dumps(body)}
            if group is not None:
                entry["MessageGroupId"] = group
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed"), response
        for done in response["Successful"]:
            ids[chunk[int(done["Id"])][1]["key"]] = done["MessageId"]
    return ids


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    # Two pollers per queue, as Lambda runs several: batches of different groups run side by side.
    # The pollers start once every scenario is queued (see `sent`), so batch contents are predictable.
    with running_cloud(TEMPLATE, sqs_pollers_per_source=2, start_pollers=False) as running:
        # A worker per poller, warm: a cold start counts against the visibility timeout and, on a
        # loaded machine, could outlast it and make SQS hand a batch out twice (as AWS would).
        with ThreadPoolExecutor(2) as pool:
            for function in ("LaneRecorder", "PlainRecorder"):
                list(pool.map(running.invoke, [function] * 2, [{"Records": []}] * 2))
        yield running


@pytest.fixture(scope="module")
def sent(cloud: LocalCloud) -> Sent:
    sqs = aws(cloud, "sqs")
    lane = sqs.get_queue_url(QueueName=f"{STACK}-Lane.fifo")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=f"{STACK}-LaneDlq.fifo")["QueueUrl"]
    plain = sqs.get_queue_url(QueueName=f"{STACK}-PlainQueue")["QueueUrl"]
    fifo: list[tuple[str | None, dict[str, Any]]] = []
    for n in range(PARTIAL_MESSAGES_PER_GROUP):  # the first batch: p0 (fails once), q0, p1, q1
        fifo.append(("partial-p", {"key": f"partial-p/{n}", **({"fail_until": 2} if n == 0 else {})}))
        fifo.append(("partial-q", {"key": f"partial-q/{n}"}))
    # poison fails on every delivery, so it goes to the DLQ after maxReceiveCount receives
    fifo += [("poison", {"key": "poison/0", "fail": "always"}), ("after-poison", {"key": "after-poison/0"})]
    # one group after the other: while a poller holds a batch of one group, the other takes the next group
    fifo += [(g, {"key": f"{g}/{n}"}) for g in ORDER_GROUPS for n in range(ORDER_MESSAGES_PER_GROUP)]
    ids = send_all(cloud, lane, fifo)
    standard: list[tuple[str | None, dict[str, Any]]] = [
        (None, {"key": f"plain/{n}", **({"fail_until": 2} if n == 7 else {})}) for n in range(PLAIN_MESSAGES)
    ]
    ids |= send_all(cloud, plain, standard)
    cloud.start_pollers()
    return Sent(lane_url=lane, dlq_url=dlq, plain_url=plain, ids=ids)


def batches(cloud: LocalCloud, function: str) -> list[Batch]:
    found = [
        Batch(
            function=item["function"]["S"],
            started=float(item["started"]["N"]),
            ended=float(item["ended"]["N"]),
            records=json.loads(item["records"]["S"]),
        )
        for item in scan(cloud, f"{STACK}-DeliveriesTable")
    ]
    return sorted((b for b in found if b.function == f"{STACK}-{function}"), key=lambda b: b.started)


def deliveries(found: list[Batch], prefix: str) -> list[dict[str, Any]]:
    """Every delivery of a message whose key starts with prefix, in the order the function saw them."""
    return [r for b in found for r in b.records if key(r).startswith(prefix)]


def processed(found: list[Batch], prefix: str) -> list[str]:
    return [key(r) for r in deliveries(found, prefix) if r["outcome"] == "ok"]


def wait_for_processed(
    cloud: LocalCloud, function: str, expected: dict[str, int], timeout: float = 20
) -> list[Batch]:
    """Wait until, for each key prefix, that many messages were processed successfully."""

    def probe() -> list[Batch] | None:
        found = batches(cloud, function)
        done = all(len(processed(found, prefix)) >= count for prefix, count in expected.items())
        return found if done else None

    return wait_until(probe, timeout=timeout, what=f"{function} to process {expected}", interval=0.25)


# --- FIFO ------------------------------------------------------------------------------------------
def test_fifo_keeps_the_order_of_every_group(cloud: LocalCloud, sent: Sent) -> None:
    found = wait_for_processed(
        cloud, "LaneRecorder", {g + "/": ORDER_MESSAGES_PER_GROUP for g in ORDER_GROUPS}
    )
    for group in ORDER_GROUPS:
        expected = [f"{group}/{n}" for n in range(ORDER_MESSAGES_PER_GROUP)]
        assert processed(found, group + "/") == expected
        assert [key(r) for r in deliveries(found, group + "/")] == expected  # each delivered exactly once
        assert {r["id"] for r in deliveries(found, group + "/")} == {sent.ids[k] for k in expected}


def test_fifo_never_has_two_batches_of_one_group_in_flight(cloud: LocalCloud, sent: Sent) -> None:
    found = wait_for_processed(
        cloud, "LaneRecorder", {g + "/": ORDER_MESSAGES_PER_GROUP for g in ORDER_GROUPS}
    )
    assert len(found) >= 10
    overlaps = [
        (a.groups & b.groups, a.started, a.ended, b.started)
        for i, a in enumerate(found)
        for b in found[i + 1 :]
        if a.groups & b.groups and b.started < a.ended
    ]
    assert overlaps == []
    # the pollers did run batches of different groups side by side, so the absence above means something
    assert any(b.started < a.ended for i, a in enumerate(found) for b in found[i + 1 :])


def test_fifo_batch_size_is_respected(cloud: LocalCloud, sent: Sent) -> None:
    found = wait_for_processed(
        cloud, "LaneRecorder", {g + "/": ORDER_MESSAGES_PER_GROUP for g in ORDER_GROUPS}
    )
    sizes = Counter(len(b.records) for b in found)
    assert max(sizes) == LANE_BATCH_SIZE, sizes


def test_fifo_partial_failure_returns_only_the_failed_message_and_the_rest_of_its_group(
    cloud: LocalCloud, sent: Sent
) -> None:
    expected = {"partial-p/": PARTIAL_MESSAGES_PER_GROUP, "partial-q/": PARTIAL_MESSAGES_PER_GROUP}
    found = wait_for_processed(cloud, "LaneRecorder", expected)
    failing = next(b for b in found if any(key(r) == "partial-p/0" for r in b.records))
    assert [key(r) for r in failing.records] == ["partial-p/0", "partial-q/0", "partial-p/1", "partial-q/1"]
    assert [r["outcome"] for r in failing.records] == ["failed", "ok", "skipped", "ok"]
    failed_and_after = {"partial-p/0", "partial-p/1"}
    # the same batch held messages of other groups that succeeded: they must not come back
    others = [
        r
        for r in failing.records
        if r["group"] != "partial-p" and not {"fail", "fail_until"} & set(r["body"])
    ]
    assert others
    assert all(r["outcome"] == "ok" for r in others)
    times = Counter(key(r) for r in deliveries(found, "partial-"))
    assert all(times[key(r)] == 1 for r in others)
    assert {k for k, n in times.items() if n > 1} == failed_and_after
    assert all(times[k] == 2 for k in failed_and_after)
    assert all(n == 1 for k, n in times.items() if k not in failed_and_after)
    assert processed(found, "partial-p/") == [f"partial-p/{n}" for n in range(PARTIAL_MESSAGES_PER_GROUP)]
    assert processed(found, "partial-q/") == [f"partial-q/{n}" for n in range(PARTIAL_MESSAGES_PER_GROUP)]


def test_failed_message_comes_back_only_after_the_visibility_timeout(cloud: LocalCloud, sent: Sent) -> None:
    found = wait_for_processed(cloud, "LaneRecorder", {"partial-p/": PARTIAL_MESSAGES_PER_GROUP})
    seen = [(b.started, r) for b in found for r in b.records if key(r) == "partial-p/0"]
    assert [r["receiveCount"] for _, r in seen] == [1, 2]
    assert [r["outcome"] for _, r in seen] == ["failed", "ok"]
    # from the first receive (SQS's own timestamp, in ms) to the batch that got it again
    gap = seen[1][0] - seen[1][1]["firstReceived"]
    assert VISIBILITY_TIMEOUT - 0.01 <= gap <= VISIBILITY_TIMEOUT + 2, gap


def test_message_that_keeps_failing_moves_to_the_dlq_after_max_receive_count(
    cloud: LocalCloud, sent: Sent
) -> None:
    sqs = aws(cloud, "sqs")

    def dead_letters() -> list[dict[str, Any]] | None:
        got = sqs.receive_message(QueueUrl=sent.dlq_url, MaxNumberOfMessages=10, AttributeNames=["All"])
        return got.get("Messages") or None

    moved = wait_until(dead_letters, timeout=20, what="the poison message in the DLQ", interval=0.25)
    assert [json.loads(m["Body"]) for m in moved] == [{"key": "poison/0", "fail": "always"}]
    assert moved[0]["MessageId"] == sent.ids["poison/0"]
    found = batches(cloud, "LaneRecorder")
    poison = deliveries(found, "poison/")
    assert [(r["receiveCount"], r["outcome"]) for r in poison] == [(1, "failed"), (2, "failed")]
    assert processed(found, "after-poison/") == ["after-poison/0"]  # another group kept flowing
    attributes = sqs.get_queue_attributes(QueueUrl=sent.lane_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


# --- standard queue --------------------------------------------------------------------------------
def test_standard_queue_delivers_everything_in_batches_and_retries_only_the_failure(
    cloud: LocalCloud, sent: Sent
) -> None:
    found = wait_for_processed(cloud, "PlainRecorder", {"plain/": PLAIN_MESSAGES})
    assert sorted(processed(found, "plain/")) == sorted(f"plain/{n}" for n in range(PLAIN_MESSAGES))
    times = Counter(key(r) for r in deliveries(found, "plain/"))
    assert {k for k, n in times.items() if n != 1} == {"plain/7"}
    assert times["plain/7"] == 2
    assert max(len(b.records) for b in found) == PLAIN_BATCH_SIZE
    assert {r["source"] for b in found for r in b.records} == {
        f"arn:aws:sqs:us-east-1:123456789012:{STACK}-PlainQueue"
    }
    retried = [(b.started, r) for b in found for r in b.records if key(r) == "plain/7"]
    assert retried[1][0] - retried[1][1]["firstReceived"] >= VISIBILITY_TIMEOUT - 0.01
