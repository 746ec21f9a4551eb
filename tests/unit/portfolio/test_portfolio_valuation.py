"""Mark-to-market, the portfolio summary and the journal replay used by the audit."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tradestream.portfolio import (
    Fill,
    InvalidFill,
    JournalRow,
    Position,
    Side,
    Summary,
    Valuation,
    fold_fills,
    replay_journal,
    summary,
    valuation,
)

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


def pos(quantity: str, avg: str, realized: str = "0") -> Position:
    return Position(quantity=D(quantity), avg_cost=D(avg), realized_pnl=D(realized), last_applied=(1, 0))


class TestValuation:
    def test_long_in_profit(self) -> None:
        assert valuation(pos("10", "100"), D(110)) == Valuation(market_value=D(1100), unrealized_pnl=D(100))

    def test_long_at_a_loss(self) -> None:
        assert valuation(pos("10", "100"), D(95)) == (D(950), D(-50))

    def test_short_gains_when_the_price_falls(self) -> None:
        assert valuation(pos("-2", "100"), D(90)) == Valuation(market_value=D(-180), unrealized_pnl=D(20))

    def test_short_loses_when_the_price_rises(self) -> None:
        assert valuation(pos("-2", "100"), D("100.5")) == (D(-201), D(-1))

    def test_flat_is_worth_nothing(self) -> None:
        assert valuation(Position(), D(123)) == (D(0), D(0))

    def test_unrealized_follows_the_rounding_policy(self) -> None:
        # (12 - 10.6666666667) x 0.5 = 0.66666666665 -> half-even 0.6666666666
        assert valuation(pos("0.5", "10.6666666667"), D(12)).unrealized_pnl == D("0.6666666666")

    def test_results_are_canonical(self) -> None:
        valued = valuation(pos("1.5", "2"), D("2.0000"))
        assert (str(valued.market_value), str(valued.unrealized_pnl)) == ("3", "0")

    @pytest.mark.parametrize("price", [D(0), D(-1), D("NaN"), 1.5])
    def test_bad_last_price_is_refused(self, price: object) -> None:
        with pytest.raises(InvalidFill):
            valuation(pos("1", "1"), price)  # type: ignore[arg-type]


class TestSummary:
    def test_totals_over_longs_shorts_and_flats(self) -> None:
        result = summary(
            [
                (pos("10", "100", "5"), D(110)),  # mv 1100, unrealized 100
                (pos("-2", "100", "-3"), D(90)),  # mv -180, unrealized 20
                (Position(realized_pnl=D("7.5"), last_applied=(3, 0)), D(50)),  # flat, realized only
            ]
        )
        assert result == Summary(
            realized_pnl=D("9.5"),
            unrealized_pnl=D(120),
            market_value=D(920),
            total_pnl=D("129.5"),
            positions=2,
        )

    def test_empty_portfolio(self) -> None:
        assert summary([]) == Summary(D(0), D(0), D(0), D(0), 0)


def row(user: str, ticker: str, side: Side, quantity: str, price: str, *, seq: int, n: int = 0) -> JournalRow:
    return JournalRow(
        user_id=user, ticker=ticker, side=side, quantity=D(quantity), price=D(price), seq=seq, n=n
    )


class TestReplayJournal:
    ROWS = (
        # trade 1: alice buys 10 @ 100 from bob
        row("alice", "ACME", BUY, "10", "100", seq=1),
        row("bob", "ACME", SELL, "10", "100", seq=1),
        # trade 2: bob buys 4 @ 110 from alice
        row("bob", "ACME", BUY, "4", "110", seq=2),
        row("alice", "ACME", SELL, "4", "110", seq=2),
        # another ticker, its own seq space
        row("alice", "BOLT", SELL, "1", "5", seq=1),
        row("carol", "BOLT", BUY, "1", "5", seq=1),
    )

    def test_positions_per_user_and_ticker(self) -> None:
        assert replay_journal(self.ROWS) == {
            ("alice", "ACME"): Position(
                quantity=D(6), avg_cost=D(100), realized_pnl=D(40), last_applied=(2, 0)
            ),
            ("bob", "ACME"): Position(
                quantity=D(-6), avg_cost=D(100), realized_pnl=D(-40), last_applied=(2, 0)
            ),
            ("alice", "BOLT"): Position(quantity=D(-1), avg_cost=D(5), last_applied=(1, 0)),
            ("carol", "BOLT"): Position(quantity=D(1), avg_cost=D(5), last_applied=(1, 0)),
        }

    def test_row_order_does_not_matter(self) -> None:
        shuffled = list(self.ROWS)
        random.Random(5).shuffle(shuffled)
        assert replay_journal(shuffled) == replay_journal(self.ROWS)

    def test_self_trade_rows_net_out(self) -> None:
        rows = [
            row("dave", "ACME", BUY, "3", "10", seq=1),
            row("erin", "ACME", SELL, "3", "10", seq=1),
            row("dave", "ACME", SELL, "2", "20", seq=2),
            row("dave", "ACME", BUY, "2", "20", seq=2),
        ]
        assert replay_journal(rows)[("dave", "ACME")] == Position(
            quantity=D(3), avg_cost=D(10), last_applied=(2, 0)
        )

    def test_matches_the_live_fold(self) -> None:
        fills = [r.to_fill() for r in self.ROWS if (r.user_id, r.ticker) == ("alice", "ACME")]
        live = fold_fills(fold_fills(Position(), fills[:1]), fills[1:])
        assert replay_journal(self.ROWS)[("alice", "ACME")] == live

    def test_to_fill_keeps_every_field(self) -> None:
        assert row("u", "T", SELL, "2", "3", seq=4, n=5).to_fill() == Fill(
            side=SELL, quantity=D(2), price=D(3), seq=4, n=5
        )
