"""Order routes: place, read, list, cancel, and the order book's top levels."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from tradestream.adapters.dynamodb.lane import DynamoBookViewStore
from tradestream.adapters.dynamodb.orders import DynamoOrderStore
from tradestream.adapters.sqs import SqsLane
from tradestream.api.caller import caller_of
from tradestream.api.resolver import create_resolver, request_id_of
from tradestream.errors import ValidationFailed
from tradestream.heap import warm_heap
from tradestream.observability import logger
from tradestream.orders.requests import PlaceOrderRequest
from tradestream.orders.service import OrderService
from tradestream.settings import OrdersApiSettings

app = create_resolver()
TICKER_PATTERN = r"^[A-Za-z0-9.]{1,16}$"


@functools.cache
def settings() -> OrdersApiSettings:
    return OrdersApiSettings.from_env()


@functools.cache
def service() -> OrderService:
    s = settings()
    return OrderService(store=DynamoOrderStore(s.orders_table), lane=SqsLane(s.lane_queue_url))


_ACCEPTED = OpenAPIResponse(description="The order, NEW, queued on its ticker's lane")
_REPLAYED = OpenAPIResponse(description="The order placed before with this clientOrderId")


def _request_id() -> str:
    return request_id_of(app.current_event.raw_event)


# 202: a new order, queued; 200: the order placed before under the same clientOrderId.
@app.post("/api/orders", status_code=202, responses={200: _REPLAYED, 202: _ACCEPTED})
def place_order(body: PlaceOrderRequest) -> Response[dict[str, Any]]:
    caller = caller_of(app.current_event.raw_event)
    order, created = service().place(caller, body, correlation_id=_request_id())
    return Response(
        202 if created else 200,
        "application/json",
        order.to_json(),
        headers={"Location": f"/api/orders/{order.id}"},
    )


@app.get("/api/orders/<order_id>")
def get_order(order_id: str) -> dict[str, Any]:
    return service().get(caller_of(app.current_event.raw_event), order_id).to_json()


@app.get("/api/orders")
def list_orders(
    ticker: Annotated[str | None, Query(pattern=TICKER_PATTERN)] = None,
    status: Annotated[Literal["open", "final", "all"], Query()] = "all",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    page = service().list(
        caller_of(app.current_event.raw_event),
        ticker=ticker.upper() if ticker else None,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return {"items": [o.to_json() for o in page.items], "nextCursor": page.next_cursor}


def _cancel(order_id: str) -> Response[dict[str, Any]]:
    order = service().cancel(caller_of(app.current_event.raw_event), order_id, correlation_id=_request_id())
    return Response(202, "application/json", order.to_json())


@app.post("/api/orders/<order_id>/cancel", status_code=202)
def cancel_order(order_id: str) -> Response[dict[str, Any]]:
    return _cancel(order_id)


@app.delete("/api/orders/<order_id>", status_code=202)
def delete_order(order_id: str) -> Response[dict[str, Any]]:
    return _cancel(order_id)


@functools.cache
def views() -> DynamoBookViewStore:
    return DynamoBookViewStore(settings().book_views_table)


@app.get("/api/orderbook/<ticker>")
def order_book(ticker: str, depth: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    symbol = ticker.upper()
    if not (1 <= len(symbol) <= 16) or not all(c.isalnum() or c == "." for c in symbol):
        raise ValidationFailed("ticker must be 1-16 characters of A-Z, 0-9 and '.'")
    view = views().get(symbol)
    seq, bids, asks = view if view is not None else (0, [], [])

    def levels(side: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
        return [{"price": p, "quantity": q, "orders": n} for p, q, n in side[:depth]]

    return {"ticker": symbol, "seq": seq, "bids": levels(bids), "asks": levels(asks)}


@warm_heap
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
