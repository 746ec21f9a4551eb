"""Journal: two immutable rows per trade (buyer BUY, seller SELL) and per-user counts of those rows.

The rows are the record; the counts exist so that ``totalElements`` is read, never counted. A count
lives per (user, ticker) because the sequence guard is a ticker's (seq, n): events of different tickers
have no common order, so one guard per user could not tell a replay from a new trade.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from tradestream.contracts import MatchingBatchV1, TradeExecutedV1
from tradestream.portfolio import JournalRow, Side
from tradestream.projections.errors import ContradictoryEvents
from tradestream.projections.fanout import each
from tradestream.projections.runner import event_key


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionRow:
    """One side of one trade as its account sees it; ``id`` is deterministic so a replay overwrites it."""

    trade_id: str
    order_id: str
    user_id: str
    side: Side
    ticker: str
    quantity: Decimal
    price: Decimal
    executed_at: datetime
    seq: int
    n: int

    @property
    def id(self) -> str:
        return f"{self.trade_id}:{self.side.value}"

    @property
    def key(self) -> int:
        return event_key(self.seq, self.n)

    @property
    def day(self) -> date:
        """The UTC day the trade executed: the unit of the counts that answer ``since`` queries."""
        return self.executed_at.astimezone(UTC).date()

    def to_journal_row(self) -> JournalRow:
        return JournalRow(
            user_id=self.user_id,
            ticker=self.ticker,
            side=self.side,
            quantity=self.quantity,
            price=self.price,
            seq=self.seq,
            n=self.n,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CounterKey:
    """A count of one user's rows in one ticker: all of them (``day`` None) or those of one UTC day."""

    user_id: str
    ticker: str
    day: date | None = None


class TransactionStore(ABC):
    @abstractmethod
    def put_rows(self, rows: Sequence[TransactionRow]) -> None:
        """Write the rows as they are; equal ids overwrite identically, so no condition is needed."""

    @abstractmethod
    def count(self, counter: CounterKey, keys: Sequence[int]) -> int:
        """Add the keys after the counter's guard to its count and move the guard to the last key.

        ``keys`` are sorted; equal keys (the two rows of a self-trade) count once each. A batch the
        counter already applied adds nothing; one straddling the guard adds only its newer part.
        Returns how many were added.
        """


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalOutcome:
    rows: int
    counted: int


def rows_of(trade: TradeExecutedV1) -> tuple[TransactionRow, TransactionRow]:
    """The buyer's BUY row and the seller's SELL row of one trade."""

    def row(side: Side, user_id: str, order_id: str) -> TransactionRow:
        return TransactionRow(
            trade_id=trade.trade_id,
            order_id=order_id,
            user_id=user_id,
            side=side,
            ticker=trade.ticker,
            quantity=trade.quantity,
            price=trade.price,
            executed_at=trade.executed_at,
            seq=trade.seq,
            n=trade.n,
        )

    return row(Side.BUY, *trade.buyer), row(Side.SELL, *trade.seller)


def transaction_rows(entries: Iterable[MatchingBatchV1]) -> list[TransactionRow]:
    """Every row the entries imply, once each (an entry delivered twice in one batch adds nothing)."""
    rows: dict[str, TransactionRow] = {}
    for entry in entries:
        for event in entry.events:
            if not isinstance(event, TradeExecutedV1):
                continue
            for row in rows_of(event):
                seen = rows.setdefault(row.id, row)
                if seen != row:
                    raise ContradictoryEvents(f"two different trades claim row {row.id}")
    return sorted(rows.values(), key=lambda r: (r.ticker, r.seq, r.n, r.side.value))


def counter_keys(rows: Iterable[TransactionRow]) -> dict[CounterKey, list[int]]:
    """The sorted row keys each counter must absorb: one guarded write per counter per batch."""
    counters: defaultdict[CounterKey, list[int]] = defaultdict(list)
    for row in rows:
        counters[CounterKey(user_id=row.user_id, ticker=row.ticker)].append(row.key)
        counters[CounterKey(user_id=row.user_id, ticker=row.ticker, day=row.day)].append(row.key)
    return {counter: sorted(keys) for counter, keys in counters.items()}


def project_journal(entries: Iterable[MatchingBatchV1], store: TransactionStore) -> JournalOutcome:
    rows = transaction_rows(entries)
    if not rows:
        return JournalOutcome(rows=0, counted=0)
    # Rows before counts: if the batch dies in between, a reader sees a row not yet counted (the retry
    # counts it) rather than a count for a row it cannot page to.
    store.put_rows(rows)
    counted = sum(each(lambda counter: store.count(*counter), counter_keys(rows).items()))
    return JournalOutcome(rows=len(rows), counted=counted)
