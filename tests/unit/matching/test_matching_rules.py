"""Example tests, one per matching rule and seed scenario: the exact event list and the whole book after."""

from __future__ import annotations

import pytest

from tradestream.matching import (
    Event,
    NewOrder,
    OrderBook,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Reason,
    RestingOrder,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
NEW, PARTIAL, FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
CANCELED, EXPIRED, REJECTED = OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED
STP = SelfTradePrevention


# Positional helpers keep the expected-event tables below readable as rows.
def limit(  # noqa: PLR0917
    order_id: str,
    user: str,
    side: Side,
    quantity: int,
    price: int,
    tif: TimeInForce = GTC,
    *,
    post_only: bool = False,
    stp: SelfTradePrevention = STP.CANCEL_TAKER,
) -> NewOrder:
    return NewOrder(
        order_id=order_id,
        user_id=user,
        side=side,
        type=OrderType.LIMIT,
        time_in_force=tif,
        quantity=quantity,
        price=price,
        post_only=post_only,
        self_trade_prevention=stp,
    )


def market(
    order_id: str,
    user: str,
    side: Side,
    quantity: int,
    tif: TimeInForce = IOC,
    *,
    stp: SelfTradePrevention = STP.CANCEL_TAKER,
) -> NewOrder:
    return NewOrder(
        order_id=order_id,
        user_id=user,
        side=side,
        type=OrderType.MARKET,
        time_in_force=tif,
        quantity=quantity,
        price=None,
        self_trade_prevention=stp,
    )


def upd(  # noqa: PLR0917
    order_id: str,
    user: str,
    status: OrderStatus,
    filled: int,
    remaining: int,
    last: int | None = None,
    notional: int = 0,
    reason: str | None = None,
) -> OrderUpdate:
    return OrderUpdate(
        order_id=order_id,
        user_id=user,
        status=status,
        filled_quantity=filled,
        remaining_quantity=remaining,
        last_fill_price=last,
        filled_notional=notional,
        reason=reason,
    )


def trade(  # noqa: PLR0917
    maker: str, taker: str, maker_user: str, taker_user: str, side: Side, price: int, qty: int
) -> Trade:
    return Trade(
        maker_order_id=maker,
        taker_order_id=taker,
        maker_user_id=maker_user,
        taker_user_id=taker_user,
        taker_side=side,
        price=price,
        quantity=qty,
    )


def book_with(*orders: NewOrder) -> OrderBook:
    book = OrderBook()
    for order in orders:
        events = book.place(order)
        assert events[-1] == upd(order.order_id, order.user_id, NEW, 0, order.quantity), events
    return book


Depth = tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]


def assert_book(book: OrderBook, depth: Depth) -> None:
    assert book.depth(100) == depth
    assert OrderBook.restore(book.snapshot()) == book


def standard_asks() -> OrderBook:
    """Asks: 101 x 5 (a1, alice), 101 x 3 (a2, bob), 102 x 4 (a3, carol). No bids."""
    return book_with(
        limit("a1", "alice", SELL, 5, 101),
        limit("a2", "bob", SELL, 3, 101),
        limit("a3", "carol", SELL, 4, 102),
    )


# -- resting, partial fills, sweeps, priority ------------------------------------------------------


def test_a_limit_that_crosses_nothing_rests_new() -> None:
    book = OrderBook()
    assert book.place(limit("b1", "dave", BUY, 7, 100)) == [upd("b1", "dave", NEW, 0, 7)]
    assert_book(book, ([(100, 7, 1)], []))
    assert "b1" in book
    assert book.get("b1") == RestingOrder(
        order_id="b1",
        user_id="dave",
        side=BUY,
        price=100,
        quantity=7,
        filled_quantity=0,
        remaining_quantity=7,
        filled_notional=0,
        last_fill_price=None,
    )


def test_partial_fill_of_the_taker_rests_its_remainder_at_its_limit() -> None:
    book = book_with(limit("a1", "alice", SELL, 5, 101))
    assert book.place(limit("t", "dave", BUY, 8, 101)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 5),
        upd("a1", "alice", FILLED, 5, 0, 101, 505),
        upd("t", "dave", PARTIAL, 5, 3, 101, 505),
    ]
    assert_book(book, ([(101, 3, 1)], []))
    resting = book.get("t")
    assert resting is not None and (resting.filled_quantity, resting.remaining_quantity) == (5, 3)


