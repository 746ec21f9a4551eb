"""Property: redeliveries, stream outages, cold starts and a second writer never match a command twice.

A driver plays SQS FIFO for one ticker: it hands the matching use case batches of up to ten commands
in lane order; when a batch fails (the stream refused it) the same messages come back first, maybe
with newer ones behind them; between batches the Lambda may be recycled (a cold start from the
snapshot and the log), or a second instance may commit the same messages first. Whatever happens,
the log holds every command exactly once in lane order, every committed entry reaches the stream
(republished identically when redelivered), and the book a cold start rebuilds is the live one.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.lane import (
    InMemoryBookLog,
    InMemoryBookViewStore,
    InMemorySnapshotStore,
    PublishRefused,
    RecordingPublisher,
)
from tests.unit.lane.builders import NOW, TICKER, cancel, place
from tradestream.contracts import MatchingBatchV1
from tradestream.lane.service import MatchingService
from tradestream.lane.state import Command, TickerLane
from tradestream.matching import OrderType, Side, TimeInForce


@st.composite
def commands(draw: st.DrawFn) -> list[Command]:
    out: list[Command] = []
    for i in range(draw(st.integers(1, 60))):
        if out and draw(st.integers(0, 4)) == 0:
            out.append(cancel(f"o{draw(st.integers(0, i - 1))}"))
            continue
        kind = draw(st.sampled_from(OrderType))
        out.append(
            place(
                f"o{i}",
                draw(st.sampled_from(Side)),
                str(draw(st.integers(1, 5))),
                None if kind is OrderType.MARKET else str(draw(st.integers(98, 102))),
                user=draw(st.sampled_from(["ann", "ben", "cat"])),
                order_type=kind,
                tif=draw(st.sampled_from(TimeInForce)),
            )
        )
    # Cancels of ids never placed are dropped: unique command ids, as the orders API makes them.
    seen: set[str] = set()
    unique: list[Command] = []
    for command in out:
        if command.command_id not in seen:
            seen.add(command.command_id)
            unique.append(command)
    return unique


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=commands(), data=st.data())
def test_the_log_and_the_stream_survive_redelivery_outages_and_cold_starts(
    stream: list[Command], data: st.DataObject
) -> None:
    log, snapshots, views, publisher = (
        InMemoryBookLog(),
        InMemorySnapshotStore(),
        InMemoryBookViewStore(),
        RecordingPublisher(),
    )
    every = data.draw(st.integers(1, 4), label="snapshot_every")

    def instance() -> MatchingService:
        return MatchingService(
            log=log,
            snapshots=snapshots,
            views=views,
            publisher=publisher,
            snapshot_every=every,
            clock=lambda: NOW,
        )

    service = instance()
    queue = list(stream)  # SQS: the messages not yet deleted, in group order
    outages_in_a_row = 0
    while queue:
        size = data.draw(st.integers(1, 10), label="batch size")
        batch = queue[:size]
        # Outages end: at most two refusals in a row (Kinesis throttling, not a dead stream).
        if outages_in_a_row < 2 and data.draw(st.integers(0, 4), label="outage") == 0:
            publisher.fail_next = 1
            outages_in_a_row += 1
        else:
            outages_in_a_row = 0
        if data.draw(st.integers(0, 5), label="cold start") == 0:
            service = instance()
        if data.draw(st.integers(0, 5), label="second writer") == 0:
            # The visibility timeout ran out mid-invocation: another instance got the same messages
            # and commits them just before this one appends.
            other = instance()
            log.before_append = lambda _entry, b=batch, o=other: o.process(TICKER, b)
        try:
            service.process(TICKER, batch)
        except PublishRefused:
            continue  # nothing deleted: the same messages come first again
        del queue[:size]

    # The log: every command exactly once, in lane order, in contiguous entries.
    seqs = log.seqs(TICKER)
    assert seqs == list(range(1, len(seqs) + 1))
    entries = [log.get(TICKER, s) for s in seqs]
    logged = [c for e in entries if e is not None for c in e.commands]
    assert logged == stream

    # The stream: every entry published, and every republication identical to the first.
    published: dict[int, MatchingBatchV1] = {}
    for record in publisher.records:
        assert published.setdefault(record.seq, record) == record
    assert sorted(published) == seqs
    assert all(e is not None and published[e.seq] == e.published() for e in entries)

    # The book: a cold start rebuilds the live one, and both equal a plain replay of the log.
    reference = TickerLane(ticker=TICKER)
    for entry in entries:
        assert entry is not None
        reference.replay(entry)
    cold = instance().lane(TICKER)
    assert cold.book == reference.book == service.lane(TICKER).book
    assert cold.head == reference.head == len(seqs)
