"""MatchingService on in-memory ports: commit then publish, redelivery, conflicts, cold starts, snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.fakes.lane import (
    InMemoryBookLog,
    InMemoryBookViewStore,
    InMemorySnapshotStore,
    PublishRefused,
    RecordingPublisher,
    StoreDown,
)
from tests.unit.lane.builders import NOW, TICKER, cancel, place
from tradestream.contracts import MatchingBatchV1, OrderUpdatedV1, TradeExecutedV1
from tradestream.lane.service import CATCH_UP_READS, LaneConflict, MatchingService
from tradestream.lane.state import Command, LogEntry
from tradestream.matching import OrderStatus


@dataclass
class Stores:
    """What every matching Lambda shares: the log, snapshots, the view and the stream."""

    log: InMemoryBookLog = field(default_factory=InMemoryBookLog)
    snapshots: InMemorySnapshotStore = field(default_factory=InMemorySnapshotStore)
    views: InMemoryBookViewStore = field(default_factory=InMemoryBookViewStore)
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)

    def service(self, snapshot_every: int = 100) -> MatchingService:
        """A matching Lambda instance: its own warm cache over the shared stores."""
        return MatchingService(
            log=self.log,
            snapshots=self.snapshots,
            views=self.views,
            publisher=self.publisher,
            snapshot_every=snapshot_every,
            clock=lambda: NOW,
        )


@pytest.fixture
def stores() -> Stores:
    return Stores()


def statuses(batches: list[MatchingBatchV1]) -> list[tuple[str, OrderStatus]]:
    return [(e.order_id, e.status) for b in batches for e in b.events if isinstance(e, OrderUpdatedV1)]


def trades(batches: list[MatchingBatchV1]) -> list[tuple[str, str, str]]:
    return [
        (e.maker_order_id, e.taker_order_id, str(e.quantity))
        for b in batches
        for e in b.events
        if isinstance(e, TradeExecutedV1)
    ]


CROSSING: list[Command] = [place("s1", "SELL", "1", "10"), place("b1", "BUY", "1", "10", user="ben")]


def test_a_batch_is_one_log_entry_committed_before_it_is_published(stores: Stores) -> None:
    seen_in_log: list[list[int]] = []

    class CheckingPublisher(RecordingPublisher):
        def publish(self, batches: list[MatchingBatchV1]) -> None:
            seen_in_log.append(stores.log.seqs(TICKER))  # what was committed when the stream got it
            super().publish(batches)

    stores.publisher = CheckingPublisher()
    stores.service().process(TICKER, CROSSING)

    assert stores.log.seqs(TICKER) == [1]
    assert seen_in_log == [[1]]
    entry = stores.log.get(TICKER, 1)
    assert entry is not None
    assert entry.commands == CROSSING
    assert [b.model_dump(by_alias=True) for b in stores.publisher.records] == [
        entry.published().model_dump(by_alias=True)
    ]
    assert statuses(stores.publisher.records) == [
        ("s1", OrderStatus.NEW),
        ("s1", OrderStatus.FILLED),
        ("b1", OrderStatus.FILLED),
    ]
    assert stores.publisher.event_ids() == ["ACME:1:0", "ACME:1:1", "ACME:1:2", "ACME:1:3"]


def test_a_publish_failure_raises_and_the_redelivery_republishes_without_matching_again(
    stores: Stores,
) -> None:
    service = stores.service()
    stores.publisher.fail_next = 1
    with pytest.raises(PublishRefused):
        service.process(TICKER, CROSSING)
    assert stores.log.seqs(TICKER) == [1]  # committed: the match happened once
    assert stores.publisher.records == []

    service.process(TICKER, CROSSING)  # SQS redelivers the same messages

    assert stores.log.seqs(TICKER) == [1]
    assert stores.log.appends == 1
    committed = stores.log.get(TICKER, 1)
    assert committed is not None
    assert stores.publisher.records == [committed.published()]
    assert trades(stores.publisher.records) == [("s1", "b1", "1")]
    assert len(service.lane(TICKER).book) == 0


def test_a_redelivery_on_another_instance_republishes_the_logged_entry(stores: Stores) -> None:
    stores.publisher.fail_next = 1
    with pytest.raises(PublishRefused):
        stores.service().process(TICKER, CROSSING)

    stores.service().process(TICKER, CROSSING)  # a cold instance gets the redelivery

    assert stores.log.appends == 1
    assert stores.publisher.event_ids() == ["ACME:1:0", "ACME:1:1", "ACME:1:2", "ACME:1:3"]


def test_a_redelivery_with_new_commands_republishes_then_commits_the_new_ones(stores: Stores) -> None:
    service = stores.service()
    service.process(TICKER, [place("s1", "SELL", "2", "10")])
    service.process(TICKER, [place("s1", "SELL", "2", "10"), place("b1", "BUY", "2", "10", user="ben")])

    assert stores.log.seqs(TICKER) == [1, 2]
    assert [b.seq for b in stores.publisher.records] == [1, 1, 2]
    assert trades(stores.publisher.records) == [("s1", "b1", "2")]
    entry = stores.log.get(TICKER, 2)
    assert entry is not None and entry.commands == [place("b1", "BUY", "2", "10", user="ben")]


def test_a_conflict_on_the_append_catches_up_and_retries_on_the_next_seq(stores: Stores) -> None:
    warm = stores.service()
    warm.process(TICKER, [place("s1", "SELL", "1", "10")])
    other = stores.service()  # a second instance, cold: it will load seq 1

    # While `warm` appends seq 2, the other instance commits seq 2 first: a resting sell at 9.
    stores.log.before_append = lambda _entry: other.process(
        TICKER, [place("s2", "SELL", "1", "9", user="cat")]
    )
    warm.process(TICKER, [place("b1", "BUY", "1", "10", user="ben")])

    assert stores.log.refused == 1
    assert stores.log.seqs(TICKER) == [1, 2, 3]
    retried = stores.log.get(TICKER, 3)
    assert retried is not None
    assert retried.commands == [place("b1", "BUY", "1", "10", user="ben")]
    # Matched against the caught-up book: the better-priced sell the other writer added.
    assert trades([retried.published()]) == [("s2", "b1", "1")]
    assert [b.seq for b in stores.publisher.records] == [1, 2, 3]
    assert warm.lane(TICKER).book == stores.service().lane(TICKER).book
    # warm read the entry it missed by its key: the only range reads are the three cold starts
    assert stores.log.reads_after == [(TICKER, 0)] * 3


def test_a_writer_far_behind_reloads_instead_of_reading_entry_by_entry(stores: Stores) -> None:
    warm = stores.service()
    warm.process(TICKER, [place("s1", "SELL", "1", "10")])
    other = stores.service()

    def race(_entry: LogEntry) -> None:
        for n in range(CATCH_UP_READS + 5):
            other.process(TICKER, [place(f"r{n}", "SELL", "1", str(20 + n), user="cat")])

    stores.log.before_append = race
    warm.process(TICKER, [place("b1", "BUY", "1", "10", user="ben")])

    assert stores.log.seqs(TICKER) == list(range(1, CATCH_UP_READS + 8))
    assert warm.lane(TICKER).book == stores.service().lane(TICKER).book
    assert stores.log.reads_after[2:] == [(TICKER, 0), (TICKER, 0)]  # warm's reload, then the check's


def test_a_conflict_with_a_writer_that_committed_the_same_commands_republishes_its_entry(
    stores: Stores,
) -> None:
    warm = stores.service()
    warm.process(TICKER, [place("s1", "SELL", "1", "10")])
    other = stores.service()
    crossing: list[Command] = [place("b1", "BUY", "1", "10", user="ben")]
    stores.log.before_append = lambda _entry: other.process(TICKER, crossing)  # same message, twice
    warm.process(TICKER, crossing)

    assert stores.log.seqs(TICKER) == [1, 2]
    assert [b.seq for b in stores.publisher.records] == [1, 2, 2]
    assert trades(stores.publisher.records) == [("s1", "b1", "1"), ("s1", "b1", "1")]  # one trade, twice
    assert stores.publisher.records[1] == stores.publisher.records[2]


def test_a_log_head_that_keeps_moving_gives_up_with_lane_conflict(stores: Stores) -> None:
    class AlwaysTaken(InMemoryBookLog):
        def append(self, entry: LogEntry) -> bool:
            self.refused += 1
            return False

    stores.log = AlwaysTaken()
    with pytest.raises(LaneConflict):
        stores.service().process(TICKER, [place("s1", "SELL", "1", "10")])
    assert stores.log.refused == 3
    assert stores.publisher.records == []


def test_a_failed_append_drops_the_cached_book_so_nothing_uncommitted_survives(stores: Stores) -> None:
    class FailsOnce(InMemoryBookLog):
        failed = False

        def append(self, entry: LogEntry) -> bool:
            if not self.failed:
                self.failed = True
                raise StoreDown("throttled")
            return super().append(entry)

    stores.log = FailsOnce()
    service = stores.service()
    with pytest.raises(StoreDown):
        service.process(TICKER, [place("s1", "SELL", "1", "10")])
    service.process(TICKER, [place("s1", "SELL", "1", "10")])  # the retry matches it, once

    assert stores.log.seqs(TICKER) == [1]
    assert statuses(stores.publisher.records) == [("s1", OrderStatus.NEW)]
    assert service.lane(TICKER).head == 1


def test_a_cold_start_restores_the_newest_snapshot_and_replays_the_entries_after_it(stores: Stores) -> None:
    warm = stores.service(snapshot_every=2)
    warm.process(TICKER, [place("s1", "SELL", "5", "10"), place("s2", "SELL", "1", "11")])
    warm.process(TICKER, [place("b1", "BUY", "2", "10", user="ben")])
    warm.process(TICKER, [cancel("s2"), place("b2", "BUY", "1", "9", user="ben")])
    assert stores.snapshots.head(TICKER) == 2
    stores.log.reads_after.clear()

    cold = stores.service(snapshot_every=2)
    lane = cold.lane(TICKER)

    assert stores.log.reads_after == [(TICKER, 2)]  # only the entries after the snapshot were read
    assert lane.head == 3
    assert lane.book == warm.lane(TICKER).book
    assert lane.recent == warm.lane(TICKER).recent
    # And a resting order placed before the cold start still matches.
    cold.process(TICKER, [place("x1", "BUY", "3", "10", user="cat")])
    assert trades(stores.publisher.records[-1:]) == [("s1", "x1", "3")]


def test_a_cold_start_without_a_snapshot_replays_the_whole_log(stores: Stores) -> None:
    stores.service().process(TICKER, [place("s1", "SELL", "5", "10")])
    stores.log.reads_after.clear()
    cold = stores.service()
    assert cold.lane(TICKER).head == 1
    assert stores.log.reads_after == [(TICKER, 0)]
    assert cold.lane(TICKER).book.depth(1) == ([], [(100_000, 5_000_000, 1)])


def test_a_snapshot_is_written_every_n_entries(stores: Stores) -> None:
    service = stores.service(snapshot_every=2)
    heads = []
    for i in range(5):
        service.process(TICKER, [place(f"s{i}", "SELL", "1", "10")])
        heads.append(stores.snapshots.head(TICKER))
    assert heads == [None, 2, 2, 4, 4]
    assert stores.snapshots.saves == 2


def test_the_book_view_is_saved_after_each_commit(stores: Stores) -> None:
    service = stores.service()
    service.process(
        TICKER,
        [
            place("s1", "SELL", "1.5", "10.25"),
            place("s2", "SELL", "2", "10.25", user="ben"),
            place("s3", "SELL", "1", "11"),
            place("b1", "BUY", "0.5", "9.5", user="cat"),
        ],
    )
    assert stores.views.get(TICKER) == (1, [("9.5", "0.5", 1)], [("10.25", "3.5", 2), ("11", "1", 1)])
    service.process(TICKER, [place("b2", "BUY", "3.5", "10.25", user="cat")])
    assert stores.views.get(TICKER) == (2, [("9.5", "0.5", 1)], [("11", "1", 1)])


def test_failing_derived_writes_never_fail_a_committed_batch(stores: Stores) -> None:
    stores.views.fail = True
    stores.snapshots.fail = True
    stores.service(snapshot_every=1).process(TICKER, CROSSING)
    assert stores.log.seqs(TICKER) == [1]
    assert [b.seq for b in stores.publisher.records] == [1]


def test_tickers_have_separate_books_and_logs(stores: Stores) -> None:
    service = stores.service()
    service.process(TICKER, [place("s1", "SELL", "1", "10")])
    service.process("OTHER", [place("b1", "BUY", "1", "10", ticker="OTHER", user="ben")])
    assert stores.log.seqs(TICKER) == [1]
    assert stores.log.seqs("OTHER") == [1]
    assert trades(stores.publisher.records) == []
    assert [(b.ticker, b.seq) for b in stores.publisher.records] == [(TICKER, 1), ("OTHER", 1)]
