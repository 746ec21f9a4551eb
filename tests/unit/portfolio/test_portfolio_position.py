"""Weighted-average-cost PnL, the rounding policy and the sequence guard of a single position."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradestream.portfolio import (
    MONEY_PLACES,
    Fill,
    InvalidFill,
    InvalidPosition,
    Position,
    Side,
    StaleFill,
    apply_fill,
    fold_fills,
    round_money,
)

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


def run(*fills: tuple[Side, str, str]) -> Position:
    """Apply fills with consecutive seqs starting at 1 from a flat position."""
    position = Position()
    for seq, (side, quantity, price) in enumerate(fills, start=1):
        position = apply_fill(position, side=side, quantity=D(quantity), price=D(price), seq=seq, n=0)
    return position


def pos(quantity: str, avg: str, realized: str, last: tuple[int, int] | None) -> Position:
    return Position(quantity=D(quantity), avg_cost=D(avg), realized_pnl=D(realized), last_applied=last)


class TestLong:
    def test_flat_position_is_all_zero(self) -> None:
        assert Position() == pos("0", "0", "0", None)
        assert Position().is_flat

    def test_open_long(self) -> None:
        assert run((BUY, "10", "100")) == pos("10", "100", "0", (1, 0))

    def test_adding_to_a_long_averages_in(self) -> None:
        assert run((BUY, "10", "100"), (BUY, "30", "120")) == pos("40", "115", "0", (2, 0))

    def test_partial_close_realizes_on_the_closed_part_and_keeps_the_average(self) -> None:
        position = run((BUY, "10", "100"), (BUY, "30", "120"), (SELL, "4", "130"))
        assert position == pos("36", "115", "60", (3, 0))

    def test_partial_close_at_a_loss(self) -> None:
        assert run((BUY, "10", "100"), (SELL, "3", "90")) == pos("7", "100", "-30", (2, 0))

    def test_full_close_goes_flat_with_zero_average(self) -> None:
        position = run((BUY, "10", "100"), (SELL, "10", "105.5"))
        assert position == pos("0", "0", "55", (2, 0))
        assert position.avg_cost == 0

    def test_reopen_after_flat_starts_a_fresh_average(self) -> None:
        position = run((BUY, "10", "100"), (SELL, "10", "110"), (BUY, "2", "50"))
        assert position == pos("2", "50", "100", (3, 0))

    def test_fractional_quantities(self) -> None:
        position = run((BUY, "0.5", "100"), (BUY, "0.25", "130"), (SELL, "0.125", "120"))
        # avg = (50 + 32.5) / 0.75 = 110; realized = (120 - 110) x 0.125
        assert position == pos("0.625", "110", "1.25", (3, 0))


class TestShort:
    def test_open_short(self) -> None:
        assert run((SELL, "5", "50")) == pos("-5", "50", "0", (1, 0))

    def test_adding_to_a_short_averages_in(self) -> None:
        assert run((SELL, "5", "50"), (SELL, "5", "40")) == pos("-10", "45", "0", (2, 0))

    def test_partial_cover_realizes_avg_minus_price(self) -> None:
        position = run((SELL, "5", "50"), (SELL, "5", "40"), (BUY, "2", "30"))
        assert position == pos("-8", "45", "30", (3, 0))

    def test_cover_at_a_loss(self) -> None:
        assert run((SELL, "4", "50"), (BUY, "4", "60")) == pos("0", "0", "-40", (2, 0))


class TestCrossingZero:
    def test_long_to_short_closes_fully_then_opens_at_the_fill_price(self) -> None:
        position = run((BUY, "10", "100"), (SELL, "15", "120"))
        assert position == pos("-5", "120", "200", (2, 0))

    def test_short_to_long_covers_fully_then_opens_at_the_fill_price(self) -> None:
        position = run((SELL, "10", "100"), (BUY, "15", "80"))
        assert position == pos("5", "80", "200", (2, 0))

    def test_flip_at_a_loss_then_cover_the_new_short(self) -> None:
        position = run((BUY, "10", "100"), (SELL, "12", "90"), (BUY, "2", "95"))
        # -100 on the long, then the 2-lot short opened at 90 is covered at 95: -10
        assert position == pos("0", "0", "-110", (3, 0))

    def test_flip_from_an_averaged_long(self) -> None:
        position = run((BUY, "1", "10"), (BUY, "1", "20"), (SELL, "3", "30"))
        assert position == pos("-1", "30", "30", (3, 0))


class TestRoundingPolicy:
    """avg_cost and realized_pnl: 10 places, ROUND_HALF_EVEN, canonical form."""

    def test_policy_constants(self) -> None:
        assert MONEY_PLACES == 10

    def test_repeating_average_is_rounded_to_ten_places(self) -> None:
        assert run((BUY, "1", "10"), (BUY, "2", "11")).avg_cost == D("10.6666666667")

    @pytest.mark.parametrize(
        ("small_lot", "expected_avg"),
        [
            # exact average 1.00000000005: half-even keeps 0 (half-up would give ...01)
            ("0.00001", "1.0000000000"),
            # exact average 1.00000000015: half-even goes to 2 (half-down/down would give ...01)
            ("0.00003", "1.0000000002"),
        ],
    )
    def test_average_ties_round_half_even(self, small_lot: str, expected_avg: str) -> None:
        big_lot = str(D(200000) - D(small_lot))
        position = run((BUY, big_lot, "1"), (BUY, small_lot, "2"))
        assert position.avg_cost == D(expected_avg)

    def test_realized_uses_the_rounded_average_and_ties_round_half_even(self) -> None:
        # (12 - 10.6666666667) x 0.5 = 0.66666666665 -> 0.6666666666
        position = run((BUY, "1", "10"), (BUY, "2", "11"), (SELL, "0.5", "12"))
        assert position.realized_pnl == D("0.6666666666")

    def test_results_are_canonical(self) -> None:
        position = run((BUY, "1.5", "100"), (BUY, "1.5", "100"))
        assert str(position.quantity) == "3"
        assert str(position.avg_cost) == "100"
        assert str(position.realized_pnl) == "0"

    def test_round_money_is_the_single_quantizer(self) -> None:
        assert round_money(D("0.00000000005")) == 0
        assert round_money(D("0.00000000015")) == D("0.0000000002")
        assert round_money(D("-0.00000000025")) == D("-0.0000000002")
        assert str(round_money(D("7.50000000000"))) == "7.5"

    def test_large_values_are_rounded_once_not_by_the_default_context(self) -> None:
        # 19 integer digits: the default 28-digit context would keep only 9 places and round twice.
        position = run(
            (BUY, "500000000000000", "9000"),
            (BUY, "1000000000000000", "9001"),
            (SELL, "1499999999999999.999999", "9999.9999"),
        )
        assert position.avg_cost == D("9000.6666666667")
        # exact increment: 999.3332333333 x 1499999999999999.999999 = ...949999.9990006667666667
        assert position.realized_pnl == D("1498999849999949999.9990006668")
        assert position.quantity == D("0.000001")

    def test_quantity_is_never_rounded(self) -> None:
        position = run((BUY, "123456789012345678901234.567891", "1"), (BUY, "0.000001", "1"))
        assert position.quantity == D("123456789012345678901234.567892")


class TestSequenceGuard:
    def test_apply_fill_records_seq_and_n(self) -> None:
        position = apply_fill(Position(), side=BUY, quantity=D(1), price=D(1), seq=7, n=3)
        assert position.last_applied == (7, 3)

    @pytest.mark.parametrize(("seq", "n"), [(7, 3), (7, 2), (6, 9)])
    def test_apply_fill_refuses_an_equal_or_older_fill(self, seq: int, n: int) -> None:
        position = apply_fill(Position(), side=BUY, quantity=D(1), price=D(1), seq=7, n=3)
        with pytest.raises(StaleFill):
            apply_fill(position, side=BUY, quantity=D(1), price=D(1), seq=seq, n=n)

    def test_apply_fill_accepts_the_next_event_in_the_same_entry(self) -> None:
        position = apply_fill(Position(), side=BUY, quantity=D(1), price=D(1), seq=7, n=3)
        assert apply_fill(position, side=BUY, quantity=D(1), price=D(1), seq=7, n=4).quantity == 2

    def test_fold_skips_fills_at_or_before_last_applied(self) -> None:
        start = pos("5", "10", "0", (4, 1))
        fills = [
            Fill(side=BUY, quantity=D(100), price=D(1), seq=3, n=9),
            Fill(side=BUY, quantity=D(100), price=D(1), seq=4, n=1),
            Fill(side=SELL, quantity=D(2), price=D(20), seq=4, n=2),
        ]
        assert fold_fills(start, fills) == pos("3", "10", "20", (4, 2))

    def test_fold_orders_by_seq_then_n(self) -> None:
        fills = [
            Fill(side=SELL, quantity=D(1), price=D(20), seq=2, n=0),
            Fill(side=BUY, quantity=D(1), price=D(10), seq=1, n=1),
            Fill(side=BUY, quantity=D(1), price=D(12), seq=1, n=0),
        ]
        # in order: buy @12, buy @10 -> avg 11; sell 1 @20 -> +9
        assert fold_fills(Position(), fills) == pos("1", "11", "9", (2, 0))

    def test_fold_of_nothing_is_identity(self) -> None:
        start = pos("-2", "3", "1", (1, 0))
        assert fold_fills(start, []) is start

    def test_identical_copies_in_one_batch_count_once(self) -> None:
        fill = Fill(side=BUY, quantity=D(2), price=D(10), seq=1, n=0)
        assert fold_fills(Position(), [fill, fill, fill]) == pos("2", "10", "0", (1, 0))

    def test_self_trade_is_a_wash_that_only_advances_the_guard(self) -> None:
        start = pos("10", "100", "5", (1, 0))
        legs = [
            Fill(side=SELL, quantity=D(4), price=D(130), seq=2, n=0),
            Fill(side=BUY, quantity=D(4), price=D(130), seq=2, n=0),
        ]
        assert fold_fills(start, legs) == pos("10", "100", "5", (2, 0))
        assert fold_fills(start, list(reversed(legs))) == pos("10", "100", "5", (2, 0))

    @pytest.mark.parametrize(
        "other",
        [
            Fill(side=SELL, quantity=D(3), price=D(130), seq=2, n=0),
            Fill(side=SELL, quantity=D(4), price=D(131), seq=2, n=0),
            Fill(side=BUY, quantity=D(5), price=D(130), seq=2, n=0),
        ],
    )
    def test_contradictory_fills_for_one_key_are_refused(self, other: Fill) -> None:
        fill = Fill(side=BUY, quantity=D(4), price=D(130), seq=2, n=0)
        with pytest.raises(InvalidFill):
            fold_fills(Position(), [fill, other])


class TestValidation:
    @pytest.mark.parametrize(
        "changes",
        [
            {"quantity": 1.5},
            {"quantity": D(0)},
            {"quantity": D(-1)},
            {"quantity": D("NaN")},
            {"price": D(0)},
            {"price": D("Infinity")},
            {"price": 10},
            {"seq": -1},
            {"n": True},
            {"seq": 1.0},
            {"side": "BUY"},
        ],
    )
    def test_malformed_fills_are_refused(self, changes: dict[str, object]) -> None:
        fields: dict[str, object] = {"side": BUY, "quantity": D(1), "price": D(1), "seq": 1, "n": 0}
        fields.update(changes)
        with pytest.raises(InvalidFill):
            Fill(**fields)  # type: ignore[arg-type]
        with pytest.raises(InvalidFill):
            apply_fill(Position(), **fields)  # type: ignore[arg-type]

    def test_invalid_fill_is_a_400_problem(self) -> None:
        assert InvalidFill.status == 400
        assert StaleFill.status == 409

    @pytest.mark.parametrize(
        "changes",
        [
            {"quantity": D(0), "avg_cost": D(1)},
            {"quantity": D(1), "avg_cost": D(-1)},
            {"realized_pnl": 0.1},
            {"last_applied": (-1, 0)},
        ],
    )
    def test_inconsistent_positions_are_refused(self, changes: dict[str, object]) -> None:
        with pytest.raises(InvalidPosition):
            Position(**changes)  # type: ignore[arg-type]
