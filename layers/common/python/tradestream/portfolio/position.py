"""A position per (user, ticker) under weighted-average cost, and the fills that move it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext
from enum import StrEnum
from itertools import groupby

from tradestream.money import canonical
from tradestream.portfolio.errors import InvalidFill, InvalidPosition, StaleFill
from tradestream.portfolio.rounding import EXACT, round_money

SeqKey = tuple[int, int]
"""(seq, n): the matching log entry and the event's index in it; totally orders a ticker's trades."""

_ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


def _require_decimal(
    name: str, value: object, *, positive: bool, error: type[InvalidFill | InvalidPosition] = InvalidFill
) -> Decimal:
    # Floats would slip through arithmetic and smuggle binary noise into money.
    if not isinstance(value, Decimal) or not value.is_finite():
        raise error(f"{name} must be a finite Decimal, got {value!r}")
    if positive and value <= 0:
        raise error(f"{name} must be positive, got {value}")
    return value


def _require_key(seq: object, n: object, *, error: type[InvalidFill | InvalidPosition] = InvalidFill) -> None:
    for name, value in (("seq", seq), ("n", n)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise error(f"{name} must be a non-negative int, got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Fill:
    """One side of one trade as seen by one account: `side` is that account's side."""

    side: Side
    quantity: Decimal
    price: Decimal
    seq: int
    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.side, Side):
            raise InvalidFill(f"side must be a Side, got {self.side!r}")
        _require_decimal("quantity", self.quantity, positive=True)
        _require_decimal("price", self.price, positive=True)
        _require_key(self.seq, self.n)

    @property
    def key(self) -> SeqKey:
        return (self.seq, self.n)

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is Side.BUY else -self.quantity


@dataclass(frozen=True, kw_only=True, slots=True)
class Position:
    """Signed quantity (negative = short), average cost of the open side, realized PnL, sequence guard.

    A flat position has ``avg_cost == 0``. ``last_applied`` is the (seq, n) of the newest fill folded in,
    or None before the first one. Rounding policy: see ``tradestream.portfolio.rounding``.
    """

    quantity: Decimal = _ZERO
    avg_cost: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO
    last_applied: SeqKey | None = None

    def __post_init__(self) -> None:
        for name in ("quantity", "avg_cost", "realized_pnl"):
            _require_decimal(name, getattr(self, name), positive=False, error=InvalidPosition)
        if self.avg_cost < 0:
            raise InvalidPosition(f"avg_cost must not be negative, got {self.avg_cost}")
        if self.quantity == 0 and self.avg_cost != 0:
            raise InvalidPosition("a flat position has avg_cost 0")
        if self.last_applied is not None:
            seq, n = self.last_applied
            _require_key(seq, n, error=InvalidPosition)

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0


def _is_newer(position: Position, key: SeqKey) -> bool:
    return position.last_applied is None or key > position.last_applied


def _apply(position: Position, fill: Fill) -> Position:
    old_qty, avg, realized = position.quantity, position.avg_cost, position.realized_pnl
    with localcontext(EXACT):
        delta = fill.signed_quantity
        new_qty = canonical(old_qty + delta)
        if old_qty == 0 or (old_qty > 0) == (delta > 0):
            # Opening or adding on the same side: the cost basis absorbs the fill.
            new_avg = (abs(old_qty) * avg + fill.quantity * fill.price) / abs(new_qty)
        else:
            closed = min(fill.quantity, abs(old_qty))
            per_unit = fill.price - avg if old_qty > 0 else avg - fill.price
            realized += per_unit * closed
            if new_qty == 0:
                new_avg = _ZERO
            elif (new_qty > 0) != (old_qty > 0):
                # Crossed through zero: the old side is closed in full, the rest opens at the fill price.
                new_avg = fill.price
            else:
                new_avg = avg  # partial close: the average of what remains is unchanged
        return Position(
            quantity=new_qty,
            avg_cost=round_money(new_avg),
            realized_pnl=round_money(realized),
            last_applied=fill.key,
        )


def apply_fill(
    position: Position, *, side: Side, quantity: Decimal, price: Decimal, seq: int, n: int
) -> Position:
    """Apply one fill; refuses (StaleFill) a fill whose (seq, n) is not after ``last_applied``."""
    fill = Fill(side=side, quantity=quantity, price=price, seq=seq, n=n)
    if not _is_newer(position, fill.key):
        raise StaleFill(f"fill {fill.key} is not after {position.last_applied}")
    return _apply(position, fill)


def fold_fills(position: Position, fills: Iterable[Fill]) -> Position:
    """Apply a batch of fills in (seq, n) order, skipping those at or before ``last_applied``.

    This is the sequence guard in domain form: folding a batch twice, or a replay that overlaps what was
    already applied, changes nothing. Fills sharing one (seq, n) are resolved here:
    * identical copies (a redelivered event) count once;
    * a BUY and a SELL of the same quantity and price are a self-trade: a wash that moves neither
      quantity, cost nor realized PnL (applying the legs one after the other would make the result
      depend on which leg came first) and only advances ``last_applied``;
    * anything else is contradictory input and raises InvalidFill.
    """
    ordered = sorted(fills, key=lambda fill: fill.key)
    for key, group in groupby(ordered, key=lambda fill: fill.key):
        if not _is_newer(position, key):
            continue
        distinct = set(group)
        if len(distinct) == 1:
            position = _apply(position, distinct.pop())
        elif _is_self_trade(distinct):
            position = replace(position, last_applied=key)
        else:
            raise InvalidFill(f"contradictory fills for (seq, n) = {key}")
    return position


def _is_self_trade(fills: set[Fill]) -> bool:
    if len(fills) != 2:
        return False
    first, second = fills
    return first.side is not second.side and first.quantity == second.quantity and first.price == second.price
