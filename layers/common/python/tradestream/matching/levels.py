"""Resting orders, FIFO price levels and one side of a book: a level map plus a lazily cleaned price heap."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from heapq import heapify, heappop, heappush

from tradestream.matching.enums import Side

# A level keeps canceled orders in its deque until they reach the head (cancel stays O(1));
# once it holds more dead entries than live ones, and at least this many, it is compacted.
_COMPACT_AT = 32


class RestingOrderState:
    """A live order on the book; fills and cancels mutate it in place. `remaining == 0` marks it dead."""

    __slots__ = (
        "book_side",
        "filled",
        "last_price",
        "notional",
        "order_id",
        "price",
        "quantity",
        "remaining",
        "user_id",
    )

    def __init__(  # noqa: PLR0917  (positional on purpose: built once per resting order)
        self,
        book_side: BookSide,
        order_id: str,
        user_id: str,
        price: int,
        quantity: int,
        remaining: int,
        filled: int,
        notional: int,
        last_price: int | None,
    ) -> None:
        self.book_side = book_side
        self.order_id = order_id
        self.user_id = user_id
        self.price = price
        self.quantity = quantity
        self.remaining = remaining
        self.filled = filled
        self.notional = notional
        self.last_price = last_price


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

    __slots__ = ("count", "dead", "price", "qty", "queue")

    def __init__(self, price: int) -> None:
        self.price = price
        self.queue: deque[RestingOrderState] = deque()
        self.qty = 0
        self.count = 0
        self.dead = 0

    def live(self) -> Iterator[RestingOrderState]:
        return (order for order in self.queue if order.remaining)


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

    def rest(self, order: RestingOrderState) -> None:
        key = order.price * self.sign
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = Level(order.price)
            heappush(self.heap, key)
        level.queue.append(order)
        level.qty += order.remaining
        level.count += 1

    def drop_level(self, key: int) -> None:
        levels = self.levels
        del levels[key]
        heap = self.heap
        while heap and heap[0] not in levels:
            heappop(heap)
        if len(heap) > 2 * len(levels) + 64:
            heap[:] = levels
            heapify(heap)

    def cancel(self, order: RestingOrderState) -> None:
        """Take a live order off its level; its deque entry dies in place."""
        key = order.price * self.sign
        level = self.levels[key]
        level.count -= 1
        if level.count == 0:
            self.drop_level(key)
        else:
            level.qty -= order.remaining
            level.dead += 1
            if level.dead >= _COMPACT_AT and level.dead > level.count:
                level.queue = deque(level.live())
                level.dead = 0
        order.remaining = 0

    def best_first(self) -> list[Level]:
        """Every level, best price first (O(L log L): for depth, snapshots and equality, not matching)."""
        levels = self.levels
        return [levels[key] for key in sorted(levels)]

    def crossing(self, limit_key: int) -> list[Level]:
        """The levels a taker with this limit key would reach, best first."""
        levels = self.levels
        return [levels[key] for key in sorted(key for key in levels if key <= limit_key)]
