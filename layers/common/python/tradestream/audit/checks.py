"""The invariants of ARCHITECTURE.md, checked on one reading of a deployment (pure: no I/O).

The book log is the truth. Every ticker's log is replayed from scratch with the real engine, and what
the replay implies is compared with what the rest of the system stored:

| check                   | holds when                                                                      |
|-------------------------|---------------------------------------------------------------------------------|
| data.decode             | every item of every table read decodes (a log entry that does not breaks a gap) |
| log.sequence            | a ticker's entries are 1..head without a gap, and each one decodes              |
| log.events              | the events an entry stores are the ones its commands produce when replayed      |
| log.commands_once       | no order was placed twice (a second cancel finds nothing: harmless)             |
| book.snapshot           | the snapshot equals the replayed book (and recent ids) at the snapshot's head   |
| book.view               | the live view (BookViewsTable) is at the log head and equals the replayed depth |
| orders.fills            | filledQuantity = Σ the order's trades in the log ≤ quantity                     |
| orders.status           | the status agrees with the fill, and is the last one the log reported          |
| orders.final_or_resting | a live order rests in the replayed book; a final one does not                   |
| orders.reached_lane     | no order is NEW without its command in the log (after a grace period)           |
| orders.known            | every order in the log or the book is in the orders table                       |
| journal.rows            | exactly two rows per logged trade (buyer BUY, seller SELL), and no others       |
| journal.counts          | the per-user row counts equal the rows                                          |
| positions.quantity      | position quantity = Σ BUY - Σ SELL over the journal                             |
| positions.pnl           | average cost and realized PnL = the journal replayed under weighted-average cost |
| prices.last             | the last price of a ticker is its last trade by (seq, n)                        |
| candles.ohlcv           | every candle equals its bucket's logged trades (volume, OHLC by seq, count)     |
| market.tape, market.tickers | the trade tape and the latest trade per ticker match the log                |

Dead letters and queue depths are reported as notes (or as violations, with `fail_on_dead_letters`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from tradestream.audit.dataset import (
    CandleRecord,
    Dataset,
    JournalRecord,
    LastPriceRecord,
    OrderRecord,
    SnapshotRecord,
    TapeRecord,
    ViewRecord,
)
from tradestream.contracts import OrderPlacedV1, OrderUpdatedV1, TradeExecutedV1
from tradestream.lane.service import VIEW_DEPTH
from tradestream.lane.state import LogEntry, TickerLane
from tradestream.marketdata import CandleKey, Trade, aggregate
from tradestream.matching import CorruptSnapshot, OrderBook, OrderStatus
from tradestream.money import lots_to_quantity, ticks_to_price, to_str
from tradestream.portfolio import InvalidFill, JournalRow, Position, replay_journal
from tradestream.projections.journal import TransactionRow, rows_of

ZERO = Decimal(0)
LIVE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
# Orders the API rejected because the lane refused the command never reach the log, by design.
LANE_UNAVAILABLE = "LANE_UNAVAILABLE"
Levels = list[tuple[str, str, int]]


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.detail}"


@dataclass(kw_only=True)
class Report:
    """Violations fail the audit; notes are context (dead letters, in-flight orders, queue depths)."""

    violations: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, check: str, subject: str, detail: str) -> None:
        self.violations.append(Finding(check=check, subject=subject, detail=detail))

    def note(self, check: str, subject: str, detail: str) -> None:
        self.notes.append(Finding(check=check, subject=subject, detail=detail))


@dataclass(kw_only=True)
class LogFacts:
    """What the replayed logs say: trades, each order's last update and fills, the books at the head."""

    books: dict[str, OrderBook] = field(default_factory=dict)
    trades: list[TradeExecutedV1] = field(default_factory=list)
    last_update: dict[str, OrderUpdatedV1] = field(default_factory=dict)
    filled: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    placed: dict[str, OrderPlacedV1] = field(default_factory=dict)
    replayed: set[str] = field(default_factory=set)  # tickers whose whole log replayed


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditOptions:
    grace: timedelta = timedelta(seconds=30)
    fail_on_dead_letters: bool = False


