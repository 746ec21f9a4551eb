"""PlaceOrderRequest: every 400 rule of POST /api/orders, and the bodies it accepts (numbers included)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tradestream.matching import OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.orders.requests import PlaceOrderRequest

LIMIT = {
    "ticker": "ACME",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "1",
    "price": "10",
}
MARKET = {"ticker": "ACME", "side": "SELL", "type": "MARKET", "timeInForce": "IOC", "quantity": "2"}


def parse(base: dict[str, Any], **changes: Any) -> PlaceOrderRequest:
    """Through JSON text, as the API receives it: numbers arrive as ints and floats."""
    body = {**base, **changes}
    return PlaceOrderRequest.model_validate_json(json.dumps({k: v for k, v in body.items() if v is not ...}))


def errors(base: dict[str, Any], **changes: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse(base, **changes)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


# --- accepted --------------------------------------------------------------------------------------


def test_a_limit_order_parses_to_exact_decimals_and_enums() -> None:
    request = parse(LIMIT, clientOrderId="c-1.a:b", postOnly=True, selfTradePrevention="EXPIRE_BOTH")
    assert request == PlaceOrderRequest(
        ticker="ACME",
        side=Side.BUY,
        type=OrderType.LIMIT,
        timeInForce=TimeInForce.GTC,
        quantity=Decimal("1"),
        price=Decimal("10"),
        clientOrderId="c-1.a:b",
        postOnly=True,
        selfTradePrevention=SelfTradePrevention.EXPIRE_BOTH,
    )


def test_a_market_order_has_no_price() -> None:
    request = parse(MARKET)
    assert (request.type, request.price, request.time_in_force) == (OrderType.MARKET, None, TimeInForce.IOC)
    assert parse(MARKET, price=None).price is None


@pytest.mark.parametrize(
    ("raw", "ticker"),
    [("acme", "ACME"), ("brk.b", "BRK.B"), (" X1 ", "X1"), ("A" * 16, "A" * 16), ("9", "9")],
)
def test_tickers_are_upper_cased_then_checked(raw: str, ticker: str) -> None:
    assert parse(LIMIT, ticker=raw).ticker == ticker


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1.5, Decimal("1.5")),  # a JSON number
        (10, Decimal("10")),
        (0.1, Decimal("0.1")),  # through its shortest repr, never float's binary expansion
        ("0.000001", Decimal("0.000001")),  # the smallest lot
        ("1000000000", Decimal("1000000000")),  # the largest quantity
        ("999999999.999999", Decimal("999999999.999999")),
        ("2.500000", Decimal("2.5")),  # trailing zeros are not places
        ("1e3", Decimal("1000")),
    ],
)
def test_quantities_as_numbers_or_strings(raw: object, expected: Decimal) -> None:
    assert parse(LIMIT, quantity=raw).quantity == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (10.25, Decimal("10.25")),
        (3, Decimal("3")),
        ("0.0001", Decimal("0.0001")),
        ("12.3400", Decimal("12.34")),
    ],
)
def test_prices_as_numbers_or_strings(raw: object, expected: Decimal) -> None:
    assert parse(LIMIT, price=raw).price == expected


def test_side_type_and_time_in_force_are_case_insensitive() -> None:
    request = parse(LIMIT, side="sell", type="limit", timeInForce="ioc")
    assert (request.side, request.type, request.time_in_force) == (
        Side.SELL,
        OrderType.LIMIT,
        TimeInForce.IOC,
    )


@pytest.mark.parametrize("tif", ["GTC", "IOC", "FOK"])
def test_every_time_in_force_is_accepted(tif: str) -> None:
    assert parse(LIMIT, timeInForce=tif).time_in_force == TimeInForce(tif)


def test_the_body_may_name_a_user_the_service_checks() -> None:
    assert parse(LIMIT, userId="u-1").user_id == "u-1"


# --- refused: one case per rule ----------------------------------------------------------------------

TICKER_MSG = "Value error, ticker must be 1-16 characters of A-Z, 0-9 and '.'"


@pytest.mark.parametrize("ticker", ["", "A" * 17, "AB-C", "AC ME", "ÄCME", "AC/ME"])
def test_bad_tickers(ticker: str) -> None:
    assert errors(LIMIT, ticker=ticker) == [("ticker", TICKER_MSG)]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("side", "HOLD", [("side", "Input should be 'BUY' or 'SELL'")]),
        ("type", "STOP", [("type", "Input should be 'LIMIT' or 'MARKET'")]),
        ("timeInForce", "DAY", [("timeInForce", "Input should be 'GTC', 'IOC' or 'FOK'")]),
    ],
)
def test_unknown_side_type_and_time_in_force(field: str, value: str, expected: list[tuple[str, str]]) -> None:
    assert errors(LIMIT, **{field: value}) == expected


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Value error, quantity must be greater than 0"),
        (0, "Value error, quantity must be greater than 0"),
        ("-1", "Value error, quantity must be greater than 0"),
        ("0.0000001", "Value error, quantity must have at most 6 decimal places"),
        (1.0000001, "Value error, quantity must have at most 6 decimal places"),
        ("1000000000.000001", "Value error, quantity must be at most 1000000000"),
        ("1e10", "Value error, quantity must be at most 1000000000"),
        ("abc", "Value error, quantity must be a decimal number"),
        (True, "Value error, quantity must be a decimal number"),
        ("NaN", "Value error, quantity must be a finite number"),
        ("Infinity", "Value error, quantity must be a finite number"),
    ],
)
def test_bad_quantities(quantity: object, message: str) -> None:
    assert errors(LIMIT, quantity=quantity) == [("quantity", message)]


def test_quantity_is_required() -> None:
    assert errors(LIMIT, quantity=...) == [("quantity", "Field required")]


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("0", "Value error, price must be greater than 0"),
        (-5, "Value error, price must be greater than 0"),
        ("10.00001", "Value error, price must have at most 4 decimal places"),
        (0.00001, "Value error, price must have at most 4 decimal places"),
        ("ten", "Value error, price must be a decimal number"),
    ],
)
def test_bad_prices(price: object, message: str) -> None:
    assert errors(LIMIT, price=price) == [("price", message)]


@pytest.mark.parametrize("price", [..., None])
def test_a_limit_order_needs_a_price(price: object) -> None:
    assert errors(LIMIT, price=price) == [("", "Value error, price is required for a LIMIT order")]


@pytest.mark.parametrize("price", ["10", 10])
def test_a_market_order_must_not_have_a_price(price: object) -> None:
    assert errors(MARKET, price=price) == [("", "Value error, a MARKET order must not have a price")]


@pytest.mark.parametrize(
    ("base", "changes"),
    [
        (LIMIT, {"timeInForce": "IOC"}),
        (LIMIT, {"timeInForce": "FOK"}),
        (MARKET, {}),
        (MARKET, {"timeInForce": "GTC"}),
    ],
)
def test_post_only_is_only_for_limit_gtc(base: dict[str, Any], changes: dict[str, Any]) -> None:
    assert errors(base, postOnly=True, **changes) == [
        ("", "Value error, postOnly is only allowed on LIMIT GTC orders")
    ]


@pytest.mark.parametrize("client_order_id", ["", "a b", "x" * 65, "naïve"])
def test_bad_client_order_ids(client_order_id: str) -> None:
    assert [field for field, _ in errors(LIMIT, clientOrderId=client_order_id)] == ["clientOrderId"]


def test_unknown_fields_are_refused() -> None:
    assert errors(LIMIT, leverage=10) == [("leverage", "Extra inputs are not permitted")]