def test_partial_fill_of_the_maker_keeps_it_first_in_its_level() -> None:
    book = standard_asks()
    assert book.place(limit("t", "dave", BUY, 2, 101)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", PARTIAL, 2, 3, 101, 202),
        upd("t", "dave", FILLED, 2, 0, 101, 202),
    ]
    assert_book(book, ([], [(101, 6, 2), (102, 4, 1)]))
    assert book.place(limit("t2", "erin", BUY, 3, 101))[0] == trade("a1", "t2", "alice", "erin", BUY, 101, 3)


def test_a_taker_sweeps_every_level_it_crosses_at_each_makers_price() -> None:
    book = standard_asks()
    assert book.place(limit("t", "dave", BUY, 11, 105)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 5),
        upd("a1", "alice", FILLED, 5, 0, 101, 505),
        trade("a2", "t", "bob", "dave", BUY, 101, 3),
        upd("a2", "bob", FILLED, 3, 0, 101, 303),
        trade("a3", "t", "carol", "dave", BUY, 102, 3),
        upd("a3", "carol", PARTIAL, 3, 1, 102, 306),
        upd("t", "dave", FILLED, 11, 0, 102, 1114),
    ]
    assert_book(book, ([], [(102, 1, 1)]))


def test_a_sweep_stops_at_the_limit_and_rests_the_remainder() -> None:
    book = standard_asks()
    assert book.place(limit("t", "dave", BUY, 10, 101)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 5),
        upd("a1", "alice", FILLED, 5, 0, 101, 505),
        trade("a2", "t", "bob", "dave", BUY, 101, 3),
        upd("a2", "bob", FILLED, 3, 0, 101, 303),
        upd("t", "dave", PARTIAL, 8, 2, 101, 808),
    ]
    assert_book(book, ([(101, 2, 1)], [(102, 4, 1)]))


def test_a_sell_taker_sweeps_bids_from_the_highest() -> None:
    book = book_with(
        limit("b1", "alice", BUY, 2, 99),
        limit("b2", "bob", BUY, 2, 100),
        limit("b3", "carol", BUY, 2, 98),
    )
    assert_book(book, ([(100, 2, 1), (99, 2, 1), (98, 2, 1)], []))
    assert book.place(limit("t", "dave", SELL, 5, 99)) == [
        trade("b2", "t", "bob", "dave", SELL, 100, 2),
        upd("b2", "bob", FILLED, 2, 0, 100, 200),
        trade("b1", "t", "alice", "dave", SELL, 99, 2),
        upd("b1", "alice", FILLED, 2, 0, 99, 198),
        upd("t", "dave", PARTIAL, 4, 1, 99, 398),
    ]
    assert_book(book, ([(98, 2, 1)], [(99, 1, 1)]))


def test_time_priority_within_a_level_is_arrival_order() -> None:
    book = book_with(
        limit("first", "alice", BUY, 4, 100),
        limit("second", "bob", BUY, 4, 100),
        limit("third", "carol", BUY, 4, 100),
    )
    assert book.place(limit("t", "dave", SELL, 6, 100)) == [
        trade("first", "t", "alice", "dave", SELL, 100, 4),
        upd("first", "alice", FILLED, 4, 0, 100, 400),
        trade("second", "t", "bob", "dave", SELL, 100, 2),
        upd("second", "bob", PARTIAL, 2, 2, 100, 200),
        upd("t", "dave", FILLED, 6, 0, 100, 600),
    ]
    assert_book(book, ([(100, 6, 2)], []))
    assert [order.order_id for order in book.orders()] == ["second", "third"]


def test_better_price_beats_earlier_arrival() -> None:
    book = book_with(limit("early", "alice", SELL, 1, 102), limit("late", "bob", SELL, 1, 101))
    events = book.place(limit("t", "dave", BUY, 1, 102))
    assert events[0] == trade("late", "t", "bob", "dave", BUY, 101, 1)
    assert_book(book, ([], [(102, 1, 1)]))


def test_trades_print_at_the_maker_price_not_the_taker_limit() -> None:
    book = book_with(limit("b1", "alice", BUY, 3, 105))
    assert book.place(limit("t", "dave", SELL, 3, 90)) == [
        trade("b1", "t", "alice", "dave", SELL, 105, 3),
        upd("b1", "alice", FILLED, 3, 0, 105, 315),
        upd("t", "dave", FILLED, 3, 0, 105, 315),
    ]
    assert_book(book, ([], []))