def audit(data: Dataset, options: AuditOptions | None = None) -> Report:
    """Every check on one reading; the report lists each difference."""
    options = options or AuditOptions()
    report = Report()
    facts = replay_logs(data, report)
    check_orders(data, facts, report, options)
    check_journal(data, facts, report)
    check_positions(data, report)
    check_last_prices(data, facts, report)
    check_candles(data, facts, report)
    check_market(data, facts, report)
    check_queues(data, report, options)
    return report


# --- the log and the books -----------------------------------------------------------------------------


def replay_logs(data: Dataset, report: Report) -> LogFacts:
    facts = LogFacts()
    for table, key, why in data.undecodable:
        report.fail("data.decode", f"{table} {key}", f"item does not decode: {why}")
    for ticker in sorted(set(data.log) | set(data.snapshots) | set(data.views)):
        entries = sorted(data.log.get(ticker, []), key=lambda e: e.seq)
        lane = _replay_ticker(ticker, entries, data.snapshots.get(ticker), data.views.get(ticker), report)
        facts.books[ticker] = lane.book
        if lane.head == (entries[-1].seq if entries else 0):
            facts.replayed.add(ticker)
        for entry in entries[: lane.head]:
            _collect(entry, facts)
    return facts


def _replay_ticker(
    ticker: str,
    entries: list[LogEntry],
    snapshot: SnapshotRecord | None,
    view: ViewRecord | None,
    report: Report,
) -> TickerLane:
    lane = TickerLane(ticker=ticker)
    applied: dict[str, int] = {}
    for entry in entries:
        if entry.seq != lane.head + 1:
            report.fail(
                "log.sequence", ticker, f"entry {entry.seq} follows {lane.head}: the replay stops here"
            )
            break
        _check_placed_once(entry, applied, report)
        derived = lane.apply(list(entry.commands), now=entry.committed_at)
        report.checked["log.events"] += 1
        if derived.events != entry.events:
            report.fail(
                "log.events", f"{ticker}#{entry.seq}", _first_difference(entry.events, derived.events)
            )
        if snapshot is not None and snapshot.head == entry.seq:
            _check_snapshot(lane, snapshot, report)
        if view is not None and view.seq == entry.seq:
            _check_view(lane, view, report)
    _check_heads(lane, snapshot, view, report)
    return lane


def _check_placed_once(entry: LogEntry, applied: dict[str, int], report: Report) -> None:
    for command in entry.commands:
        if not isinstance(command, OrderPlacedV1):
            continue  # a repeated cancel finds nothing to cancel: harmless, and SQS may redeliver one
        first = applied.setdefault(command.command_id, entry.seq)
        if first != entry.seq:
            report.fail(
                "log.commands_once", entry.ticker, f"{command.command_id} applied at {first} and {entry.seq}"
            )


def _check_heads(
    lane: TickerLane, snapshot: SnapshotRecord | None, view: ViewRecord | None, report: Report
) -> None:
    if snapshot is not None and snapshot.head > lane.head:
        report.fail(
            "book.snapshot", lane.ticker, f"snapshot at {snapshot.head} is past the log head {lane.head}"
        )
    if view is None:
        if lane.head:
            report.fail("book.view", lane.ticker, f"no live view for a log at {lane.head}")
    elif view.seq != lane.head:
        report.fail("book.view", lane.ticker, f"live view at seq {view.seq}, log head at {lane.head}")


def _first_difference(stored: Iterable[object], derived: Iterable[object]) -> str:
    stored_list, derived_list = list(stored), list(derived)
    for n, (a, b) in enumerate(zip(stored_list, derived_list, strict=False)):
        if a != b:
            return f"event {n} differs: stored {a!r}, replay gives {b!r}"
    return f"{len(stored_list)} events stored, the replay gives {len(derived_list)}"


