"""The matching use case: apply a ticker's commands to its event-sourced book, commit, then publish."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from tradestream.contracts import MatchingBatchV1
from tradestream.lane.ports import BookLog, BookViewStore, EventPublisher, SnapshotStore
from tradestream.lane.state import Command, LogEntry, TickerLane
from tradestream.money import lots_to_quantity, ticks_to_price, to_str
from tradestream.observability import logger as log

VIEW_DEPTH = 100
_COMMIT_ATTEMPTS = 3
REPAIRS_PER_BATCH = 10  # views of other tickers written again after a lane batch, at most
CATCH_UP_READS = 20


# One view write at a time per ticker, and a lane batch holds at most ten tickers.
_DERIVED = ThreadPoolExecutor(max_workers=10, thread_name_prefix="book-view")


@dataclass(frozen=True)
class Committed:
    """A ticker's part of a lane batch once its log is settled: the entries to publish (redelivered
    ones first, in seq order) and the view/snapshot writes running beside the publish."""

    ticker: str
    lane: TickerLane
    entries: list[LogEntry]
    derived: Future[None] | None
    redelivery: bool  # nothing fresh was matched: the batch came back

    def records(self) -> list[MatchingBatchV1]:
        return [record for entry in self.entries for record in entry.records()]


class LaneConflict(Exception):
    """Another writer kept taking the next seq of this ticker: retry the messages later."""


class MatchingService:
    """Keeps each ticker's lane warm between invocations; the log, not this cache, is the truth."""

    def __init__(
        self,
        *,
        log: BookLog,
        snapshots: SnapshotStore,
        views: BookViewStore,
        publisher: EventPublisher,
        snapshot_every: int,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._log = log
        self._snapshots = snapshots
        self._views = views
        self._publisher = publisher
        self._snapshot_every = max(1, snapshot_every)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lanes: dict[str, TickerLane] = {}
        self._stale_views: set[str] = set()  # tickers whose view write failed in this container

    def lane(self, ticker: str) -> TickerLane:
        lane = self._lanes.get(ticker)
        if lane is None:
            lane = self._load(ticker)
            self._lanes[ticker] = lane
        return lane

    def _load(self, ticker: str) -> TickerLane:
        snapshot = self._snapshots.latest(ticker)
        lane = TickerLane.restore(ticker, snapshot) if snapshot else TickerLane(ticker=ticker)
        for entry in self._log.entries_after(ticker, lane.head):
            lane.replay(entry)
        return lane

    def process(self, ticker: str, commands: list[Command]) -> None:
        """Apply, commit, publish one ticker's commands. Raises on any failure; the caller retries them."""
        committed = self.commit(ticker, commands)
        published = False
        try:
            self._publisher.publish(committed.records())
            published = True
        finally:
            self.settle(committed, published=published)

    def process_batch(self, committed: list[Committed]) -> set[str]:
        """Publish the committed tickers of one lane batch together: one stream call per entry depth
        (usually one call for the whole batch, against one per ticker). Returns the tickers whose
        entries did not all reach the stream; their messages must be retried."""
        unpublished: set[str] = set()
        try:
            entries = {c.ticker: c.records() for c in committed if c.entries}
            unpublished = self._publisher.publish_tickers(entries)
        except Exception:
            log.exception("the batch's entries were not published; every ticker of it will be retried")
            unpublished = {c.ticker for c in committed}
        finally:
            for c in committed:
                self.settle(c, published=c.ticker not in unpublished)
        self.repair_views(skip={c.ticker for c in committed})
        return unpublished

    def repair_views(self, *, skip: set[str]) -> None:
        """Write again the views this container failed to write, of tickers other than `skip`: when the
        failed write was a ticker's last commit, its view would otherwise wait for the ticker's next
        order (found by the throttling fault test). The put is guarded by seq, so a lane that another
        container has since moved past can only be refused, never regress the view."""
        # Read here, on the invocation's thread: every view write of the batch was waited for (settle).
        # A ticker is stale only after this container wrote its view, so its lane is cached here.
        stale = sorted(self._stale_views - skip)[:REPAIRS_PER_BATCH]
        # Side by side, as the batch's own view writes are; never more than a batch's worth of puts.
        lanes = [self._lanes[ticker] for ticker in stale]
        repairs = [_DERIVED.submit(self._save_view, lane, lane.head) for lane in lanes]
        for repair in repairs:
            repair.result()  # never raises

    def commit(self, ticker: str, commands: list[Command]) -> Committed:
        """Apply and commit a ticker's fresh commands; its redelivered ones are looked up, never
        matched twice. Raises on failure (nothing of the ticker is then committed by this call)."""
        for _ in range(_COMMIT_ATTEMPTS):
            lane = self.lane(ticker)
            fresh: list[Command] = []
            repeats: set[int] = set()
            for command in commands:
                seq = lane.seen(command.command_id)
                if seq is None:
                    fresh.append(command)
                else:
                    repeats.add(seq)
            # A redelivered command was committed before: publish its entry again, never match it twice.
            entries = [self._committed(ticker, seq) for seq in sorted(repeats)]
            derived: Future[None] | None = None
            if fresh:
                entry = self._commit(lane, fresh)
                if entry is None:
                    continue
                entries.append(entry)
                # The view and snapshot do not wait for the stream, nor it for them: one round trip
                # less on every order's way to its final status.
                derived = _DERIVED.submit(self._after_commit, lane, entry)
            return Committed(ticker, lane, entries, derived, redelivery=not fresh)
        raise LaneConflict(f"{ticker}: the log head kept moving under us")

    def settle(self, committed: Committed, *, published: bool) -> None:
        """Wait for the ticker's view and snapshot writes (before the lane serves its next batch)."""
        if committed.derived is not None:
            committed.derived.result()  # never raises
        ticker = committed.ticker
        if published and committed.redelivery and (committed.entries or ticker in self._stale_views):
            # A redelivery: the worker that committed may have died before it wrote the view (found
            # by the chaos run: the book view stayed one entry behind the log until the next order).
            self._save_view(committed.lane, committed.lane.head)

    def _committed(self, ticker: str, seq: int) -> LogEntry:
        entry = self._log.get(ticker, seq)
        if entry is None:
            raise LookupError(f"{ticker}: log entry {seq} is missing")
        return entry

    def _commit(self, lane: TickerLane, commands: list[Command]) -> LogEntry | None:
        # apply() changes the cached book in place; if the put is refused, this is the book to catch up
        # from (~1 ms for a few hundred resting orders, against a reload that reads the snapshot and
        # every entry after it).
        before = lane.snapshot()
        entry = lane.apply(commands, now=self._clock())
        try:
            committed = self._log.append(entry)
        except Exception:
            # Whether the put landed is unknown: back to the committed state, and the retry's put (or
            # its catch-up, if it did land) finds out.
            self._lanes[lane.ticker] = TickerLane.restore(lane.ticker, before)
            raise
        if not committed:
            log.warning("%s: seq %d was taken by another writer; catching up", lane.ticker, entry.seq)
            self._lanes[lane.ticker] = self._catch_up(TickerLane.restore(lane.ticker, before))
            return None
        log.info(
            "log entry committed",
            extra={
                "ticker": lane.ticker,
                "seq": entry.seq,
                "commands": len(commands),
                "events": len(entry.events),
            },
        )
        return entry

    def _catch_up(self, lane: TickerLane) -> TickerLane:
        """Replay the entries other writers committed after our head: one GetItem each, usually one or two
        (another container took the ticker's last batches); far behind, a reload reads them in one go."""
        for _ in range(CATCH_UP_READS):
            entry = self._log.get(lane.ticker, lane.head + 1)
            if entry is None:
                return lane
            lane.replay(entry)
        return self._load(lane.ticker)

    def _save_view(self, lane: TickerLane, seq: int) -> None:
        try:
            bids, asks = lane.book.depth(VIEW_DEPTH)
            self._views.save(lane.ticker, seq, _levels(bids), _levels(asks))
        except Exception:
            log.exception("%s: book view not saved at seq %d", lane.ticker, seq)
            self._stale_views.add(lane.ticker)
        else:
            self._stale_views.discard(lane.ticker)

    def _after_commit(self, lane: TickerLane, entry: LogEntry) -> None:
        """The view and snapshots are derived data: failing them never fails the committed batch."""
        self._save_view(lane, entry.seq)
        if entry.seq % self._snapshot_every == 0:
            try:
                self._snapshots.save(lane.ticker, lane.snapshot())
            except Exception:
                log.exception("%s: snapshot not saved at seq %d", lane.ticker, entry.seq)


def _levels(levels: list[tuple[int, int, int]]) -> list[tuple[str, str, int]]:
    return [(to_str(ticks_to_price(p)), to_str(lots_to_quantity(q)), n) for p, q, n in levels]