# -- IOC, FOK, MARKET ------------------------------------------------------------------------------


def test_ioc_partial_fill_expires_the_remainder() -> None:
    book = standard_asks()
    assert book.place(limit("t", "dave", BUY, 10, 101, IOC)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 5),
        upd("a1", "alice", FILLED, 5, 0, 101, 505),
        trade("a2", "t", "bob", "dave", BUY, 101, 3),
        upd("a2", "bob", FILLED, 3, 0, 101, 303),
        upd("t", "dave", EXPIRED, 8, 2, 101, 808, Reason.IOC_REMAINDER),
    ]
    assert_book(book, ([], [(102, 4, 1)]))


@pytest.mark.parametrize("price", [100, 50])
def test_ioc_with_no_crossing_liquidity_expires_whole(price: int) -> None:
    book = standard_asks()
    assert book.place(limit("t", "dave", BUY, 10, price, IOC)) == [
        upd("t", "dave", EXPIRED, 0, 10, None, 0, Reason.IOC_REMAINDER)
    ]
    assert_book(book, ([], [(101, 8, 2), (102, 4, 1)]))


def test_ioc_on_an_empty_book_expires() -> None:
    book = OrderBook()
    assert book.place(limit("t", "dave", SELL, 1, 100, IOC)) == [
        upd("t", "dave", EXPIRED, 0, 1, None, 0, Reason.IOC_REMAINDER)
    ]
    assert_book(book, ([], []))


def test_fok_that_cannot_fill_completely_is_rejected_and_nothing_trades() -> None:
    book = standard_asks()
    before = book.snapshot()
    assert book.place(limit("t", "dave", BUY, 13, 102, FOK)) == [
        upd("t", "dave", REJECTED, 0, 13, None, 0, Reason.FOK_NOT_FILLABLE)
    ]
    assert book.snapshot() == before
    assert book.place(limit("t2", "dave", BUY, 9, 101, FOK)) == [
        upd("t2", "dave", REJECTED, 0, 9, None, 0, Reason.FOK_NOT_FILLABLE)
    ]
    assert book.place(limit("t3", "dave", BUY, 1, 100, FOK)) == [
        upd("t3", "dave", REJECTED, 0, 1, None, 0, Reason.FOK_NOT_FILLABLE)
    ]
    assert_book(book, ([], [(101, 8, 2), (102, 4, 1)]))


def test_fok_exactly_fillable_across_levels_fills() -> None:
    book = standard_asks()
    assert book.place(limit("t", "dave", BUY, 12, 102, FOK)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 5),
        upd("a1", "alice", FILLED, 5, 0, 101, 505),
        trade("a2", "t", "bob", "dave", BUY, 101, 3),
        upd("a2", "bob", FILLED, 3, 0, 101, 303),
        trade("a3", "t", "carol", "dave", BUY, 102, 4),
        upd("a3", "carol", FILLED, 4, 0, 102, 408),
        upd("t", "dave", FILLED, 12, 0, 102, 1216),
    ]
    assert_book(book, ([], []))


def test_fok_on_an_empty_book_is_rejected() -> None:
    book = OrderBook()
    assert book.place(market("t", "dave", SELL, 1, FOK)) == [
        upd("t", "dave", REJECTED, 0, 1, None, 0, Reason.FOK_NOT_FILLABLE)
    ]
    assert_book(book, ([], []))


def test_market_fok_fills_across_every_level() -> None:
    book = standard_asks()
    events = book.place(market("t", "dave", BUY, 12, FOK))
    assert events[-1] == upd("t", "dave", FILLED, 12, 0, 102, 1216)
    assert_book(book, ([], []))


def test_market_order_trades_at_each_makers_price() -> None:
    book = standard_asks()
    assert book.place(market("t", "dave", BUY, 9)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 5),
        upd("a1", "alice", FILLED, 5, 0, 101, 505),
        trade("a2", "t", "bob", "dave", BUY, 101, 3),
        upd("a2", "bob", FILLED, 3, 0, 101, 303),
        trade("a3", "t", "carol", "dave", BUY, 102, 1),
        upd("a3", "carol", PARTIAL, 1, 3, 102, 102),
        upd("t", "dave", FILLED, 9, 0, 102, 910),
    ]
    assert_book(book, ([], [(102, 3, 1)]))


