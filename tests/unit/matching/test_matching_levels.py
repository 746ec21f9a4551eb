"""The book's structures stay bounded: canceled entries are compacted, stale heap keys are dropped."""

from __future__ import annotations

from tradestream.matching import NewOrder, OrderBook, OrderType, SelfTradePrevention, Side, TimeInForce


def _limit(order_id: str, side: Side, price: int, quantity: int = 1) -> NewOrder:
    return NewOrder(
        order_id=order_id,
        user_id=f"u-{order_id}",
        side=side,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        quantity=quantity,
        price=price,
        self_trade_prevention=SelfTradePrevention.NONE,
    )


def test_canceled_orders_do_not_pile_up_in_a_level() -> None:
    book = OrderBook()
    for index in range(1_000):
        book.place(_limit(f"o{index}", Side.BUY, 100))
    for index in range(999):
        book.cancel(f"o{index}")
    level = book._bids.levels[-100]
    assert (level.count, level.qty) == (1, 1)
    assert len(level.queue) <= 64
    assert book.depth(1) == ([(100, 1, 1)], [])
    assert getattr(book.place(_limit("t", Side.SELL, 100))[0], "maker_order_id", None) == "o999"


def test_a_taker_skips_canceled_entries_ahead_of_the_live_order() -> None:
    book = OrderBook()
    for index in range(10):
        book.place(_limit(f"o{index}", Side.SELL, 101))
    for index in range(9):
        book.cancel(f"o{index}")
    events = book.place(_limit("t", Side.BUY, 101, 2))
    assert [getattr(event, "maker_order_id", None) for event in events] == ["o9", None, None]
    assert book.depth(5) == ([(101, 1, 1)], [])


def test_the_price_heap_stays_proportional_to_the_live_levels() -> None:
    book = OrderBook()
    book.place(_limit("best", Side.SELL, 100))
    for index in range(5_000):
        # a level far from the top appears and disappears; its heap key goes stale below the top
        book.place(_limit(f"deep{index}", Side.SELL, 200 + index % 300))
        book.cancel(f"deep{index}")
    asks = book._asks
    assert len(asks.levels) == 1
    assert len(asks.heap) <= 2 * len(asks.levels) + 64
    assert asks.heap[0] == 100
    assert book.depth(3) == ([], [(100, 1, 1)])


def test_emptied_top_levels_leave_the_heap_at_once() -> None:
    book = OrderBook()
    for price in (101, 102, 103):
        book.place(_limit(f"a{price}", Side.SELL, price))
    book.cancel("a101")
    assert book._asks.heap[0] == 102
    book.place(_limit("t", Side.BUY, 102))
    assert book._asks.heap[0] == 103
