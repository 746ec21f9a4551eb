"""A function's Kinesis put wakes the stream's mappings as it lands, not at their next idle poll."""

from __future__ import annotations

import time

import pytest

from localcloud import pollers
from localcloud.cloud import LocalCloud
from localcloud.pollers import ShardSignal, StreamSignals
from tests.localcloud.support import FIXTURES, STACK, invocations, running_cloud, wait_until

TEMPLATE = FIXTURES / "kinesis_put" / "template.yaml"


def deliveries(cloud: LocalCloud) -> list[tuple[float, list[str]]]:
    """(when the batch's invocation started, its records' data) of every batch the reader got."""
    return [(i.started, [r["data"] for r in i.records]) for i in invocations(cloud, "Reader")]


def test_a_put_is_delivered_while_the_function_that_put_it_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Idle polls a minute apart: only the put's notice can bring the records to the reader in time.
    monkeypatch.setattr(pollers, "KINESIS_IDLE_SLEEP_SECONDS", 60.0)
    monkeypatch.setattr(pollers, "KINESIS_FOLLOWER_IDLE_SECONDS", 60.0)
    with running_cloud(TEMPLATE) as cloud:
        cloud.invoke(f"{STACK}-Putter", {"data": ["first"]})
        wait_until(lambda: deliveries(cloud), timeout=20, what="the first record delivered")
        time.sleep(1)  # the reader reads again after a notice that raced its first read, then idles
        returned = cloud.invoke(f"{STACK}-Putter", {"data": ["second", "third"], "hold": 4})["returned"]
        got = deliveries(cloud)
    assert [data for _, data in got] == [["first"], ["second", "third"]]
    assert got[1][0] < returned  # read and delivered during the putter's four-second hold


def test_a_notice_wakes_every_shard_of_its_stream_and_no_other() -> None:
    signals = StreamSignals()
    a0, a0_leads = signals.join("a", "shard-0")
    a0_again, a0_again_leads = signals.join("a", "shard-0")
    a1, _ = signals.join("a", "shard-1")
    b0, _ = signals.join("b", "shard-0")
    assert a0 is a0_again and a0_leads and not a0_again_leads  # the first mapping of a shard leads it
    before = {s: s.generation for s in (a0, a1, b0)}
    signals.put("a")
    assert a0.generation == before[a0] + 1 and a1.generation == before[a1] + 1
    assert b0.generation == before[b0]


def test_a_leader_is_not_woken_by_its_own_notice_but_is_by_a_put_s() -> None:
    signal = ShardSignal()
    seen = signal.announce(signal.generation)
    assert signal.wait(seen, timeout=0.01) == seen  # its own notice does not end its idle wait

    seen = signal.generation
    signal.notify()  # a put announced between the leader's read and its own notice
    after = signal.announce(seen)
    assert after == seen
    assert signal.wait(after, timeout=10) != seen  # at once: the put's records may postdate its read