def _check_snapshot(lane: TickerLane, snapshot: SnapshotRecord, report: Report) -> None:
    report.checked["book.snapshot"] += 1
    subject = f"{lane.ticker}@{snapshot.head}"
    try:
        book = OrderBook.restore(snapshot.state["book"])
        recent = [(str(k), int(v)) for k, v in snapshot.state["recent"]]
    except (CorruptSnapshot, KeyError, TypeError, ValueError) as exc:
        report.fail("book.snapshot", subject, f"snapshot does not restore: {exc}")
        return
    if int(snapshot.state.get("head", -1)) != snapshot.head:
        report.fail(
            "book.snapshot", subject, f"item head {snapshot.head}, state head {snapshot.state.get('head')}"
        )
    if book != lane.book:
        report.fail("book.snapshot", subject, f"snapshot {book!r} but the replay has {lane.book!r}")
    if recent != list(lane.recent.items()):
        report.fail("book.snapshot", subject, "recent command ids differ from the replay's")


def depth_levels(book: OrderBook, depth: int = VIEW_DEPTH) -> tuple[Levels, Levels]:
    """The book's top levels as the view stores them: (price, quantity, orders), decimals as strings."""

    def levels(side: list[tuple[int, int, int]]) -> Levels:
        return [(to_str(ticks_to_price(p)), to_str(lots_to_quantity(q)), n) for p, q, n in side]

    bids, asks = book.depth(depth)
    return levels(bids), levels(asks)


def _check_view(lane: TickerLane, view: ViewRecord, report: Report) -> None:
    report.checked["book.view"] += 1
    bids, asks = depth_levels(lane.book)
    for side, stored, replayed in (("bids", view.bids, bids), ("asks", view.asks, asks)):
        if [tuple(level) for level in stored] != replayed:
            report.fail(
                "book.view",
                f"{lane.ticker}@{view.seq}",
                f"{side} {stored[:3]}... but the replay has {replayed[:3]}...",
            )


def _collect(entry: LogEntry, facts: LogFacts) -> None:
    for command in entry.commands:
        if isinstance(command, OrderPlacedV1):
            facts.placed.setdefault(command.order_id, command)
    for event in entry.events:
        if isinstance(event, TradeExecutedV1):
            facts.trades.append(event)
            facts.filled[event.maker_order_id] += event.quantity
            facts.filled[event.taker_order_id] += event.quantity
        else:
            facts.last_update[event.order_id] = event  # entries and events come in (seq, n) order


# --- orders --------------------------------------------------------------------------------------------


def status_problem(order: OrderRecord) -> str | None:
    """Whether the status agrees with filled/remaining quantities; None when it does."""
    q, f, r = order.quantity, order.filled_quantity, order.remaining_quantity
    s = order.status
    if s is OrderStatus.REJECTED:
        return None if f == 0 else f"REJECTED with {f} filled"
    expected_remaining = q - f
    if r != expected_remaining:
        return f"{s.value}: remaining {r} but quantity {q} - filled {f} = {expected_remaining}"
    ok = {
        OrderStatus.FILLED: f == q,
        OrderStatus.NEW: f == 0,
        OrderStatus.PARTIALLY_FILLED: ZERO < f < q,
        OrderStatus.CANCELED: f < q,
        OrderStatus.EXPIRED: f < q,
    }[s]
    return None if ok else f"{s.value} with {f} of {q} filled"


def check_orders(data: Dataset, facts: LogFacts, report: Report, options: AuditOptions) -> None:
    known = {order.order_id for order in data.orders}
    for order in data.orders:
        report.checked["orders"] += 1
        _check_order(order, facts, report, options, data.read_at)
    for order_id, command in facts.placed.items():
        if order_id not in known:
            report.fail(
                "orders.known", order_id, f"placed on the {command.ticker} lane but not in the orders table"
            )
    for ticker, book in facts.books.items():
        for resting in book.orders():
            if resting.order_id not in known:
                report.fail(
                    "orders.known",
                    resting.order_id,
                    f"rests on the {ticker} book but is not in the orders table",
                )


