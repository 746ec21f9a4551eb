"""The versioned events: two commands on the lane, two facts on the stream. Decimals travel as strings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
)

from tradestream.matching import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.money import to_str


def _wire_decimal(value: object) -> object:
    """Decimals travel as strings (JSON numbers are tolerated), nothing else.

    Found by fuzzing the lane: pydantic also takes a three-element array as Decimal's (sign, digits,
    exponent) tuple, and a malformed one escaped validation as a bare ValueError, failing the batch.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("a decimal must be a string or a number")
    return value


def _writable(value: Decimal) -> Decimal:
    """Refuse a decimal that has no exact canonical string ("1e999": more digits than money keeps).

    Found by fuzzing the lane: such a command parsed, then failed every commit when the log entry was
    serialized, so its ticker's batch was retried until SQS gave up on it, without a reason.
    """
    try:
        to_str(value)
    except InvalidOperation:
        raise ValueError("the number has more digits than can be kept exactly") from None
    return value


# Canonical decimal strings on the wire ("10", "0.5"): numbers would lose exactness in JSON parsers.
DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_wire_decimal),
    AfterValidator(_writable),
    PlainSerializer(to_str, return_type=str, when_used="json"),
]
Ticker = Annotated[str, Field(pattern=r"^[A-Z0-9.]{1,16}$")]
# Timestamps carry their offset: found by fuzzing the stream, a naive executedAt parsed, then failed the
# market-data projection on every retry (candle buckets are UTC) until Lambda skipped the record.
Instant = AwareDatetime


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    correlation_id: str | None = Field(default=None, alias="correlationId", max_length=128)


def event_id(ticker: str, seq: int, n: int) -> str:
    """Deterministic id of the n-th event of a ticker's log entry seq: redelivery reproduces it."""
    return f"{ticker}:{seq}:{n}"


class OrderPlacedV1(_Contract):
    type: Literal["order.placed.v1"] = "order.placed.v1"
    order_id: str = Field(alias="orderId", min_length=1, max_length=64)
    user_id: str = Field(alias="userId", min_length=1, max_length=64)
    ticker: Ticker
    side: Side
    order_type: OrderType = Field(alias="orderType")
    time_in_force: TimeInForce = Field(alias="timeInForce")
    quantity: DecimalStr = Field(gt=0)
    price: DecimalStr | None = Field(default=None, gt=0)
    post_only: bool = Field(default=False, alias="postOnly")
    self_trade_prevention: SelfTradePrevention = Field(
        default=SelfTradePrevention.CANCEL_TAKER, alias="selfTradePrevention"
    )
    created_at: Instant = Field(alias="createdAt")

    @property
    def command_id(self) -> str:
        return self.order_id


class OrderCancelRequestedV1(_Contract):
    type: Literal["order.cancel-requested.v1"] = "order.cancel-requested.v1"
    order_id: str = Field(alias="orderId", min_length=1, max_length=64)
    user_id: str = Field(alias="userId", min_length=1, max_length=64)
    ticker: Ticker
    requested_at: Instant = Field(alias="requestedAt")

    @property
    def command_id(self) -> str:
        return f"cancel:{self.order_id}"


class _StreamContract(_Contract):
    event_id: str = Field(alias="eventId")
    ticker: Ticker
    seq: int = Field(ge=1)
    n: int = Field(ge=0)


class TradeExecutedV1(_StreamContract):
    type: Literal["trade.executed.v1"] = "trade.executed.v1"
    trade_id: str = Field(alias="tradeId")
    price: DecimalStr = Field(gt=0)
    quantity: DecimalStr = Field(gt=0)
    taker_side: Side = Field(alias="takerSide")
    maker_order_id: str = Field(alias="makerOrderId")
    taker_order_id: str = Field(alias="takerOrderId")
    maker_user_id: str = Field(alias="makerUserId")
    taker_user_id: str = Field(alias="takerUserId")
    executed_at: Instant = Field(alias="executedAt")

    @property
    def buyer(self) -> tuple[str, str]:
        """(userId, orderId) of the buying side."""
        if self.taker_side is Side.BUY:
            return self.taker_user_id, self.taker_order_id
        return self.maker_user_id, self.maker_order_id

    @property
    def seller(self) -> tuple[str, str]:
        if self.taker_side is Side.SELL:
            return self.taker_user_id, self.taker_order_id
        return self.maker_user_id, self.maker_order_id


class OrderUpdatedV1(_StreamContract):
    type: Literal["order.updated.v1"] = "order.updated.v1"
    order_id: str = Field(alias="orderId")
    user_id: str = Field(alias="userId")
    status: OrderStatus
    filled_quantity: DecimalStr = Field(alias="filledQuantity", ge=0)
    remaining_quantity: DecimalStr = Field(alias="remainingQuantity", ge=0)
    last_fill_price: DecimalStr | None = Field(default=None, alias="lastFillPrice")
    avg_fill_price: DecimalStr | None = Field(default=None, alias="avgFillPrice")
    reason: str | None = None
    updated_at: Instant = Field(alias="updatedAt")


class MatchingBatchV1(_Contract):
    """One Kinesis record per committed log entry: the entry's events in order.

    Publishing a whole entry as one record keeps it atomic on the stream: a retried PutRecords can
    never interleave half an entry with the next one, which sequence guards could not repair.
    """

    type: Literal["matching.batch.v1"] = "matching.batch.v1"
    ticker: Ticker
    seq: int = Field(ge=1)
    committed_at: Instant = Field(alias="committedAt")
    events: list[Annotated[TradeExecutedV1 | OrderUpdatedV1, Field(discriminator="type")]]


LaneCommand = Annotated[OrderPlacedV1 | OrderCancelRequestedV1, Field(discriminator="type")]
StreamEvent = Annotated[TradeExecutedV1 | OrderUpdatedV1, Field(discriminator="type")]
LANE_COMMANDS: TypeAdapter[OrderPlacedV1 | OrderCancelRequestedV1] = TypeAdapter(LaneCommand)
STREAM_EVENTS: TypeAdapter[TradeExecutedV1 | OrderUpdatedV1] = TypeAdapter(StreamEvent)


def parse_lane_command(body: str | bytes) -> OrderPlacedV1 | OrderCancelRequestedV1:
    """Raises pydantic.ValidationError for anything that is not a valid lane command."""
    return LANE_COMMANDS.validate_json(body)


def parse_stream_event(data: str | bytes) -> TradeExecutedV1 | OrderUpdatedV1:
    return STREAM_EVENTS.validate_json(data)


def parse_matching_batch(data: str | bytes) -> MatchingBatchV1:
    return MatchingBatchV1.model_validate_json(data)