@pytest.mark.parametrize("tif", [IOC, GTC])
def test_market_order_with_no_liquidity_expires(tif: TimeInForce) -> None:
    book = book_with(limit("b1", "alice", BUY, 5, 100))
    assert book.place(market("t", "dave", BUY, 4, tif)) == [
        upd("t", "dave", EXPIRED, 0, 4, None, 0, Reason.NO_LIQUIDITY)
    ]
    assert_book(book, ([(100, 5, 1)], []))


@pytest.mark.parametrize("tif", [IOC, GTC])
def test_market_remainder_expires_and_never_rests(tif: TimeInForce) -> None:
    book = standard_asks()
    events = book.place(market("t", "dave", BUY, 20, tif))
    assert events[-1] == upd("t", "dave", EXPIRED, 12, 8, 102, 1216, Reason.NO_LIQUIDITY)
    assert len(events) == 7
    assert_book(book, ([], []))
    assert "t" not in book


# -- postOnly --------------------------------------------------------------------------------------


@pytest.mark.parametrize("price", [101, 102])
def test_post_only_that_would_cross_is_rejected_and_nothing_trades(price: int) -> None:
    book = standard_asks()
    assert book.place(limit("p", "dave", BUY, 1, price, post_only=True)) == [
        upd("p", "dave", REJECTED, 0, 1, None, 0, Reason.POST_ONLY_WOULD_CROSS)
    ]
    assert_book(book, ([], [(101, 8, 2), (102, 4, 1)]))


def test_post_only_that_does_not_cross_rests() -> None:
    book = standard_asks()
    assert book.place(limit("p", "dave", BUY, 1, 100, post_only=True)) == [upd("p", "dave", NEW, 0, 1)]
    assert book.place(limit("q", "erin", SELL, 2, 103, post_only=True)) == [upd("q", "erin", NEW, 0, 2)]
    assert_book(book, ([(100, 1, 1)], [(101, 8, 2), (102, 4, 1), (103, 2, 1)]))


def test_post_only_crossing_its_own_order_is_still_rejected() -> None:
    book = book_with(limit("a1", "dave", SELL, 1, 101))
    assert book.place(limit("p", "dave", BUY, 1, 101, post_only=True, stp=STP.EXPIRE_MAKER)) == [
        upd("p", "dave", REJECTED, 0, 1, None, 0, Reason.POST_ONLY_WOULD_CROSS)
    ]
    assert_book(book, ([], [(101, 1, 1)]))


# -- self-trade prevention -------------------------------------------------------------------------


def own_order_behind_another() -> OrderBook:
    """Asks at 101: a1 (alice, 2), then a2 (dave, 3); at 102: a3 (bob, 4). The taker will be dave."""
    return book_with(
        limit("a1", "alice", SELL, 2, 101),
        limit("a2", "dave", SELL, 3, 101),
        limit("a3", "bob", SELL, 4, 102),
    )


def test_stp_cancel_taker_cancels_the_takers_remainder_and_keeps_the_maker() -> None:
    book = own_order_behind_another()
    assert book.place(limit("t", "dave", BUY, 6, 102, stp=STP.CANCEL_TAKER)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", FILLED, 2, 0, 101, 202),
        upd("t", "dave", CANCELED, 2, 4, 101, 202, Reason.SELF_TRADE_PREVENTION),
    ]
    assert_book(book, ([], [(101, 3, 1), (102, 4, 1)]))
    assert "t" not in book


def test_stp_cancel_taker_is_the_default() -> None:
    assert (
        NewOrder(
            order_id="x",
            user_id="u",
            side=BUY,
            type=OrderType.LIMIT,
            time_in_force=GTC,
            quantity=1,
            price=1,
        ).self_trade_prevention
        is STP.CANCEL_TAKER
    )
    book = book_with(limit("a1", "dave", SELL, 1, 101))
    assert book.place(limit("t", "dave", BUY, 1, 101)) == [
        upd("t", "dave", CANCELED, 0, 1, None, 0, Reason.SELF_TRADE_PREVENTION)
    ]
    assert_book(book, ([], [(101, 1, 1)]))


