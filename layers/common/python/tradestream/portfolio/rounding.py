"""The portfolio's one rounding policy: every derived money value is quantized here and only here."""

from __future__ import annotations

from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

from tradestream.money import canonical

MONEY_PLACES = 10
MONEY_ROUNDING = ROUND_HALF_EVEN
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)

# Arithmetic runs in this context so the only rounding is round_money's: the default 28-digit context
# would silently round (10-place average) x (quantity up to 10^9 with 6 places).
EXACT = Context(prec=64, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


def round_money(value: Decimal) -> Decimal:
    """Quantize to 10 decimal places with ROUND_HALF_EVEN, then canonical form (``money.canonical``).

    The policy, applied by calling this function and nothing else:
    * ``quantity`` is never rounded: it is a sum of exact fill quantities.
    * ``avg_cost`` and ``realized_pnl`` go through here after every fill; ``market_value`` and
      ``unrealized_pnl`` on every valuation; summary totals once more (a no-op on sums of rounded values).
    * A realized-PnL increment is computed from the stored, already rounded ``avg_cost``, so a position
      replayed from the journal reproduces the live projection digit for digit.
    * ``market_value`` is exact on the exchange grid (6 + 4 places), so quantizing it changes nothing
      there; it only bites for a price finer than the grid.
    * Canonical form makes equal values serialise identically ("10", not "10.0000000000").
    """
    with localcontext(EXACT):
        # canonical() normalizes in the current context: under the default 28 digits it would round again.
        return canonical(value.quantize(_QUANTUM, rounding=MONEY_ROUNDING))
