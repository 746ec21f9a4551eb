"""The book view catches up with the log on a redelivery (found by `make chaos`).

A matching worker killed right after its commit never wrote the view; the redelivered batch only
republishes the committed entry, and the view stayed one entry behind the log until the ticker's next
order. A view write that failed (throttled) is retried by the container's next batch, of that ticker
or any other.
"""

from __future__ import annotations

from tests.fakes.lane import (
    InMemoryBookLog,
    InMemoryBookViewStore,
    InMemorySnapshotStore,
    RecordingPublisher,
)
from tests.unit.lane.builders import NOW, TICKER, place
from tradestream.lane.service import MatchingService
from tradestream.lane.state import Command
from tradestream.matching import Side


class Died(Exception):
    """The worker dying between the commit and the view write."""


def service(log: InMemoryBookLog, views: InMemoryBookViewStore) -> MatchingService:
    return MatchingService(
        log=log,
        snapshots=InMemorySnapshotStore(),
        views=views,
        publisher=RecordingPublisher(),
        snapshot_every=100,
        clock=lambda: NOW,
    )


def test_a_redelivered_batch_writes_the_view_its_committer_never_wrote() -> None:
    log, views = InMemoryBookLog(), InMemoryBookViewStore()
    commands: list[Command] = [
        place("o1", Side.SELL, "5", "10"),
        place("o2", Side.BUY, "2", "10", user="ben"),
    ]
    dying = service(log, views)
    views.fail = True  # stands for the worker dying after the log put: the view is never written
    dying.process(TICKER, commands)
    views.fail = False
    assert log.seqs(TICKER) == [1] and views.get(TICKER) is None

    service(log, views).process(TICKER, commands)  # the redelivery, in a fresh container

    view = views.get(TICKER)
    assert view is not None and view[0] == 1
    assert view[2] == [("10", "3", 1)]  # the rest of o1 on the ask


def test_a_failed_view_write_is_retried_by_the_next_batch_of_that_ticker() -> None:
    log, views = InMemoryBookLog(), InMemoryBookViewStore()
    matching = service(log, views)
    views.fail = True
    matching.process(TICKER, [place("o1", Side.SELL, "5", "10")])
    views.fail = False

    matching.process(TICKER, [place("o1", Side.SELL, "5", "10")])  # a duplicate delivery of it

    view = views.get(TICKER)
    assert view is not None and view[0] == 1


def test_a_failed_view_write_is_retried_by_the_next_batch_of_another_ticker() -> None:
    """The failed write was the ticker's last commit: the lane's next batch, whatever its tickers,
    writes it (found by the throttling fault test: the view stayed one entry behind the log)."""
    log, views = InMemoryBookLog(), InMemoryBookViewStore()
    matching = service(log, views)
    views.fail = True
    matching.process_batch([matching.commit(TICKER, [place("o1", Side.SELL, "5", "10")])])
    views.fail = False
    assert views.get(TICKER) is None

    matching.process_batch([matching.commit("OTHER", [place("o2", Side.BUY, "1", "9", ticker="OTHER")])])

    view = views.get(TICKER)
    assert view is not None and view[0] == 1 and view[2] == [("10", "5", 1)]
    other = views.get("OTHER")
    assert other is not None and other[1] == [("9", "1", 1)]


def test_a_stale_view_is_not_written_back_over_a_newer_one() -> None:
    """Another container moved the ticker on and wrote its view: the retry is refused by seq, and
    not tried again by the batches after."""
    log, views = InMemoryBookLog(), InMemoryBookViewStore()
    first = service(log, views)
    views.fail = True
    first.process_batch([first.commit(TICKER, [place("o1", Side.SELL, "5", "10")])])
    views.fail = False
    second = service(log, views)
    second.process_batch([second.commit(TICKER, [place("o3", Side.SELL, "2", "11")])])

    first.process_batch([first.commit("OTHER", [place("o2", Side.BUY, "1", "9", ticker="OTHER")])])
    first.process_batch([first.commit("OTHER", [place("o4", Side.BUY, "1", "9", ticker="OTHER")])])

    assert [seq for ticker, seq in views.attempts if ticker == TICKER] == [1, 2, 1]  # the one retry
    view = views.get(TICKER)
    assert view is not None and view[0] == 2 and view[2] == [("10", "5", 1), ("11", "2", 1)]


def test_a_view_that_fails_again_is_tried_again_by_the_next_batch() -> None:
    log, views = InMemoryBookLog(), InMemoryBookViewStore()
    matching = service(log, views)
    views.fail = True
    matching.process_batch([matching.commit(TICKER, [place("o1", Side.SELL, "5", "10")])])
    matching.process_batch([matching.commit("OTHER", [place("o2", Side.BUY, "1", "9", ticker="OTHER")])])
    views.fail = False

    matching.process_batch([matching.commit("OTHER", [place("o4", Side.BUY, "1", "9", ticker="OTHER")])])

    assert [seq for ticker, seq in views.attempts if ticker == TICKER] == [1, 1, 1]
    view = views.get(TICKER)
    assert view is not None and view[0] == 1