def test_stp_expire_taker_expires_the_takers_remainder() -> None:
    book = own_order_behind_another()
    assert book.place(limit("t", "dave", BUY, 6, 102, stp=STP.EXPIRE_TAKER)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", FILLED, 2, 0, 101, 202),
        upd("t", "dave", EXPIRED, 2, 4, 101, 202, Reason.SELF_TRADE_PREVENTION),
    ]
    assert_book(book, ([], [(101, 3, 1), (102, 4, 1)]))


def test_stp_expire_maker_removes_the_own_order_and_keeps_matching() -> None:
    book = own_order_behind_another()
    assert book.place(limit("t", "dave", BUY, 6, 102, stp=STP.EXPIRE_MAKER)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", FILLED, 2, 0, 101, 202),
        upd("a2", "dave", EXPIRED, 0, 3, None, 0, Reason.SELF_TRADE_PREVENTION),
        trade("a3", "t", "bob", "dave", BUY, 102, 4),
        upd("a3", "bob", FILLED, 4, 0, 102, 408),
        upd("t", "dave", FILLED, 6, 0, 102, 610),
    ]
    assert_book(book, ([], []))


def test_stp_expire_maker_keeps_a_partially_filled_makers_fills() -> None:
    book = book_with(limit("a1", "dave", SELL, 5, 101))
    book.place(limit("x", "alice", BUY, 2, 101))
    assert book.place(market("t", "dave", BUY, 1, stp=STP.EXPIRE_MAKER)) == [
        upd("a1", "dave", EXPIRED, 2, 3, 101, 202, Reason.SELF_TRADE_PREVENTION),
        upd("t", "dave", EXPIRED, 0, 1, None, 0, Reason.NO_LIQUIDITY),
    ]
    assert_book(book, ([], []))


def test_stp_expire_maker_lets_a_gtc_remainder_rest() -> None:
    book = book_with(limit("a1", "dave", SELL, 5, 101))
    assert book.place(limit("t", "dave", BUY, 2, 101, stp=STP.EXPIRE_MAKER)) == [
        upd("a1", "dave", EXPIRED, 0, 5, None, 0, Reason.SELF_TRADE_PREVENTION),
        upd("t", "dave", NEW, 0, 2),
    ]
    assert_book(book, ([(101, 2, 1)], []))


def test_stp_expire_both_expires_maker_and_taker() -> None:
    book = own_order_behind_another()
    assert book.place(limit("t", "dave", BUY, 6, 102, stp=STP.EXPIRE_BOTH)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", FILLED, 2, 0, 101, 202),
        upd("a2", "dave", EXPIRED, 0, 3, None, 0, Reason.SELF_TRADE_PREVENTION),
        upd("t", "dave", EXPIRED, 2, 4, 101, 202, Reason.SELF_TRADE_PREVENTION),
    ]
    assert_book(book, ([], [(102, 4, 1)]))


def test_stp_none_allows_the_self_trade() -> None:
    book = own_order_behind_another()
    assert book.place(limit("t", "dave", BUY, 6, 102, stp=STP.NONE)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", FILLED, 2, 0, 101, 202),
        trade("a2", "t", "dave", "dave", BUY, 101, 3),
        upd("a2", "dave", FILLED, 3, 0, 101, 303),
        trade("a3", "t", "bob", "dave", BUY, 102, 1),
        upd("a3", "bob", PARTIAL, 1, 3, 102, 102),
        upd("t", "dave", FILLED, 6, 0, 102, 607),
    ]
    assert_book(book, ([], [(102, 3, 1)]))


def test_stp_ignores_own_orders_the_taker_does_not_reach() -> None:
    book = book_with(limit("a1", "alice", SELL, 2, 101), limit("own", "dave", SELL, 2, 103))
    assert book.place(limit("t", "dave", BUY, 3, 102, stp=STP.EXPIRE_BOTH)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", FILLED, 2, 0, 101, 202),
        upd("t", "dave", PARTIAL, 2, 1, 101, 202),
    ]
    assert_book(book, ([(102, 1, 1)], [(103, 2, 1)]))


# -- FOK under self-trade prevention (the rule: the check walks exactly as matching would) ----------


@pytest.mark.parametrize("mode", [STP.CANCEL_TAKER, STP.EXPIRE_TAKER, STP.EXPIRE_BOTH])
def test_fok_stopped_by_an_own_order_is_rejected_and_the_own_order_stays(mode: SelfTradePrevention) -> None:
    book = own_order_behind_another()
    before = book.snapshot()
    assert book.place(limit("t", "dave", BUY, 5, 102, FOK, stp=mode)) == [
        upd("t", "dave", REJECTED, 0, 5, None, 0, Reason.FOK_NOT_FILLABLE)
    ]
    assert book.snapshot() == before


