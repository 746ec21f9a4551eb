"""OrderBook: price-time priority matching, cancels, depth, snapshots and equality for one ticker."""

from __future__ import annotations

from collections.abc import Callable
from heapq import nsmallest
from typing import Any

from tradestream.matching.commands import MAX_UNITS, NewOrder
from tradestream.matching.enums import (
    OrderStatus,
    OrderType,
    Reason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from tradestream.matching.events import Event, new_trade, new_update
from tradestream.matching.levels import COMPACT_AT, BookSide, RestingOrder, RestingOrderState, new_resting
from tradestream.matching.snapshot import CorruptSnapshot, decode_snapshot, encode_snapshot

# Every level key (a price, or a negated price for bids) is below this, so a market order crosses all.
_NO_LIMIT = 1 << 63

_BUY = Side.BUY
_SELL = Side.SELL
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_GTC = TimeInForce.GTC
_FOK = TimeInForce.FOK
_STP_NONE = SelfTradePrevention.NONE
_NEW = OrderStatus.NEW
_PARTIAL = OrderStatus.PARTIALLY_FILLED
_FILLED = OrderStatus.FILLED
_CANCELED = OrderStatus.CANCELED
_EXPIRED = OrderStatus.EXPIRED
_REJECTED = OrderStatus.REJECTED

# What matching left of a taker: (remaining, filled, notional, last fill price, status forced by STP).
_Outcome = tuple[int, int, int, int | None, OrderStatus | None]


class OrderBook:
    """The resting orders of one ticker and the rules that match against them.

    Time priority is the order of `place()` calls (the lane's sequence), never a clock. Trades print at
    the maker's price; a taker sweeps every level it crosses. Events come back in the order they
    happen: for each fill its `Trade`, then the maker's `OrderUpdate`; the taker's single
    `OrderUpdate` comes last.

    Self-trade prevention (the taker's mode decides; it applies only to own orders the taker would
    actually trade with): CANCEL_TAKER stops matching and the taker ends CANCELED; EXPIRE_TAKER stops
    it and the taker ends EXPIRED; EXPIRE_MAKER removes the own resting order (EXPIRED) and matching
    goes on; EXPIRE_BOTH expires the own resting order and the taker. In every case the reason is
    SELF_TRADE_PREVENTION and a stopped GTC remainder does not rest. NONE lets the self trade happen.

    FOK: accepted only if matching it now would fill it completely with its STP mode applied exactly
    as matching applies it: an own resting order met before the quantity is reached stops the walk for
    CANCEL_TAKER, EXPIRE_TAKER and EXPIRE_BOTH (so the FOK is not fillable) and is skipped, without
    counting, for EXPIRE_MAKER. A rejected FOK changes nothing, not even an own order it would have
    expired; an accepted FOK with EXPIRE_MAKER expires the own orders it passes, as a normal order would.
    """

    __slots__ = ("_asks", "_bids", "_orders")

    def __init__(self) -> None:
        self._bids = BookSide(_BUY)
        self._asks = BookSide(_SELL)
        self._orders: dict[str, RestingOrderState] = {}

    # -- commands ------------------------------------------------------------------------------

    def place(self, order: NewOrder) -> list[Event]:
        """Match `order` against the book, rest a GTC LIMIT remainder, and return what happened."""
        price = order.price
        quantity = order.quantity
        side = order.side
        # The bulk of the traffic, a plain GTC LIMIT, is checked and placed right here; every other
        # kind, and anything malformed, goes the general way (_place_other), which validates in full.
        if not (
            order.type is _LIMIT
            and order.time_in_force is _GTC
            and order.post_only is False
            and (side is _BUY or side is _SELL)
            and type(price) is int
            and type(quantity) is int
            and 0 < price <= MAX_UNITS
            and 0 < quantity <= MAX_UNITS
            and type(order.self_trade_prevention) is SelfTradePrevention
        ):
            return self._place_other(order)
        order_id = order.order_id
        if order_id in self._orders:
            return [_reject(order, Reason.DUPLICATE_ORDER_ID)]
        if side is _BUY:
            opposite, own, limit_key = self._asks, self._bids, price
        else:
            opposite, own, limit_key = self._bids, self._asks, -price
        heap = opposite.heap
        if heap and heap[0] <= limit_key:
            return self._take(order, opposite, own, limit_key)
        # It crosses nothing, so it rests whole: BookSide.rest, inlined.
        user_id = order.user_id
        key = -limit_key  # its key on its own side
        level = own.levels.get(key)
        if level is None:
            level = own.open_level(key, price)
        state = new_resting(level, order_id, user_id, quantity, 0, 0, None)
        level.queue.append(state)
        level.qty += quantity
        level.count += 1
        self._orders[order_id] = state
        return [new_update(order_id, user_id, _NEW, 0, quantity, None, 0, None)]

    def cancel(self, order_id: str) -> list[Event]:
        """Take a resting order off the book: its CANCELED update, or [] if it is not resting."""
        state = self._orders.pop(order_id, None)
        if state is None:
            return []
        remaining = state.remaining
        level = state.level
        if level.count > 1 and level.dead < COMPACT_AT:  # Level.withdraw's common case, inlined
            level.count -= 1
            level.qty -= remaining
            level.dead += 1
            state.remaining = 0
        else:
            level.withdraw(state)
        return [
            new_update(
                order_id,
                state.user_id,
                _CANCELED,
                state.filled,
                remaining,
                state.last_price,
                state.notional,
                Reason.CANCELED_BY_USER,
            )
        ]

    # -- queries ------------------------------------------------------------------------------

    def depth(self, levels: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(price, total quantity, order count) per level, best first: (bids, asks)."""
        return _depth(self._bids, levels), _depth(self._asks, levels)

    def get(self, order_id: str) -> RestingOrder | None:
        state = self._orders.get(order_id)
        return None if state is None else _view(state)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    def orders(self) -> list[RestingOrder]:
        """Every resting order in priority order: bids best first, then asks best first."""
        return [_view(state) for side in (self._bids, self._asks) for state in _in_priority(side)]

    # -- persistence and comparison ------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable image of the book (str/int/list/dict only); `restore` inverts it."""
        return encode_snapshot(
            [_row(state) for state in _in_priority(self._bids)],
            [_row(state) for state in _in_priority(self._asks)],
        )

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> OrderBook:
        """The book a snapshot was taken of, time priority and partial fills included."""
        book = cls()
        bids, asks = decode_snapshot(snapshot)
        for side, rows in ((book._bids, bids), (book._asks, asks)):
            for order_id, user_id, price, quantity, filled, notional, last_price in rows:
                if order_id in book._orders:
                    raise CorruptSnapshot(f"order {order_id!r} appears twice")
                book._orders[order_id] = side.rest(
                    order_id, user_id, price, quantity - filled, filled, notional, last_price
                )
        return book

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderBook):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        bids, asks = self.depth(1)
        return f"OrderBook(orders={len(self._orders)}, best_bid={bids[:1]}, best_ask={asks[:1]})"

    # -- matching internals --------------------------------------------------------------------

    def _place_other(self, order: NewOrder) -> list[Event]:
        """IOC, FOK, MARKET, postOnly and malformed orders."""
        if not _is_valid(order):
            return [_reject(order, Reason.INVALID_ORDER)]
        if order.order_id in self._orders:
            return [_reject(order, Reason.DUPLICATE_ORDER_ID)]
        price = order.price  # validated: None exactly for MARKET
        if order.side is _BUY:
            opposite, own = self._asks, self._bids
            limit_key = _NO_LIMIT if price is None else price
        else:
            opposite, own = self._bids, self._asks
            limit_key = _NO_LIMIT if price is None else -price
        heap = opposite.heap
        if heap and heap[0] <= limit_key:
            return self._take(order, opposite, own, limit_key)
        if order.time_in_force is _FOK:
            return [_reject(order, Reason.FOK_NOT_FILLABLE)]
        return [self._settle_taker(order, own, (order.quantity, 0, 0, None, None))]

    def _take(self, order: NewOrder, opposite: BookSide, own: BookSide, limit_key: int) -> list[Event]:
        """Place an order that crosses the best opposite level."""
        if order.post_only:
            return [_reject(order, Reason.POST_ONLY_WOULD_CROSS)]
        if order.time_in_force is _FOK and not self._fillable(order, opposite, limit_key):
            return [_reject(order, Reason.FOK_NOT_FILLABLE)]
        events: list[Event] = []
        outcome = self._match(order, opposite, limit_key, events)
        events.append(self._settle_taker(order, own, outcome))
        return events

    def _match(self, order: NewOrder, opposite: BookSide, limit_key: int, events: list[Event]) -> _Outcome:
        """Cross `order` against `opposite` up to `limit_key`, appending Trades and maker updates."""
        emit = events.append
        orders = self._orders
        heap = opposite.heap
        levels = opposite.levels
        taker_id, taker_user, taker_side, remaining = (
            order.order_id,
            order.user_id,
            order.side,
            order.quantity,
        )
        check_stp = order.self_trade_prevention is not _STP_NONE
        notional = 0
        last: int | None = None
        while remaining and heap and heap[0] <= limit_key:
            level = levels[heap[0]]
            queue = level.queue
            price = level.price
            while remaining:
                maker = queue[0]
                available = maker.remaining
                if not available:  # canceled earlier; its deque entry dies when it reaches the head
                    queue.popleft()
                    level.dead -= 1
                    continue
                if check_stp and maker.user_id == taker_user:
                    stopped = self._prevent_self_trade(order, maker, opposite, emit)
                    if stopped is not None:
                        return remaining, order.quantity - remaining, notional, last, stopped
                    if level.count:
                        continue
                    break
                fill = remaining if remaining < available else available
                remaining -= fill
                value = price * fill
                notional += value
                last = price
                maker_filled = maker.filled = maker.filled + fill
                maker_notional = maker.notional = maker.notional + value
                maker.last_price = price
                level.qty -= fill
                maker_id = maker.order_id
                emit(new_trade(maker_id, taker_id, maker.user_id, taker_user, taker_side, price, fill))
                left = maker.remaining = available - fill
                if left:
                    status = _PARTIAL
                else:
                    queue.popleft()
                    del orders[maker_id]
                    status = _FILLED
                    level.count -= 1
                emit(
                    new_update(
                        maker_id, maker.user_id, status, maker_filled, left, price, maker_notional, None
                    )
                )
                if not level.count:
                    opposite.drop_level(heap[0])
                    break
        return remaining, order.quantity - remaining, notional, last, None

    def _prevent_self_trade(
        self, order: NewOrder, maker: RestingOrderState, opposite: BookSide, emit: Callable[[Event], None]
    ) -> OrderStatus | None:
        """Apply the taker's STP mode to `maker`, an own order at the head of the best level.

        Returns the status that ends the taker, or None when matching goes on.
        """
        mode = order.self_trade_prevention
        if mode is SelfTradePrevention.CANCEL_TAKER:
            return _CANCELED
        if mode is SelfTradePrevention.EXPIRE_TAKER:
            return _EXPIRED
        level = maker.level
        level.queue.popleft()
        del self._orders[maker.order_id]
        level.qty -= maker.remaining
        level.count -= 1
        emit(
            new_update(
                maker.order_id,
                maker.user_id,
                _EXPIRED,
                maker.filled,
                maker.remaining,
                maker.last_price,
                maker.notional,
                Reason.SELF_TRADE_PREVENTION,
            )
        )
        maker.remaining = 0
        if not level.count:
            opposite.drop_level(level.key)
        return _EXPIRED if mode is SelfTradePrevention.EXPIRE_BOTH else None

    def _fillable(self, order: NewOrder, opposite: BookSide, limit_key: int) -> bool:
        """Would matching `order` now fill it completely? Reads the book, never changes it."""
        needed = order.quantity
        if sum(level.qty for key, level in opposite.levels.items() if key <= limit_key) < needed:
            return False
        mode = order.self_trade_prevention
        if mode is _STP_NONE:
            return True
        user = order.user_id
        for level in opposite.crossing(limit_key):
            for maker in level.live():
                if maker.user_id == user:
                    if mode is SelfTradePrevention.EXPIRE_MAKER:
                        continue
                    return False
                needed -= maker.remaining
                if needed <= 0:
                    return True
        return False

    def _settle_taker(self, order: NewOrder, own: BookSide, outcome: _Outcome) -> Event:
        """The taker's one update: stopped by STP, FILLED, resting (GTC LIMIT) or EXPIRED."""
        remaining, filled, notional, last, stopped = outcome
        reason: Reason | None = None
        if stopped is not None:
            status = stopped
            reason = Reason.SELF_TRADE_PREVENTION
        elif not remaining:
            status = _FILLED
        elif order.time_in_force is _GTC and order.price is not None:  # GTC LIMIT; MARKET GTC acts as IOC
            self._orders[order.order_id] = own.rest(
                order.order_id, order.user_id, order.price, remaining, filled, notional, last
            )
            status = _PARTIAL if filled else _NEW
        else:
            status = _EXPIRED
            reason = Reason.NO_LIQUIDITY if order.type is _MARKET else Reason.IOC_REMAINDER
        return new_update(order.order_id, order.user_id, status, filled, remaining, last, notional, reason)


def _is_valid(order: NewOrder) -> bool:
    """Enum members (not their strings), a positive int quantity, an int price > 0 exactly when LIMIT,
    postOnly only on LIMIT GTC, every number within a signed 64-bit integer."""
    quantity = order.quantity
    if type(quantity) is not int or not 0 < quantity <= MAX_UNITS:
        return False
    tif = order.time_in_force
    if (
        type(order.side) is not Side
        or type(tif) is not TimeInForce
        or type(order.self_trade_prevention) is not SelfTradePrevention
    ):
        return False
    post_only = order.post_only
    price = order.price
    if order.type is _LIMIT:
        return (
            type(price) is int
            and 0 < price <= MAX_UNITS
            and (post_only is False or (post_only is True and tif is _GTC))
        )
    return order.type is _MARKET and price is None and post_only is False


def _reject(order: NewOrder, reason: Reason) -> Event:
    quantity = order.quantity if type(order.quantity) is int and order.quantity > 0 else 0
    return new_update(order.order_id, order.user_id, _REJECTED, 0, quantity, None, 0, reason)


def _depth(side: BookSide, count: int) -> list[tuple[int, int, int]]:
    if count <= 0:
        return []
    levels = side.levels
    return [(levels[key].price, levels[key].qty, levels[key].count) for key in nsmallest(count, levels)]


def _in_priority(side: BookSide) -> list[RestingOrderState]:
    return [state for level in side.best_first() for state in level.live()]


def _view(state: RestingOrderState) -> RestingOrder:
    return RestingOrder(
        order_id=state.order_id,
        user_id=state.user_id,
        side=state.level.book_side.side,
        price=state.level.price,
        quantity=state.filled + state.remaining,
        filled_quantity=state.filled,
        remaining_quantity=state.remaining,
        filled_notional=state.notional,
        last_fill_price=state.last_price,
    )


def _row(state: RestingOrderState) -> tuple[str, str, int, int, int, int, int | None]:
    return (
        state.order_id,
        state.user_id,
        state.level.price,
        state.filled + state.remaining,
        state.filled,
        state.notional,
        state.last_price,
    )
