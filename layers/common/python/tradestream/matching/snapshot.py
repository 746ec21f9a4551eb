"""The JSON-serialisable snapshot of a book's resting orders: its encoding and its strict decoding."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tradestream.errors import TradeStreamError

FORMAT = "tradestream.orderbook/v1"
FIELDS = ("order_id", "user_id", "price", "quantity", "filled", "notional", "last_fill_price")

# (order_id, user_id, price, quantity, filled, notional, last_fill_price)
Row = tuple[str, str, int, int, int, int, int | None]


class CorruptSnapshot(TradeStreamError):
    """A stored book snapshot cannot be decoded; the book must be rebuilt from the log instead."""

    status = 500
    code = "CORRUPT_BOOK_SNAPSHOT"
    title = "The order book snapshot is corrupt"


def encode_snapshot(bids: Sequence[Row], asks: Sequence[Row]) -> dict[str, Any]:
    """Rows in priority order (best level first, oldest first within a level).

    JSON has no place for None in our "str/int/list/dict only" contract, so a missing last fill price
    is written as 0, which no real price can be.
    """
    return {
        "format": FORMAT,
        "fields": list(FIELDS),
        "bids": [_encode_row(row) for row in bids],
        "asks": [_encode_row(row) for row in asks],
    }


def decode_snapshot(snapshot: dict[str, Any]) -> tuple[list[Row], list[Row]]:
    """Validate and decode; raises CorruptSnapshot on anything `encode_snapshot` could not have made."""
    if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
        raise CorruptSnapshot(f"not a {FORMAT} snapshot")
    if snapshot.get("fields") != list(FIELDS):
        raise CorruptSnapshot(f"fields must be {list(FIELDS)}")
    bids = _decode_side(snapshot.get("bids"), "bids", descending=True)
    asks = _decode_side(snapshot.get("asks"), "asks", descending=False)
    return bids, asks


def _encode_row(row: Row) -> list[str | int]:
    order_id, user_id, price, quantity, filled, notional, last = row
    return [order_id, user_id, price, quantity, filled, notional, 0 if last is None else last]


def _decode_side(raw: object, name: str, *, descending: bool) -> list[Row]:
    if not isinstance(raw, list):
        raise CorruptSnapshot(f"{name} must be a list")
    rows = [_decode_row(item, f"{name}[{index}]") for index, item in enumerate(raw)]
    prices = [row[2] for row in rows]
    if prices != sorted(prices, reverse=descending):
        raise CorruptSnapshot(f"{name} are not in priority order")
    return rows


def _decode_row(item: object, where: str) -> Row:
    if not isinstance(item, list) or len(item) != len(FIELDS):
        raise CorruptSnapshot(f"{where} must be a list of {len(FIELDS)} values")
    order_id, user_id = item[0], item[1]
    if not isinstance(order_id, str) or not isinstance(user_id, str):
        raise CorruptSnapshot(f"{where}: order_id and user_id must be strings")
    price, quantity, filled, notional, last = (_integer(value, where) for value in item[2:])
    if price <= 0 or not 0 <= filled < quantity or notional < 0 or last < 0 or (last == 0) != (filled == 0):
        raise CorruptSnapshot(f"{where}: inconsistent quantities or prices")
    return order_id, user_id, price, quantity, filled, notional, (last or None)


def _integer(value: object, where: str) -> int:
    # DynamoDB hands numbers back as Decimal; anything integral is fine, nothing else is.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise CorruptSnapshot(f"{where}: {value!r} is not an integer")
    number = int(value)
    if number != value:
        raise CorruptSnapshot(f"{where}: {value!r} is not an integer")
    return number