def _check_order(
    order: OrderRecord, facts: LogFacts, report: Report, options: AuditOptions, now: datetime
) -> None:
    subject = f"{order.order_id} ({order.ticker})"
    traded = facts.filled.get(order.order_id, ZERO)
    if order.filled_quantity != traded:
        report.fail(
            "orders.fills", subject, f"filledQuantity {order.filled_quantity}, its trades sum to {traded}"
        )
    if traded > order.quantity:
        report.fail(
            "orders.fills", subject, f"trades sum to {traded}, more than its quantity {order.quantity}"
        )
    problem = status_problem(order)
    if problem is not None:
        report.fail("orders.status", subject, problem)
    last = facts.last_update.get(order.order_id)
    if last is not None:
        _check_projected(order, last, subject, report)
    elif order.order_id in facts.placed:
        report.fail("orders.status", subject, "placed in the log, but the log never reported on it")
    elif order.status is OrderStatus.NEW:
        age = now - order.created_at
        if age > options.grace:
            report.fail(
                "orders.reached_lane", subject, f"NEW for {age.total_seconds():.0f}s and not in the log"
            )
        else:
            report.note(
                "orders.reached_lane", subject, f"NEW for {age.total_seconds():.1f}s: still in flight"
            )
        return
    elif not (order.status is OrderStatus.REJECTED and order.reject_reason == LANE_UNAVAILABLE):
        report.fail("orders.status", subject, f"{order.status.value}, but the log has no update for it")
    if order.ticker in facts.books:
        _check_resting(order, facts.books[order.ticker], subject, report)


def _check_projected(order: OrderRecord, last: OrderUpdatedV1, subject: str, report: Report) -> None:
    stored = (order.status, order.filled_quantity, order.remaining_quantity, order.avg_fill_price)
    logged = (last.status, last.filled_quantity, last.remaining_quantity, last.avg_fill_price)
    if stored != logged:
        report.fail(
            "orders.status",
            subject,
            f"stored (status, filled, remaining, avg) {_fmt(stored)}, the log's last update "
            f"({last.event_id}) says {_fmt(logged)}",
        )


def _fmt(values: tuple[object, ...]) -> str:
    return "(" + ", ".join(v.value if isinstance(v, OrderStatus) else str(v) for v in values) + ")"


def _check_resting(order: OrderRecord, book: OrderBook, subject: str, report: Report) -> None:
    resting = book.get(order.order_id)
    report.checked["orders.final_or_resting"] += 1
    if order.status in LIVE:
        if resting is None:
            report.fail(
                "orders.final_or_resting", subject, f"{order.status.value} but not on the replayed book"
            )
        elif lots_to_quantity(resting.remaining_quantity) != order.remaining_quantity:
            report.fail(
                "orders.final_or_resting",
                subject,
                f"rests with {lots_to_quantity(resting.remaining_quantity)} but the table says "
                f"{order.remaining_quantity} remain",
            )
    elif resting is not None:
        report.fail(
            "orders.final_or_resting", subject, f"{order.status.value} but still on the replayed book"
        )


# --- journal, positions, prices ---------------------------------------------------------------------


def _row_shape(row: JournalRecord | TransactionRow) -> tuple[object, ...]:
    return (row.user_id, row.side.value, row.order_id, row.quantity, row.price, row.seq, row.n)


