"""Trade and OrderUpdate, the immutable events a book emits, and the fast builders the engine uses."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypeAlias

from tradestream.matching.enums import OrderStatus, Side


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade:
    """One fill, always at the maker's (resting) price."""

    maker_order_id: str
    taker_order_id: str
    maker_user_id: str
    taker_user_id: str
    taker_side: Side
    price: int
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate:
    """An order's state after a command.

    `remaining_quantity` is quantity - filled_quantity (for a final status: the part that never traded);
    `filled_notional` is sum(price * quantity) over the order's fills, so the average price is
    filled_notional / filled_quantity; `last_fill_price` is None until the first fill.
    """

    order_id: str
    user_id: str
    status: OrderStatus
    filled_quantity: int
    remaining_quantity: int
    last_fill_price: int | None
    filled_notional: int
    reason: str | None


Event: TypeAlias = Trade | OrderUpdate


# A frozen dataclass's __init__ takes keywords and sets each field through object.__setattr__: about
# 1.7 us per OrderUpdate on the benchmark machine, more than the rest of a resting order's work.
# The engine builds events another way: a bare instance of a twin class with the same slot names (so
# CPython allows the __class__ switch), plain slot stores, then the object becomes the frozen type.
# The result is indistinguishable from a keyword-built instance (tests/unit/matching/test_matching_events.py).
class _TradeTwin:
    __slots__ = tuple(field.name for field in fields(Trade))


class _OrderUpdateTwin:
    __slots__ = tuple(field.name for field in fields(OrderUpdate))


def new_trade(  # noqa: PLR0917  (positional on purpose: keyword calls cost more)
    maker_order_id: str,
    taker_order_id: str,
    maker_user_id: str,
    taker_user_id: str,
    taker_side: Side,
    price: int,
    quantity: int,
) -> Trade:
    trade: Any = _TradeTwin()
    trade.maker_order_id = maker_order_id
    trade.taker_order_id = taker_order_id
    trade.maker_user_id = maker_user_id
    trade.taker_user_id = taker_user_id
    trade.taker_side = taker_side
    trade.price = price
    trade.quantity = quantity
    trade.__class__ = Trade
    built: Trade = trade
    return built


def new_update(  # noqa: PLR0917  (positional on purpose: keyword calls cost more)
    order_id: str,
    user_id: str,
    status: OrderStatus,
    filled_quantity: int,
    remaining_quantity: int,
    last_fill_price: int | None,
    filled_notional: int,
    reason: str | None,
) -> OrderUpdate:
    update: Any = _OrderUpdateTwin()
    update.order_id = order_id
    update.user_id = user_id
    update.status = status
    update.filled_quantity = filled_quantity
    update.remaining_quantity = remaining_quantity
    update.last_fill_price = last_fill_price
    update.filled_notional = filled_notional
    update.reason = reason
    update.__class__ = OrderUpdate
    built: OrderUpdate = update
    return built
