"""Mark-to-market of positions at a last price, and the portfolio summary across tickers."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, localcontext
from typing import NamedTuple

from tradestream.portfolio.errors import InvalidFill
from tradestream.portfolio.position import Position
from tradestream.portfolio.rounding import EXACT, round_money


class Valuation(NamedTuple):
    market_value: Decimal
    unrealized_pnl: Decimal


class Summary(NamedTuple):
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    market_value: Decimal
    total_pnl: Decimal
    positions: int
    """How many positions are open (non-zero quantity); flat ones still contribute realized PnL."""


def valuation(position: Position, last_price: Decimal) -> Valuation:
    """market_value = quantity x last; unrealized = (last - avg) x quantity: a short gains as price falls."""
    if not isinstance(last_price, Decimal) or not last_price.is_finite() or last_price <= 0:
        raise InvalidFill(f"last price must be a positive finite Decimal, got {last_price!r}")
    with localcontext(EXACT):
        market_value = position.quantity * last_price
        unrealized = (last_price - position.avg_cost) * position.quantity
    return Valuation(market_value=round_money(market_value), unrealized_pnl=round_money(unrealized))


def summary(positions_with_prices: Iterable[tuple[Position, Decimal]]) -> Summary:
    """Totals over (position, last price) pairs; sums of already rounded values, so no further rounding."""
    realized = unrealized = market_value = Decimal(0)
    open_positions = 0
    with localcontext(EXACT):
        for position, last_price in positions_with_prices:
            valued = valuation(position, last_price)
            realized += position.realized_pnl
            unrealized += valued.unrealized_pnl
            market_value += valued.market_value
            open_positions += not position.is_flat
        total = realized + unrealized
    return Summary(
        realized_pnl=round_money(realized),
        unrealized_pnl=round_money(unrealized),
        market_value=round_money(market_value),
        total_pnl=round_money(total),
        positions=open_positions,
    )
