"""Recompute every position from the journal's rows: the audit's independent path to the projection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tradestream.portfolio.position import Fill, Position, Side, fold_fills


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalRow:
    """The fields of a transactions row the replay needs; ``n`` is the event index within entry ``seq``."""

    user_id: str
    ticker: str
    side: Side
    quantity: Decimal
    price: Decimal
    seq: int
    n: int

    def to_fill(self) -> Fill:
        return Fill(side=self.side, quantity=self.quantity, price=self.price, seq=self.seq, n=self.n)


def replay_journal(rows: Iterable[JournalRow]) -> dict[tuple[str, str], Position]:
    """Positions keyed by (user_id, ticker), folded from flat in (seq, n) order, whatever the row order.

    Goes through ``fold_fills`` so a self-trade's two rows net out exactly as in the live projection.
    """
    fills: defaultdict[tuple[str, str], list[Fill]] = defaultdict(list)
    for row in rows:
        fills[(row.user_id, row.ticker)].append(row.to_fill())
    return {key: fold_fills(Position(), batch) for key, batch in fills.items()}