def check_journal(data: Dataset, facts: LogFacts, report: Report) -> None:
    stored: defaultdict[str, list[JournalRecord]] = defaultdict(list)
    for row in data.journal:
        stored[row.trade_id].append(row)
    logged = {trade.trade_id: trade for trade in facts.trades}
    for trade_id, rows in stored.items():
        if trade_id not in logged:
            report.fail("journal.rows", trade_id, f"{len(rows)} row(s) for a trade the log does not have")
    expected_counts: Counter[tuple[str, str | None, str]] = Counter()
    for trade in facts.trades:
        report.checked["journal.rows"] += 1
        expected = sorted(_row_shape(r) for r in rows_of(trade))
        for r in rows_of(trade):
            expected_counts[(r.user_id, None, r.ticker)] += 1
            expected_counts[(r.user_id, r.day.isoformat(), r.ticker)] += 1
        got = sorted(_row_shape(r) for r in stored.get(trade.trade_id, []))
        if got != expected:
            report.fail(
                "journal.rows", trade.trade_id, f"{len(got)} row(s) {got}, expected the two rows {expected}"
            )
    counted = Counter({(c.user_id, c.day, c.ticker): c.rows for c in data.counts})
    for key in sorted(set(counted) | set(expected_counts), key=str):
        report.checked["journal.counts"] += 1
        if counted.get(key, 0) != expected_counts.get(key, 0):
            user, day, ticker = key
            name = f"{user} {'TOTAL' if day is None else 'DAY ' + day}#{ticker}"
            report.fail(
                "journal.counts",
                name,
                f"counts {counted.get(key, 0)} rows, the log implies {expected_counts.get(key, 0)}",
            )


def check_positions(data: Dataset, report: Report) -> None:
    rows: defaultdict[tuple[str, str], list[JournalRow]] = defaultdict(list)
    for r in data.journal:
        rows[(r.user_id, r.ticker)].append(
            JournalRow(
                user_id=r.user_id,
                ticker=r.ticker,
                side=r.side,
                quantity=r.quantity,
                price=r.price,
                seq=r.seq,
                n=r.n,
            )
        )
    stored = {(p.user_id, p.ticker): p for p in data.positions}
    for key in sorted(set(stored) - set(rows)):
        report.fail("positions.quantity", "/".join(key), "a position with no journal rows")
    for key, journal in sorted(rows.items()):
        report.checked["positions"] += 1
        subject = "/".join(key)
        signed = sum((j.quantity if j.side.value == "BUY" else -j.quantity for j in journal), ZERO)
        position = stored.get(key)
        if position is None:
            report.fail(
                "positions.quantity", subject, f"no position for {len(journal)} journal row(s) (Σ = {signed})"
            )
            continue
        if position.quantity != signed:
            report.fail(
                "positions.quantity", subject, f"quantity {position.quantity}, Σ BUY - Σ SELL = {signed}"
            )
        try:
            replayed: Position = replay_journal(journal)[key]
        except InvalidFill as exc:
            report.fail("positions.pnl", subject, f"the journal does not replay: {exc}")
            continue
        if (position.avg_cost, position.realized_pnl) != (replayed.avg_cost, replayed.realized_pnl):
            report.fail(
                "positions.pnl",
                subject,
                f"(avgCost, realizedPnl) = ({position.avg_cost}, {position.realized_pnl}), "
                f"the journal replays to ({replayed.avg_cost}, {replayed.realized_pnl})",
            )


def _last_trades(trades: Iterable[TradeExecutedV1]) -> dict[str, TradeExecutedV1]:
    last: dict[str, TradeExecutedV1] = {}
    for trade in trades:
        current = last.get(trade.ticker)
        if current is None or (trade.seq, trade.n) > (current.seq, current.n):
            last[trade.ticker] = trade
    return last


def _trade(trade: TradeExecutedV1 | None) -> str:
    return "none" if trade is None else f"{trade.trade_id} at {trade.price}"


def _price(record: LastPriceRecord | TapeRecord | None) -> str:
    return "none" if record is None else f"{record.price} at ({record.seq}, {record.n})"


def check_last_prices(data: Dataset, facts: LogFacts, report: Report) -> None:
    expected = _last_trades(facts.trades)
    stored = {p.ticker: p for p in data.last_prices}
    for ticker in sorted(set(expected) | set(stored)):
        report.checked["prices.last"] += 1
        trade, price = expected.get(ticker), stored.get(ticker)
        if trade is None or price is None:
            report.fail(
                "prices.last", ticker, f"last price {_price(price)}, last logged trade {_trade(trade)}"
            )
        elif (price.price, price.seq, price.n) != (trade.price, trade.seq, trade.n):
            report.fail(
                "prices.last",
                ticker,
                f"{price.price} at ({price.seq}, {price.n}), "
                f"last trade {trade.price} at ({trade.seq}, {trade.n})",
            )


