"""A user's positions valued at each ticker's last trade price, and the portfolio summary."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from decimal import Decimal, localcontext
from typing import Any

from tradestream.errors import PositionNotFound
from tradestream.money import to_str
from tradestream.orders.model import iso_now
from tradestream.portfolio import Summary, round_money, summary, valuation
from tradestream.portfolio.rounding import EXACT
from tradestream.projections.portfolio import StoredPosition


class PortfolioReader(ABC):
    @abstractmethod
    def positions(self, user_id: str) -> list[StoredPosition]:
        """Every position the user ever held, flat ones included (they carry realized PnL)."""

    @abstractmethod
    def position(self, user_id: str, ticker: str) -> StoredPosition | None: ...

    @abstractmethod
    def last_prices(self, tickers: Collection[str]) -> dict[str, Decimal]: ...


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else to_str(value)


def position_json(stored: StoredPosition, last_price: Decimal | None) -> dict[str, Any]:
    """A position without a known last price (the price write lags) shows nulls rather than a guess."""
    position = stored.position
    valued = None if last_price is None else valuation(position, last_price)
    return {
        "ticker": stored.ticker,
        "quantity": to_str(position.quantity),
        "avgCost": to_str(position.avg_cost),
        "realizedPnl": to_str(position.realized_pnl),
        "lastPrice": _dec(last_price),
        "marketValue": None if valued is None else to_str(valued.market_value),
        "unrealizedPnl": None if valued is None else to_str(valued.unrealized_pnl),
        "updatedAt": iso_now(stored.updated_at),
    }


def summary_json(totals: Summary) -> dict[str, Any]:
    return {
        "realizedPnl": to_str(totals.realized_pnl),
        "unrealizedPnl": to_str(totals.unrealized_pnl),
        "marketValue": to_str(totals.market_value),
        "totalPnl": to_str(totals.total_pnl),
        "positions": totals.positions,
    }


def portfolio_summary(positions: list[StoredPosition], prices: dict[str, Decimal]) -> Summary:
    """``summary`` over the priced positions; an unpriced one still adds its realized PnL and count."""
    priced = [(p.position, prices[p.ticker]) for p in positions if p.ticker in prices]
    totals = summary(priced)
    unpriced = [p.position for p in positions if p.ticker not in prices]
    if not unpriced:
        return totals
    with localcontext(EXACT):
        realized = round_money(totals.realized_pnl + sum((p.realized_pnl for p in unpriced), Decimal(0)))
    return Summary(
        realized_pnl=realized,
        unrealized_pnl=totals.unrealized_pnl,
        market_value=totals.market_value,
        total_pnl=round_money(realized + totals.unrealized_pnl),
        positions=totals.positions + sum(not p.is_flat for p in unpriced),
    )


class PortfolioQueries:
    def __init__(self, reader: PortfolioReader) -> None:
        self._reader = reader

    def positions(self, user_id: str) -> list[dict[str, Any]]:
        positions = sorted(self._reader.positions(user_id), key=lambda p: p.ticker)
        prices = self._reader.last_prices({p.ticker for p in positions})
        return [position_json(p, prices.get(p.ticker)) for p in positions]

    def position(self, user_id: str, ticker: str) -> dict[str, Any]:
        stored = self._reader.position(user_id, ticker)
        if stored is None:
            raise PositionNotFound(f"no position in {ticker}")
        return position_json(stored, self._reader.last_prices({ticker}).get(ticker))

    def summary(self, user_id: str) -> dict[str, Any]:
        positions = self._reader.positions(user_id)
        prices = self._reader.last_prices({p.ticker for p in positions})
        return summary_json(portfolio_summary(positions, prices))
