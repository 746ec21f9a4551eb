"""Snapshots: exact format, JSON round trip, DynamoDB's Decimals, and refusal of anything malformed."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tradestream.errors import TradeStreamError
from tradestream.matching import CorruptSnapshot, NewOrder, OrderBook, OrderType, Side, TimeInForce, Trade


def _limit(order_id: str, side: Side, quantity: int, price: int) -> NewOrder:
    return NewOrder(
        order_id=order_id,
        user_id=f"user-{order_id}",
        side=side,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        quantity=quantity,
        price=price,
    )


def _book() -> OrderBook:
    book = OrderBook()
    for order in (
        _limit("b1", Side.BUY, 5, 99),
        _limit("b2", Side.BUY, 4, 100),
        _limit("b3", Side.BUY, 3, 100),
        _limit("a1", Side.SELL, 6, 102),
        _limit("a2", Side.SELL, 2, 101),
    ):
        book.place(order)
    book.place(_limit("t", Side.SELL, 5, 100))  # fills b2 (4) and 1 of b3
    book.cancel("b1")
    return book


def test_the_snapshot_lists_orders_in_priority_order_with_their_fills() -> None:
    assert _book().snapshot() == {
        "format": "tradestream.orderbook/v1",
        "fields": ["order_id", "user_id", "price", "quantity", "filled", "notional", "last_fill_price"],
        "bids": [["b3", "user-b3", 100, 3, 1, 100, 100]],
        "asks": [["a2", "user-a2", 101, 2, 0, 0, 0], ["a1", "user-a1", 102, 6, 0, 0, 0]],
    }


def test_restore_round_trips_through_json_and_keeps_partial_fills() -> None:
    book = _book()
    restored = OrderBook.restore(json.loads(json.dumps(book.snapshot())))
    assert restored == book
    assert restored.get("b3") == book.get("b3")
    resting = restored.get("b3")
    assert resting is not None and (resting.filled_quantity, resting.filled_notional) == (1, 100)
    assert restored.depth(5) == book.depth(5)


def test_restore_keeps_time_priority_within_a_level() -> None:
    book = OrderBook()
    for order_id in ("first", "second", "third"):
        book.place(_limit(order_id, Side.SELL, 1, 101))
    restored = OrderBook.restore(book.snapshot())
    events = restored.place(_limit("t", Side.BUY, 2, 101))
    assert [event.maker_order_id for event in events if isinstance(event, Trade)] == ["first", "second"]


def test_the_snapshot_is_only_str_int_list_and_dict() -> None:
    def check(value: object) -> None:
        assert type(value) in (str, int, list, dict), value
        if isinstance(value, list):
            for item in value:
                check(item)
        if isinstance(value, dict):
            for key, item in value.items():
                assert type(key) is str
                check(item)

    check(_book().snapshot())


def test_restore_accepts_dynamodb_decimals() -> None:
    snapshot = _book().snapshot()
    stored = copy.deepcopy(snapshot)
    for row in stored["bids"] + stored["asks"]:
        row[2:] = [Decimal(value) for value in row[2:]]
    assert OrderBook.restore(stored) == OrderBook.restore(snapshot)


def test_books_differ_when_time_priority_differs() -> None:
    one, other = OrderBook(), OrderBook()
    for order_id in ("x", "y"):
        one.place(_limit(order_id, Side.BUY, 1, 100))
    for order_id in ("y", "x"):
        other.place(_limit(order_id, Side.BUY, 1, 100))
    assert one.depth(1) == other.depth(1)
    assert one != other
    assert one != "not a book"


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(snapshot: dict[str, Any]) -> None:
        target: Any = snapshot
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _reverse_asks(snapshot: dict[str, Any]) -> None:
    snapshot["asks"].reverse()


def _duplicate_ask(snapshot: dict[str, Any]) -> None:
    snapshot["asks"] = [snapshot["asks"][0], list(snapshot["asks"][0])]


def _shorten_row(snapshot: dict[str, Any]) -> None:
    snapshot["bids"][0].pop()


CORRUPTIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "format": _set(("format",), "someone-else/v9"),
    "fields": _set(("fields",), ["order_id"]),
    "bids not a list": _set(("bids",), {}),
    "short row": _shorten_row,
    "numeric id": _set(("bids", 0, 0), 7),
    "float price": _set(("asks", 0, 2), 101.5),
    "bool quantity": _set(("asks", 0, 3), True),
    "zero price": _set(("asks", 0, 2), 0),
    "overfilled": _set(("bids", 0, 4), 3),
    "negative notional": _set(("bids", 0, 5), -1),
    "fills without a last price": _set(("bids", 0, 6), 0),
    "last price without fills": _set(("asks", 0, 6), 101),
    "asks out of order": _reverse_asks,
    "duplicate order": _duplicate_ask,
}


@pytest.mark.parametrize("change", CORRUPTIONS.values(), ids=list(CORRUPTIONS))
def test_restore_refuses_a_corrupt_snapshot(change: Callable[[dict[str, Any]], None]) -> None:
    snapshot = _book().snapshot()
    change(snapshot)
    with pytest.raises(CorruptSnapshot):
        OrderBook.restore(snapshot)


def test_a_corrupt_snapshot_is_a_typed_internal_error() -> None:
    assert issubclass(CorruptSnapshot, TradeStreamError)
    assert (CorruptSnapshot.status, CorruptSnapshot.code) == (500, "CORRUPT_BOOK_SNAPSHOT")