# --- market data ---------------------------------------------------------------------------------------


def check_candles(data: Dataset, facts: LogFacts, report: Report) -> None:
    trades = [
        Trade(
            ticker=t.ticker, price=t.price, quantity=t.quantity, executed_at=t.executed_at, seq=t.seq, n=t.n
        )
        for t in facts.trades
    ]
    expected = {key: delta.to_candle() for key, delta in aggregate(trades).items()}
    stored: dict[CandleKey, CandleRecord] = {(c.ticker, c.interval, c.bucket_start): c for c in data.candles}
    for key in sorted(set(expected) | set(stored), key=lambda k: (k[0], k[1].seconds, k[2])):
        report.checked["candles.ohlcv"] += 1
        subject = f"{key[0]} {key[1].value} {key[2].isoformat()}"
        candle, want = stored.get(key), expected.get(key)
        if candle is None or want is None:
            report.fail("candles.ohlcv", subject, "stored without trades" if want is None else "missing")
            continue
        got = (
            candle.open,
            candle.high,
            candle.low,
            candle.close,
            candle.volume,
            candle.trades,
            candle.open_seq,
            candle.close_seq,
        )
        should = (
            want.open,
            want.high,
            want.low,
            want.close,
            want.volume,
            want.trades,
            want.open_seq,
            want.close_seq,
        )
        if got != should:
            report.fail(
                "candles.ohlcv",
                subject,
                f"(O, H, L, C, V, trades, open seq, close seq) = {got}, the trades give {should}",
            )


def _tape_shape(record: TapeRecord) -> tuple[object, ...]:
    return (record.trade_id, record.price, record.quantity)


def check_market(data: Dataset, facts: LogFacts, report: Report) -> None:
    logged = {(t.ticker, t.seq, t.n): t for t in facts.trades}
    taped = {(r.ticker, r.seq, r.n): r for r in data.tape}
    for key in sorted(set(logged) | set(taped)):
        report.checked["market.tape"] += 1
        trade, tape = logged.get(key), taped.get(key)
        if trade is None or tape is None:
            report.fail(
                "market.tape",
                f"{key[0]}#{key[1]}:{key[2]}",
                "on the tape only" if trade is None else "missing from the tape",
            )
        elif _tape_shape(tape) != (trade.trade_id, trade.price, trade.quantity):
            report.fail(
                "market.tape",
                trade.trade_id,
                f"tape {_tape_shape(tape)}, log {(trade.trade_id, trade.price, trade.quantity)}",
            )
    latest = _last_trades(facts.trades)
    stored = {r.ticker: r for r in data.tickers}
    for ticker in sorted(set(latest) | set(stored)):
        report.checked["market.tickers"] += 1
        trade, record = latest.get(ticker), stored.get(ticker)
        if trade is None or record is None:
            report.fail(
                "market.tickers", ticker, f"latest trade {_price(record)}, last logged trade {_trade(trade)}"
            )
        elif (record.seq, record.n, record.price) != (trade.seq, trade.n, trade.price):
            report.fail(
                "market.tickers",
                ticker,
                f"latest ({record.seq}, {record.n}) at {record.price}, "
                f"log ({trade.seq}, {trade.n}) at {trade.price}",
            )


# --- queues ----------------------------------------------------------------------------------------------


def check_queues(data: Dataset, report: Report, options: AuditOptions) -> None:
    for letter in data.dead_letters:
        detail = f"{letter.reason} (received {letter.receive_count}x) body: {letter.body[:200]}"
        if options.fail_on_dead_letters:
            report.fail("dlq", f"{letter.queue} {letter.message_id}", detail)
        else:
            report.note("dlq", f"{letter.queue} {letter.message_id}", detail)
    for queue in data.queues:
        if queue.visible or queue.in_flight:
            report.note("queues", queue.queue, f"{queue.visible} visible, {queue.in_flight} in flight")
