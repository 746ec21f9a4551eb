"""Decimal at the edges, integer ticks and lots inside: the one place that converts between them."""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation

PRICE_DECIMALS = 4
QUANTITY_DECIMALS = 6
PRICE_SCALE = 10**PRICE_DECIMALS
QUANTITY_SCALE = 10**QUANTITY_DECIMALS
MAX_QUANTITY = Decimal("1000000000")
_EXACT = Context(prec=200)


class PrecisionError(ValueError):
    """A decimal carries more places than its unit allows, or is not a finite number."""


def _to_units(value: Decimal, decimals: int) -> int:
    if not value.is_finite():
        raise PrecisionError(f"{value} is not a finite number")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise PrecisionError(f"{value} has more than {decimals} decimal places")
    return int(scaled)


def price_to_ticks(price: Decimal) -> int:
    """Exact conversion of a price to ticks of 10^-4; refuses anything finer."""
    return _to_units(price, PRICE_DECIMALS)


def quantity_to_lots(quantity: Decimal) -> int:
    """Exact conversion of a quantity to lots of 10^-6; refuses anything finer."""
    return _to_units(quantity, QUANTITY_DECIMALS)


def ticks_to_price(ticks: int) -> Decimal:
    return canonical(Decimal(ticks).scaleb(-PRICE_DECIMALS))


def lots_to_quantity(lots: int) -> Decimal:
    return canonical(Decimal(lots).scaleb(-QUANTITY_DECIMALS))


def canonical(value: Decimal) -> Decimal:
    """The canonical form of a decimal: no exponent, no trailing zeros ("10", "0.5", "-1.25")."""
    if value == 0:
        return Decimal(0)
    # normalize() rounds to the context's precision (28 digits by default); money must never round here.
    normalized = value.normalize(_EXACT)
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normalized.quantize(Decimal(1), context=_EXACT)
    return normalized


def to_str(value: Decimal) -> str:
    """Decimals leave the system as strings in canonical form."""
    return format(canonical(value), "f")


def parse_decimal(raw: object) -> Decimal:
    """Accepts a JSON number or string; refuses floats' binary noise by going through str."""
    if isinstance(raw, bool):
        raise PrecisionError("a boolean is not a number")
    try:
        return Decimal(str(raw).strip())
    except (InvalidOperation, ValueError) as exc:
        raise PrecisionError(f"{raw!r} is not a decimal number") from exc
