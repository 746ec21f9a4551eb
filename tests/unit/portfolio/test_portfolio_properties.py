"""Properties of the position fold: conservation, idempotence, batch independence, symmetry."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal, localcontext
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from tradestream.money import lots_to_quantity, ticks_to_price
from tradestream.portfolio import (
    Fill,
    JournalRow,
    Position,
    Side,
    apply_fill,
    fold_fills,
    replay_journal,
)
from tradestream.portfolio.rounding import EXACT

FAST = settings(max_examples=200, deadline=None)

# Small lot counts make fills collide with the position (exact closes, flips); large ones stress rounding.
lots = st.one_of(st.integers(1, 5), st.integers(1, 5_000_000), st.integers(1, 10**12)).map(
    lambda value: value * 1_000_000 if value <= 5 else value
)
ticks = st.one_of(st.sampled_from([10_000, 10_500, 9_900]), st.integers(1, 50_000_000))
sides = st.sampled_from(Side)


@st.composite
def fill_streams(draw: st.DrawFn, max_size: int = 30) -> list[Fill]:
    """Fills with strictly increasing (seq, n), several events per log entry now and then."""
    specs = draw(st.lists(st.tuples(sides, lots, ticks, st.booleans()), max_size=max_size))
    fills: list[Fill] = []
    seq, n = 1, 0
    for side, lot_count, tick_count, same_entry in specs:
        seq, n = (seq, n + 1) if same_entry else (seq + draw(st.integers(1, 3)), 0)
        fills.append(
            Fill(
                side=side,
                quantity=lots_to_quantity(lot_count),
                price=ticks_to_price(tick_count),
                seq=seq,
                n=n,
            )
        )
    return fills


def split(items: Sequence[Fill], cuts: Sequence[int]) -> list[list[Fill]]:
    bounds = [0, *sorted(cut % (len(items) + 1) for cut in cuts), len(items)]
    return [list(items[a:b]) for a, b in pairwise(bounds)]


def mirrored(fill: Fill) -> Fill:
    side = Side.SELL if fill.side is Side.BUY else Side.BUY
    return Fill(side=side, quantity=fill.quantity, price=fill.price, seq=fill.seq, n=fill.n)


@FAST
@given(fill_streams())
def test_quantity_is_buys_minus_sells(fills: list[Fill]) -> None:
    position = fold_fills(Position(), fills)
    with localcontext(EXACT):
        bought = sum((f.quantity for f in fills if f.side is Side.BUY), Decimal(0))
        sold = sum((f.quantity for f in fills if f.side is Side.SELL), Decimal(0))
        assert position.quantity == bought - sold


@FAST
@given(fill_streams())
def test_realized_plus_open_cost_basis_equals_cash_flow(fills: list[Fill]) -> None:
    """Average cost conserves basis: realized = net cash received + quantity x avg (up to rounding)."""
    position = fold_fills(Position(), fills)
    with localcontext(EXACT):
        cash = sum((f.price * -f.signed_quantity for f in fills), Decimal(0))
        gap = abs(position.realized_pnl - (cash + position.quantity * position.avg_cost))
        # each fill rounds the average (error <= 0.5e-10 per unit held) and the realized PnL (<= 0.5e-10)
        held = sum((f.quantity for f in fills), Decimal(0))
        assert gap <= len(fills) * (held + 1) * Decimal("1e-10")


@FAST
@given(fill_streams())
def test_flat_means_zero_average_and_average_is_never_negative(fills: list[Fill]) -> None:
    position = Position()
    for fill in fills:
        position = fold_fills(position, [fill])
        assert position.avg_cost >= 0
        assert (position.quantity == 0) <= (position.avg_cost == 0)
        assert position.avg_cost.as_tuple().exponent >= -10  # type: ignore[operator]
        assert position.realized_pnl.as_tuple().exponent >= -10  # type: ignore[operator]


@FAST
@given(fill_streams())
def test_folding_the_same_fills_twice_equals_once(fills: list[Fill]) -> None:
    once = fold_fills(Position(), fills)
    assert fold_fills(once, fills) == once
    assert fold_fills(Position(), fills + fills) == once


@FAST
@given(fill_streams(), st.lists(st.integers(0, 1000), max_size=6))
def test_any_batch_split_gives_the_same_position(fills: list[Fill], cuts: list[int]) -> None:
    position = Position()
    for batch in split(fills, cuts):
        position = fold_fills(position, batch)
    assert position == fold_fills(Position(), fills)


@FAST
@given(fill_streams(), st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), max_size=4))
def test_redelivered_and_overlapping_batches_change_nothing(
    fills: list[Fill], replays: list[tuple[int, int]]
) -> None:
    """Like a Kinesis retry or a replay from TRIM_HORIZON: ranges already applied come back."""
    position = fold_fills(Position(), fills)
    for a, b in replays:
        lo, hi = sorted((a % (len(fills) + 1), b % (len(fills) + 1)))
        position = fold_fills(position, fills[lo:hi])
    assert position == fold_fills(Position(), fills)


@FAST
@given(fill_streams())
def test_apply_fill_one_by_one_equals_the_fold(fills: list[Fill]) -> None:
    position = Position()
    for f in fills:
        position = apply_fill(position, side=f.side, quantity=f.quantity, price=f.price, seq=f.seq, n=f.n)
    assert position == fold_fills(Position(), fills)


@FAST
@given(fill_streams())
def test_mirrored_stream_is_the_mirrored_position(fills: list[Fill]) -> None:
    """Swapping every side turns longs into shorts: same average, opposite quantity and realized PnL."""
    position = fold_fills(Position(), fills)
    mirror = fold_fills(Position(), [mirrored(f) for f in fills])
    assert mirror.quantity == -position.quantity
    assert mirror.avg_cost == position.avg_cost
    assert mirror.realized_pnl == -position.realized_pnl


@FAST
@given(fill_streams(), st.randoms(use_true_random=False))
def test_journal_replay_equals_the_live_fold(fills: list[Fill], rng: random.Random) -> None:
    """Two counterparties per trade, rows in any order: each account's replay equals its own fold."""
    rows = [
        JournalRow(
            user_id=user, ticker="ACME", side=side, quantity=f.quantity, price=f.price, seq=f.seq, n=f.n
        )
        for f in fills
        for user, side in (("taker", f.side), ("maker", mirrored(f).side))
    ]
    rng.shuffle(rows)
    replayed = replay_journal(rows)
    if fills:
        assert replayed[("taker", "ACME")] == fold_fills(Position(), fills)
        assert replayed[("maker", "ACME")] == fold_fills(Position(), [mirrored(f) for f in fills])
    else:
        assert replayed == {}
