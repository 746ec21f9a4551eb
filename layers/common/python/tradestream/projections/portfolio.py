"""Portfolio: positions per (user, ticker) folded from fills, and the last trade price per ticker.

Each position is written at most once per batch: its fills are folded in memory with ``fold_fills``
(which skips those at or before the position's guard) and stored with a compare-and-set on the guard.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradestream.contracts import MatchingBatchV1, TradeExecutedV1
from tradestream.portfolio import Fill, Position, SeqKey, fold_fills
from tradestream.projections.fanout import each
from tradestream.projections.guard import compare_and_set
from tradestream.projections.journal import transaction_rows

PositionKey = tuple[str, str]
"""(user_id, ticker)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredPosition:
    """A position as stored; ``updated_at`` is the execution time of its last fill, so a replay
    reproduces it exactly (a wall-clock time would make every replay a change)."""

    user_id: str
    ticker: str
    position: Position
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class LastPrice:
    ticker: str
    price: Decimal
    executed_at: datetime
    seq: int
    n: int

    @property
    def key(self) -> SeqKey:
        return (self.seq, self.n)


class PositionStore(ABC):
    @abstractmethod
    def load(self, user_id: str, ticker: str) -> StoredPosition | None: ...

    @abstractmethod
    def save(self, new: StoredPosition, expected: StoredPosition | None) -> bool:
        """Write ``new`` only if the stored guard is still ``expected``'s (absent when None).

        False when the item moved since it was read: the caller reads it again."""


class LastPriceStore(ABC):
    @abstractmethod
    def apply(self, price: LastPrice) -> bool:
        """Store the price unless the ticker already holds one at or after its (seq, n); True if written."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PortfolioOutcome:
    positions: int
    prices: int


@dataclass(frozen=True, kw_only=True, slots=True)
class PositionBatch:
    """The fills one batch brings to one position, with each fill's execution time by (seq, n)."""

    fills: tuple[Fill, ...]
    executed_at: dict[SeqKey, datetime]

    def step(self, user_id: str, ticker: str, current: StoredPosition | None) -> StoredPosition | None:
        before = current.position if current is not None else Position()
        after = fold_fills(before, self.fills)
        if after.last_applied == before.last_applied or after.last_applied is None:
            return None  # every fill was already applied: nothing to write
        return StoredPosition(
            user_id=user_id, ticker=ticker, position=after, updated_at=self.executed_at[after.last_applied]
        )


def position_batches(entries: Iterable[MatchingBatchV1]) -> dict[PositionKey, PositionBatch]:
    """Fills grouped by (user, ticker); both legs of a self-trade land in the same group, where
    ``fold_fills`` nets them out."""
    fills: defaultdict[PositionKey, list[Fill]] = defaultdict(list)
    times: defaultdict[PositionKey, dict[SeqKey, datetime]] = defaultdict(dict)
    for row in transaction_rows(entries):
        key = (row.user_id, row.ticker)
        fills[key].append(row.to_journal_row().to_fill())
        times[key][(row.seq, row.n)] = row.executed_at
    return {key: PositionBatch(fills=tuple(batch), executed_at=times[key]) for key, batch in fills.items()}


def last_prices(entries: Iterable[MatchingBatchV1]) -> dict[str, LastPrice]:
    """The last trade by (seq, n) of each ticker in the batch."""
    latest: dict[str, LastPrice] = {}
    for entry in entries:
        for event in entry.events:
            if not isinstance(event, TradeExecutedV1):
                continue
            price = LastPrice(
                ticker=event.ticker,
                price=event.price,
                executed_at=event.executed_at,
                seq=event.seq,
                n=event.n,
            )
            current = latest.get(event.ticker)
            if current is None or price.key > current.key:
                latest[event.ticker] = price
    return latest


def apply_position(store: PositionStore, user_id: str, ticker: str, batch: PositionBatch) -> bool:
    written = compare_and_set(
        load=lambda: store.load(user_id, ticker),
        step=lambda current: batch.step(user_id, ticker, current),
        save=store.save,
        what=f"position {user_id}/{ticker}",
    )
    return written is not None


def project_portfolio(
    entries: Sequence[MatchingBatchV1], *, positions: PositionStore, prices: LastPriceStore
) -> PortfolioOutcome:
    # Prices first: a position a reader can see always has a last price to be valued at.
    changed_prices = sum(each(prices.apply, last_prices(entries).values()))
    changed_positions = sum(
        each(
            lambda position: apply_position(positions, *position[0], position[1]),
            position_batches(entries).items(),
        )
    )
    return PortfolioOutcome(positions=changed_positions, prices=changed_prices)
