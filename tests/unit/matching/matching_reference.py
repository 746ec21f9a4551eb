"""A deliberately simple reference model of the matching rules: one flat list of resting orders."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from tradestream.matching import (
    Event,
    NewOrder,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Reason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)

LIMIT_MAX = (1 << 63) - 1


@dataclass
class RefOrder:
    order_id: str
    user_id: str
    side: Side
    price: int
    quantity: int
    arrival: int
    filled: int = 0
    notional: int = 0
    last: int | None = None

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled


class ReferenceBook:
    """Everything is recomputed from one flat list on every step; slow on purpose, obvious on purpose."""

    def __init__(self) -> None:
        self.resting: list[RefOrder] = []
        self.arrivals = 0

    # -- the rules, written out plainly ----------------------------------------------------------

    def place(self, order: NewOrder) -> list[Event]:
        if not self._valid(order):
            return [self._rejected(order, Reason.INVALID_ORDER)]
        if any(r.order_id == order.order_id for r in self.resting):
            return [self._rejected(order, Reason.DUPLICATE_ORDER_ID)]
        if order.post_only and self._crossing(order):
            return [self._rejected(order, Reason.POST_ONLY_WOULD_CROSS)]
        if order.time_in_force is TimeInForce.FOK:
            trial = copy.deepcopy(self)
            trial_events = trial._execute(order)
            final = trial_events[-1]
            assert isinstance(final, OrderUpdate)
            if final.status is not OrderStatus.FILLED:
                return [self._rejected(order, Reason.FOK_NOT_FILLABLE)]
        return self._execute(order)

    def cancel(self, order_id: str) -> list[Event]:
        for resting in self.resting:
            if resting.order_id == order_id:
                self.resting.remove(resting)
                return [
                    OrderUpdate(
                        order_id=order_id,
                        user_id=resting.user_id,
                        status=OrderStatus.CANCELED,
                        filled_quantity=resting.filled,
                        remaining_quantity=resting.remaining,
                        last_fill_price=resting.last,
                        filled_notional=resting.notional,
                        reason=Reason.CANCELED_BY_USER,
                    )
                ]
        return []

    def _execute(self, order: NewOrder) -> list[Event]:
        events: list[Event] = []
        filled = notional = 0
        last: int | None = None
        stopped: OrderStatus | None = None
        for maker in self._crossing(order):
            if filled == order.quantity:
                break
            if maker.user_id == order.user_id and order.self_trade_prevention is not SelfTradePrevention.NONE:
                mode = order.self_trade_prevention
                if mode is SelfTradePrevention.CANCEL_TAKER:
                    stopped = OrderStatus.CANCELED
                    break
                if mode is SelfTradePrevention.EXPIRE_TAKER:
                    stopped = OrderStatus.EXPIRED
                    break
                self.resting.remove(maker)
                events.append(self._update(maker, OrderStatus.EXPIRED, Reason.SELF_TRADE_PREVENTION))
                if mode is SelfTradePrevention.EXPIRE_BOTH:
                    stopped = OrderStatus.EXPIRED
                    break
                continue
            quantity = min(order.quantity - filled, maker.remaining)
            filled += quantity
            notional += quantity * maker.price
            last = maker.price
            maker.filled += quantity
            maker.notional += quantity * maker.price
            maker.last = maker.price
            events.append(
                Trade(
                    maker_order_id=maker.order_id,
                    taker_order_id=order.order_id,
                    maker_user_id=maker.user_id,
                    taker_user_id=order.user_id,
                    taker_side=order.side,
                    price=maker.price,
                    quantity=quantity,
                )
            )
            if maker.remaining == 0:
                self.resting.remove(maker)
                events.append(self._update(maker, OrderStatus.FILLED, None))
            else:
                events.append(self._update(maker, OrderStatus.PARTIALLY_FILLED, None))
        remaining = order.quantity - filled
        reason: Reason | None = None
        if stopped is not None:
            status, reason = stopped, Reason.SELF_TRADE_PREVENTION
        elif remaining == 0:
            status = OrderStatus.FILLED
        elif order.type is OrderType.LIMIT and order.time_in_force is TimeInForce.GTC:
            assert order.price is not None
            self.arrivals += 1
            self.resting.append(
                RefOrder(
                    order.order_id,
                    order.user_id,
                    order.side,
                    order.price,
                    order.quantity,
                    self.arrivals,
                    filled,
                    notional,
                    last,
                )
            )
            status = OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.NEW
        else:
            status = OrderStatus.EXPIRED
            reason = Reason.NO_LIQUIDITY if order.type is OrderType.MARKET else Reason.IOC_REMAINDER
        events.append(
            OrderUpdate(
                order_id=order.order_id,
                user_id=order.user_id,
                status=status,
                filled_quantity=filled,
                remaining_quantity=remaining,
                last_fill_price=last,
                filled_notional=notional,
                reason=reason,
            )
        )
        return events

    def _crossing(self, order: NewOrder) -> list[RefOrder]:
        """Opposite resting orders the order may trade with, in the order it would meet them."""
        if order.side is Side.BUY:
            makers = [r for r in self.resting if r.side is Side.SELL]
            if order.price is not None:
                makers = [r for r in makers if r.price <= order.price]
            return sorted(makers, key=lambda r: (r.price, r.arrival))
        makers = [r for r in self.resting if r.side is Side.BUY]
        if order.price is not None:
            makers = [r for r in makers if r.price >= order.price]
        return sorted(makers, key=lambda r: (-r.price, r.arrival))

    @staticmethod
    def _valid(order: NewOrder) -> bool:
        enums_ok = (
            type(order.side) is Side
            and type(order.type) is OrderType
            and type(order.time_in_force) is TimeInForce
            and type(order.self_trade_prevention) is SelfTradePrevention
            and type(order.post_only) is bool
        )
        if not enums_ok or type(order.quantity) is not int or not 0 < order.quantity <= LIMIT_MAX:
            return False
        if order.type is OrderType.MARKET:
            return order.price is None and not order.post_only
        if type(order.price) is not int or not 0 < order.price <= LIMIT_MAX:
            return False
        return not order.post_only or order.time_in_force is TimeInForce.GTC

    @staticmethod
    def _rejected(order: NewOrder, reason: Reason) -> OrderUpdate:
        quantity = order.quantity if type(order.quantity) is int and order.quantity > 0 else 0
        return OrderUpdate(
            order_id=order.order_id,
            user_id=order.user_id,
            status=OrderStatus.REJECTED,
            filled_quantity=0,
            remaining_quantity=quantity,
            last_fill_price=None,
            filled_notional=0,
            reason=reason,
        )

    @staticmethod
    def _update(maker: RefOrder, status: OrderStatus, reason: Reason | None) -> OrderUpdate:
        return OrderUpdate(
            order_id=maker.order_id,
            user_id=maker.user_id,
            status=status,
            filled_quantity=maker.filled,
            remaining_quantity=maker.remaining,
            last_fill_price=maker.last,
            filled_notional=maker.notional,
            reason=reason,
        )

    # -- what the book looks like ------------------------------------------------------------------

    def priority_order(self) -> list[tuple[str, str, Side, int, int, int, int, int | None]]:
        """(id, user, side, price, quantity, filled, notional, last): bids best first, then asks."""
        bids = sorted((r for r in self.resting if r.side is Side.BUY), key=lambda r: (-r.price, r.arrival))
        asks = sorted((r for r in self.resting if r.side is Side.SELL), key=lambda r: (r.price, r.arrival))
        return [
            (r.order_id, r.user_id, r.side, r.price, r.quantity, r.filled, r.notional, r.last)
            for r in bids + asks
        ]

    def depth(self, levels: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        def side_depth(side: Side, best_first: bool) -> list[tuple[int, int, int]]:
            prices = sorted({r.price for r in self.resting if r.side is side}, reverse=best_first)
            rows = []
            for price in prices[: max(levels, 0)]:
                at = [r for r in self.resting if r.side is side and r.price == price]
                rows.append((price, sum(r.remaining for r in at), len(at)))
            return rows

        return side_depth(Side.BUY, True), side_depth(Side.SELL, False)