@pytest.mark.parametrize("mode", [STP.CANCEL_TAKER, STP.EXPIRE_TAKER, STP.EXPIRE_BOTH])
def test_fok_that_fills_before_reaching_an_own_order_fills(mode: SelfTradePrevention) -> None:
    book = own_order_behind_another()
    assert book.place(limit("t", "dave", BUY, 2, 102, FOK, stp=mode)) == [
        trade("a1", "t", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", FILLED, 2, 0, 101, 202),
        upd("t", "dave", FILLED, 2, 0, 101, 202),
    ]
    assert_book(book, ([], [(101, 3, 1), (102, 4, 1)]))


def test_fok_expire_maker_skips_own_orders_without_counting_them() -> None:
    book = own_order_behind_another()
    before = book.snapshot()
    # 2 + 4 from others = 6 fillable; the own 3 does not count.
    assert book.place(limit("t", "dave", BUY, 7, 102, FOK, stp=STP.EXPIRE_MAKER)) == [
        upd("t", "dave", REJECTED, 0, 7, None, 0, Reason.FOK_NOT_FILLABLE)
    ]
    assert book.snapshot() == before
    assert book.place(limit("t2", "dave", BUY, 6, 102, FOK, stp=STP.EXPIRE_MAKER)) == [
        trade("a1", "t2", "alice", "dave", BUY, 101, 2),
        upd("a1", "alice", FILLED, 2, 0, 101, 202),
        upd("a2", "dave", EXPIRED, 0, 3, None, 0, Reason.SELF_TRADE_PREVENTION),
        trade("a3", "t2", "bob", "dave", BUY, 102, 4),
        upd("a3", "bob", FILLED, 4, 0, 102, 408),
        upd("t2", "dave", FILLED, 6, 0, 102, 610),
    ]
    assert_book(book, ([], []))


def test_fok_with_stp_none_counts_own_orders() -> None:
    book = own_order_behind_another()
    events = book.place(limit("t", "dave", BUY, 9, 102, FOK, stp=STP.NONE))
    assert events[-1] == upd("t", "dave", FILLED, 9, 0, 102, 913)
    assert_book(book, ([], []))


# -- cancel ----------------------------------------------------------------------------------------


def test_cancel_removes_the_order_so_nothing_matches_it() -> None:
    book = standard_asks()
    assert book.cancel("a1") == [upd("a1", "alice", CANCELED, 0, 5, None, 0, Reason.CANCELED_BY_USER)]
    assert_book(book, ([], [(101, 3, 1), (102, 4, 1)]))
    assert "a1" not in book
    assert book.place(limit("t", "dave", BUY, 4, 101)) == [
        trade("a2", "t", "bob", "dave", BUY, 101, 3),
        upd("a2", "bob", FILLED, 3, 0, 101, 303),
        upd("t", "dave", PARTIAL, 3, 1, 101, 303),
    ]
    assert_book(book, ([(101, 1, 1)], [(102, 4, 1)]))


def test_cancel_of_the_last_order_at_a_level_removes_the_level() -> None:
    book = standard_asks()
    book.cancel("a3")
    assert_book(book, ([], [(101, 8, 2)]))
    assert book.place(market("t", "dave", BUY, 10))[-1] == upd(
        "t", "dave", EXPIRED, 8, 2, 101, 808, Reason.NO_LIQUIDITY
    )


def test_cancel_of_a_partially_filled_order_keeps_its_fills() -> None:
    book = standard_asks()
    book.place(limit("t", "dave", BUY, 7, 101))
    assert book.cancel("a2") == [upd("a2", "bob", CANCELED, 2, 1, 101, 202, Reason.CANCELED_BY_USER)]
    assert_book(book, ([], [(102, 4, 1)]))


@pytest.mark.parametrize("order_id", ["nope", "a1"])
def test_cancel_of_an_order_that_is_not_resting_returns_nothing(order_id: str) -> None:
    book = standard_asks()
    book.place(limit("t", "dave", BUY, 5, 101))  # fills a1 completely
    assert book.cancel(order_id) == []
    assert book.cancel("a2") != []
    assert book.cancel("a2") == []
    assert_book(book, ([], [(102, 4, 1)]))


# -- duplicates and invalid orders -----------------------------------------------------------------


def test_duplicate_order_id_of_a_resting_order_is_rejected() -> None:
    book = standard_asks()
    assert book.place(limit("a2", "mallory", BUY, 9, 105)) == [
        upd("a2", "mallory", REJECTED, 0, 9, None, 0, Reason.DUPLICATE_ORDER_ID)
    ]
    assert_book(book, ([], [(101, 8, 2), (102, 4, 1)]))


def test_an_id_that_is_no_longer_resting_may_be_placed_again() -> None:
    """The book only knows resting orders; whether a reused final id is acceptable is the caller's call."""
    book = book_with(limit("x", "alice", SELL, 1, 101))
    book.cancel("x")
    assert book.place(limit("x", "alice", SELL, 1, 101)) == [upd("x", "alice", NEW, 0, 1)]


def _order(**changes: object) -> NewOrder:
    fields: dict[str, object] = {
        "order_id": "bad",
        "user_id": "dave",
        "side": BUY,
        "type": OrderType.LIMIT,
        "time_in_force": GTC,
        "quantity": 5,
        "price": 101,
        "post_only": False,
        "self_trade_prevention": STP.CANCEL_TAKER,
    }
    fields.update(changes)
    return NewOrder(**fields)  # type: ignore[arg-type]


INVALID = {
    "zero quantity": _order(quantity=0),
    "negative quantity": _order(quantity=-3),
    "bool quantity": _order(quantity=True),
    "float quantity": _order(quantity=5.0),
    "quantity beyond int64": _order(quantity=1 << 63),
    "limit without price": _order(price=None),
    "limit price zero": _order(price=0),
    "limit price negative": _order(price=-101),
    "float price": _order(price=101.0),
    "price beyond int64": _order(price=1 << 63),
    "market with a price": _order(type=OrderType.MARKET, time_in_force=IOC, price=101),
    "post only IOC": _order(post_only=True, time_in_force=IOC),
    "post only FOK": _order(post_only=True, time_in_force=FOK),
    "post only market": _order(type=OrderType.MARKET, price=None, post_only=True),
    "side as a plain string": _order(side="BUY"),
    "unknown type": _order(type="STOP"),
    "tif as a plain string": _order(time_in_force="GTC"),
    "stp as a plain string": _order(self_trade_prevention="NONE"),
    "post only not a bool": _order(post_only=1),
}


@pytest.mark.parametrize("order", INVALID.values(), ids=list(INVALID))
def test_invalid_orders_are_rejected_and_change_nothing(order: NewOrder) -> None:
    book = book_with(limit("a1", "alice", SELL, 5, 101), limit("b1", "bob", BUY, 5, 99))
    events = book.place(order)
    remaining = order.quantity if type(order.quantity) is int and order.quantity > 0 else 0
    assert events == [upd("bad", "dave", REJECTED, 0, remaining, None, 0, Reason.INVALID_ORDER)]
    assert_book(book, ([(99, 5, 1)], [(101, 5, 1)]))


# -- queries ---------------------------------------------------------------------------------------


def test_depth_returns_the_best_levels_first_and_honours_the_limit() -> None:
    book = book_with(
        limit("b1", "u", BUY, 1, 97),
        limit("b2", "u", BUY, 2, 99),
        limit("b3", "u", BUY, 3, 98),
        limit("b4", "u", BUY, 4, 99),
        limit("a1", "u", SELL, 5, 103),
        limit("a2", "u", SELL, 6, 101),
    )
    assert book.depth(2) == ([(99, 6, 2), (98, 3, 1)], [(101, 6, 1), (103, 5, 1)])
    assert book.depth(1) == ([(99, 6, 2)], [(101, 6, 1)])
    assert book.depth(0) == ([], [])
    assert book.depth(10) == ([(99, 6, 2), (98, 3, 1), (97, 1, 1)], [(101, 6, 1), (103, 5, 1)])
    assert len(book) == 6


def test_events_are_the_public_frozen_types() -> None:
    book = standard_asks()
    events: list[Event] = book.place(market("t", "dave", BUY, 6))
    assert [type(event) for event in events] == [Trade, OrderUpdate, Trade, OrderUpdate, OrderUpdate]
    last = events[-1]
    assert isinstance(last, OrderUpdate) and last.filled_notional / last.filled_quantity == 101
