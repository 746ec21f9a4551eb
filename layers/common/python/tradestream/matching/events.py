"""Trade and OrderUpdate, the immutable events a book emits, and the fast builders the engine uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TypeAlias, cast

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
# The engine builds events through these twins instead: same slot names (so CPython allows the
# __class__ switch), positional arguments, plain slot stores, then the object becomes the frozen type.
# The result is indistinguishable from a keyword-built instance (tests/unit/matching/test_events.py).
class _TradeBuilder:
    __slots__ = tuple(field.name for field in fields(Trade))

    def __init__(  # noqa: PLR0917  (positional on purpose: keyword calls cost more)
        self,
        maker_order_id: str,
        taker_order_id: str,
        maker_user_id: str,
        taker_user_id: str,
        taker_side: Side,
        price: int,
        quantity: int,
    ) -> None:
        self.maker_order_id = maker_order_id
        self.taker_order_id = taker_order_id
        self.maker_user_id = maker_user_id
        self.taker_user_id = taker_user_id
        self.taker_side = taker_side
        self.price = price
        self.quantity = quantity
        self.__class__ = Trade  # type: ignore[assignment]


class _OrderUpdateBuilder:
    __slots__ = tuple(field.name for field in fields(OrderUpdate))

    def __init__(  # noqa: PLR0917  (positional on purpose: keyword calls cost more)
        self,
        order_id: str,
        user_id: str,
        status: OrderStatus,
        filled_quantity: int,
        remaining_quantity: int,
        last_fill_price: int | None,
        filled_notional: int,
        reason: str | None,
    ) -> None:
        self.order_id = order_id
        self.user_id = user_id
        self.status = status
        self.filled_quantity = filled_quantity
        self.remaining_quantity = remaining_quantity
        self.last_fill_price = last_fill_price
        self.filled_notional = filled_notional
        self.reason = reason
        self.__class__ = OrderUpdate  # type: ignore[assignment]


new_trade = cast(Callable[[str, str, str, str, Side, int, int], Trade], _TradeBuilder)
new_update = cast(
    Callable[[str, str, OrderStatus, int, int, "int | None", int, "str | None"], OrderUpdate],
    _OrderUpdateBuilder,
)
