"""Resting orders, FIFO price levels and one side of a book: a level map plus a lazily cleaned price heap."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from heapq import heapify, heappop, heappush

from tradestream.matching.enums import Side

# A level keeps canceled orders in its deque until they reach the head (cancel stays O(1));
# once it holds more dead entries than live ones, and at least this many, it is compacted.
COMPACT_AT = 32


class RestingOrderState:
    """A live order on the book; fills and cancels mutate it in place. `remaining == 0` marks it dead.

    Its price and side are its level's; its quantity is filled + remaining.
    """

    __slots__ = ("filled", "last_price", "level", "notional", "order_id", "remaining", "user_id")

    level: Level
    order_id: str
    user_id: str
    remaining: int
    filled: int
    notional: int
    last_price: int | None


def new_resting(  # noqa: PLR0917  (positional on purpose: built once per resting order)
    level: Level,
    order_id: str,
    user_id: str,
    remaining: int,
    filled: int,
    notional: int,
    last_price: int | None,
) -> RestingOrderState:
    """Builds a RestingOrderState with plain slot stores: cheaper than passing them through __init__."""
    state = RestingOrderState()
    state.level = level
    state.order_id = order_id
    state.user_id = user_id
    state.remaining = remaining
    state.filled = filled
    state.notional = notional
    state.last_price = last_price
    return state


@dataclass(frozen=True, slots=True, kw_only=True)
class RestingOrder:
    """A read-only view of a resting order (what `OrderBook.get` and `OrderBook.orders` return)."""

    order_id: str
    user_id: str
    side: Side
    price: int
    quantity: int
    filled_quantity: int
    remaining_quantity: int
    filled_notional: int
    last_fill_price: int | None


class Level:
    """Every live order at one price, oldest first, with the totals depth() reports."""

    __slots__ = ("book_side", "count", "dead", "key", "price", "qty", "queue")

    def __init__(self, book_side: BookSide, key: int, price: int) -> None:
        self.book_side = book_side
        self.key = key
        self.price = price
        self.queue: deque[RestingOrderState] = deque()
        self.qty = 0
        self.count = 0
        self.dead = 0

    def live(self) -> Iterator[RestingOrderState]:
        return (order for order in self.queue if order.remaining)

    def withdraw(self, order: RestingOrderState) -> None:
        """Take a live order off this level; its deque entry dies in place (O(1), amortised)."""
        self.count -= 1
        if not self.count:
            self.book_side.drop_level(self.key)
        else:
            self.qty -= order.remaining
            self.dead += 1
            if self.dead >= COMPACT_AT and self.dead > self.count:
                self.queue = deque(self.live())
                self.dead = 0
        order.remaining = 0


class BookSide:
    """One side of a book. Keys are prices for asks and negated prices for bids, so the best level is
    always the smallest key and "crosses a limit" is `key <= limit_key` on both sides.

    Invariant: `heap` is empty or `heap[0]` is the key of a live level (stale keys below the top are
    dropped lazily and the heap is rebuilt when they outnumber the live ones).
    """

    __slots__ = ("heap", "levels", "side", "sign")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.sign = -1 if side is Side.BUY else 1
        self.levels: dict[int, Level] = {}
        self.heap: list[int] = []

    def open_level(self, key: int, price: int) -> Level:
        level = self.levels[key] = Level(self, key, price)
        heappush(self.heap, key)
        return level

    def rest(  # noqa: PLR0917  (the same fields as new_resting)
        self,
        order_id: str,
        user_id: str,
        price: int,
        remaining: int,
        filled: int,
        notional: int,
        last: int | None,
    ) -> RestingOrderState:
        """Append an order at the back of its price level (OrderBook.place inlines this for speed)."""
        key = price * self.sign
        level = self.levels.get(key)
        if level is None:
            level = self.open_level(key, price)
        state = new_resting(level, order_id, user_id, remaining, filled, notional, last)
        level.queue.append(state)
        level.qty += remaining
        level.count += 1
        return state

    def drop_level(self, key: int) -> None:
        levels = self.levels
        del levels[key]
        heap = self.heap
        while heap and heap[0] not in levels:
            heappop(heap)
        if len(heap) > 2 * len(levels) + 64:
            heap[:] = levels
            heapify(heap)

    def best_first(self) -> list[Level]:
        """Every level, best price first (O(L log L): for depth, snapshots and equality, not matching)."""
        levels = self.levels
        return [levels[key] for key in sorted(levels)]

    def crossing(self, limit_key: int) -> list[Level]:
        """The levels a taker with this limit key would reach, best first."""
        levels = self.levels
        return [levels[key] for key in sorted(key for key in levels if key <= limit_key)]
