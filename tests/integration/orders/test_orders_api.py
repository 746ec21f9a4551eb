"""The orders function on moto via REST proxy events: place, replay, read, list, cancel, problems, book."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from tests.integration.orders.harness import Exchange, User
from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1, parse_lane_command

ORDER_FIELDS = {
    "id",
    "userId",
    "clientOrderId",
    "ticker",
    "side",
    "type",
    "timeInForce",
    "postOnly",
    "selfTradePrevention",
    "quantity",
    "price",
    "status",
    "filledQuantity",
    "remainingQuantity",
    "lastFillPrice",
    "avgFillPrice",
    "rejectReason",
    "cancelRequested",
    "createdAt",
    "updatedAt",
}
ISO_MS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def limit(ticker: str, side: str, quantity: str, price: str, **extra: Any) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": quantity,
        "price": price,
        **extra,
    }


def test_place_is_202_with_the_order_queued_on_its_tickers_lane(
    exchange: Exchange, alice: User, ticker: str
) -> None:
    reply = exchange.call(
        "POST",
        "/api/orders",
        alice,
        body={**limit(ticker.lower(), "BUY", "1.5", "10.25"), "quantity": 1.5},
        request_id="req-place-1",
    )

    assert reply.status == 202
    order = reply.body
    assert set(order) == ORDER_FIELDS
    assert {k: order[k] for k in ORDER_FIELDS - {"id", "createdAt", "updatedAt"}} == {
        "userId": alice.user_id,
        "clientOrderId": None,
        "ticker": ticker,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "postOnly": False,
        "selfTradePrevention": "CANCEL_TAKER",
        "quantity": "1.5",
        "price": "10.25",
        "status": "NEW",
        "filledQuantity": "0",
        "remainingQuantity": "1.5",
        "lastFillPrice": None,
        "avgFillPrice": None,
        "rejectReason": None,
        "cancelRequested": False,
    }
    assert order["createdAt"] == order["updatedAt"]
    assert re.match(ISO_MS, order["createdAt"])
    assert reply.headers["location"] == f"/api/orders/{order['id']}"
    assert reply.headers["x-request-id"] == "req-place-1"
    # A client reading the order right after the 202 sees it.
    assert exchange.get(alice, order["id"]) == order

    [message] = exchange.receive()
    assert message["Attributes"]["MessageGroupId"] == ticker
    assert message["Attributes"]["MessageDeduplicationId"] == order["id"]
    command = parse_lane_command(message["Body"])
    assert isinstance(command, OrderPlacedV1)
    assert (command.order_id, command.user_id, command.ticker, str(command.quantity), str(command.price)) == (
        order["id"],
        alice.user_id,
        ticker,
        "1.5",
        "10.25",
    )
    assert command.correlation_id == "req-place-1"


def test_a_client_order_id_replay_is_200_with_the_same_order_and_one_lane_message(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    body = limit(ticker, "SELL", "2", "30", clientOrderId="my-1")
    first = exchange.call("POST", "/api/orders", alice, body=body)
    again = exchange.call("POST", "/api/orders", alice, body={**body, "quantity": 2, "price": "30.00"})
    other = exchange.call("POST", "/api/orders", alice, body={**body, "quantity": "3"})
    bobs = exchange.call("POST", "/api/orders", bob, body=body)

    assert (first.status, again.status, other.status, bobs.status) == (202, 200, 409, 202)
    assert again.body == first.body
    assert other.body["code"] == "CLIENT_ORDER_ID_CONFLICT"
    assert other.headers["content-type"] == "application/problem+json"
    assert bobs.body["id"] != first.body["id"]
    messages = exchange.receive()
    assert [m["Attributes"]["MessageDeduplicationId"] for m in messages] == [
        first.body["id"],
        bobs.body["id"],
    ]


BAD_BODIES = [
    pytest.param({"ticker": "AC-ME"}, "ticker", id="ticker-pattern"),
    pytest.param({"side": "HOLD"}, "side", id="side"),
    pytest.param({"type": "STOP"}, "type", id="type"),
    pytest.param({"timeInForce": "DAY"}, "timeInForce", id="tif"),
    pytest.param({"quantity": "0"}, "quantity", id="quantity-zero"),
    pytest.param({"quantity": "0.0000001"}, "quantity", id="quantity-places"),
    pytest.param({"quantity": "1000000001"}, "quantity", id="quantity-max"),
    pytest.param({"price": "10.00001"}, "price", id="price-places"),
    pytest.param({"price": None}, "body", id="limit-without-price"),
    pytest.param({"type": "MARKET", "timeInForce": "IOC"}, "body", id="market-with-price"),
    pytest.param({"postOnly": True, "timeInForce": "IOC"}, "body", id="post-only-ioc"),
]


@pytest.mark.parametrize(("change", "field"), BAD_BODIES)
def test_bad_bodies_are_400_validation_problems_and_queue_nothing(
    exchange: Exchange, alice: User, ticker: str, change: dict[str, Any], field: str
) -> None:
    reply = exchange.call("POST", "/api/orders", alice, body={**limit(ticker, "BUY", "1", "10"), **change})
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/problem+json"
    assert (reply.body["code"], reply.body["status"]) == ("VALIDATION_ERROR", 400)
    assert [e["field"] for e in reply.body["errors"]] == [field]
    assert exchange.receive() == []


def test_a_body_naming_another_user_is_403(exchange: Exchange, alice: User, bob: User, ticker: str) -> None:
    reply = exchange.call(
        "POST", "/api/orders", alice, body=limit(ticker, "BUY", "1", "10", userId=bob.user_id)
    )
    assert (reply.status, reply.body["code"]) == (403, "FORBIDDEN")
    assert exchange.receive() == []


def test_another_users_order_is_404_to_read_and_to_cancel(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    order = exchange.place(alice, **limit(ticker, "BUY", "1", "10"))
    for method, path in [
        ("GET", f"/api/orders/{order['id']}"),
        ("POST", f"/api/orders/{order['id']}/cancel"),
        ("DELETE", f"/api/orders/{order['id']}"),
        ("GET", "/api/orders/no-such-order"),
    ]:
        reply = exchange.call(method, path, bob)
        assert (reply.status, reply.body["code"]) == (404, "ORDER_NOT_FOUND"), (method, path)
    assert exchange.get(alice, order["id"])["cancelRequested"] is False
    assert len(exchange.receive()) == 1


def test_cancel_is_202_with_cancel_requested_and_a_cancel_command_on_the_lane(
    exchange: Exchange, alice: User, ticker: str
) -> None:
    order = exchange.place(alice, **limit(ticker, "BUY", "1", "10"))
    reply = exchange.call("POST", f"/api/orders/{order['id']}/cancel", alice)
    again = exchange.call("DELETE", f"/api/orders/{order['id']}", alice)

    assert (reply.status, again.status) == (202, 202)
    assert reply.body["cancelRequested"] is True
    assert reply.body["status"] == "NEW"
    placed, cancel = exchange.receive()  # the second request deduplicates on the same command id
    assert cancel["Attributes"]["MessageGroupId"] == ticker
    assert cancel["Attributes"]["MessageDeduplicationId"] == f"cancel:{order['id']}"
    command = parse_lane_command(cancel["Body"])
    assert isinstance(command, OrderCancelRequestedV1)
    assert (command.order_id, command.user_id, command.ticker) == (order["id"], alice.user_id, ticker)
    assert placed["Attributes"]["MessageDeduplicationId"] == order["id"]


def test_a_lane_that_refuses_the_order_gives_503_and_a_rejected_order(
    exchange: Exchange, alice: User, ticker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANE_QUEUE_URL", exchange.lane_url.replace("orders-lane", "no-such-lane"))
    reply = exchange.call(
        "POST", "/api/orders", alice, body=limit(ticker, "BUY", "1", "10", clientOrderId="x")
    )
    assert (reply.status, reply.body["code"]) == (503, "LANE_UNAVAILABLE")

    listed = exchange.call("GET", "/api/orders", alice, query={"ticker": ticker})
    [order] = listed.body["items"]
    assert (order["status"], order["rejectReason"], order["clientOrderId"]) == (
        "REJECTED",
        "LANE_UNAVAILABLE",
        "x",
    )


def test_list_is_newest_first_with_cursor_paging_and_filters(
    exchange: Exchange, alice: User, bob: User, ticker: str
) -> None:
    ids = [exchange.place(alice, **limit(ticker, "BUY", str(i + 1), "10"))["id"] for i in range(5)]
    other = exchange.place(alice, **limit(ticker + "X", "BUY", "1", "10"))["id"]
    exchange.place(bob, **limit(ticker, "BUY", "1", "10"))
    newest_first = [*reversed(ids)]

    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(5):
        query = {"ticker": ticker.lower(), "limit": "2", **({"cursor": cursor} if cursor else {})}
        reply = exchange.call("GET", "/api/orders", alice, query=query)
        assert reply.status == 200
        pages.append([o["id"] for o in reply.body["items"]])
        cursor = reply.body["nextCursor"]
        if cursor is None:
            break
    assert [i for page in pages for i in page] == newest_first
    assert pages[:3] == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]

    # A cursor is good for its own user's listing only.
    first = exchange.call("GET", "/api/orders", alice, query={"limit": "1"}).body
    foreign = exchange.call("GET", "/api/orders", bob, query={"cursor": first["nextCursor"]})
    assert (foreign.status, foreign.body["code"]) == (400, "VALIDATION_ERROR")

    everything = exchange.call("GET", "/api/orders", alice, query={"status": "all"}).body
    assert [o["id"] for o in everything["items"]] == [other, *newest_first]
    assert everything["nextCursor"] is None
    assert exchange.call("GET", "/api/orders", alice, query={"status": "final"}).body["items"] == []


def _cursor(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"status": "closed"},
        {"ticker": "A-B"},
        {"cursor": "!!not-ours!!"},
        {"cursor": _cursor([1])},
        {"cursor": _cursor({"a": {"S": "b"}})},
        {"cursor": _cursor({"orderId": {"S": "o"}, "userId": {"N": "1"}, "createdKey": {"S": "k"}})},
    ],
)
def test_bad_list_queries_are_400(exchange: Exchange, alice: User, query: dict[str, str]) -> None:
    reply = exchange.call("GET", "/api/orders", alice, query=query)
    assert (reply.status, reply.body["code"]) == (400, "VALIDATION_ERROR")


def test_the_order_book_of_an_unknown_ticker_is_empty(exchange: Exchange, alice: User, ticker: str) -> None:
    reply = exchange.call("GET", f"/api/orderbook/{ticker.lower()}", alice)
    assert (reply.status, reply.body) == (200, {"ticker": ticker, "seq": 0, "bids": [], "asks": []})


@pytest.mark.parametrize(
    ("path", "query"), [("/api/orderbook/A-B", None), ("/api/orderbook/ACME", {"depth": "0"})]
)
def test_bad_order_book_requests_are_400(
    exchange: Exchange, alice: User, path: str, query: dict[str, str] | None
) -> None:
    reply = exchange.call("GET", path, alice, query=query)
    assert (reply.status, reply.body["code"]) == (400, "VALIDATION_ERROR")
