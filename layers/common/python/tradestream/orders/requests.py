"""The body of POST /api/orders and its rules (decimals as strings or numbers, never floats inside)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradestream.matching import OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.money import MAX_QUANTITY, PRICE_DECIMALS, QUANTITY_DECIMALS, PrecisionError, parse_decimal

MAX_PRICE = Decimal("1000000000")


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 99


def _decimal(raw: Any, field: str) -> Decimal:
    try:
        value = parse_decimal(raw)
    except PrecisionError as exc:
        raise ValueError(f"{field} must be a decimal number") from exc
    if not value.is_finite():
        raise ValueError(f"{field} must be a finite number")
    return value


class PlaceOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    ticker: str = Field(max_length=64)
    side: Side
    type: OrderType
    time_in_force: TimeInForce = Field(alias="timeInForce")
    quantity: Decimal
    price: Decimal | None = None
    client_order_id: str | None = Field(
        default=None, alias="clientOrderId", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$"
    )
    post_only: bool = Field(default=False, alias="postOnly")
    self_trade_prevention: SelfTradePrevention = Field(
        default=SelfTradePrevention.CANCEL_TAKER, alias="selfTradePrevention"
    )
    user_id: str | None = Field(default=None, alias="userId", max_length=64)

    @field_validator("ticker")
    @classmethod
    def _ticker(cls, value: str) -> str:
        upper = value.upper()
        if not re.fullmatch(r"[A-Z0-9.]{1,16}", upper):
            raise ValueError("ticker must be 1-16 characters of A-Z, 0-9 and '.'")
        return upper

    @field_validator("side", "type", "time_in_force", "self_trade_prevention", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, raw: Any) -> Decimal:
        value = _decimal(raw, "quantity")
        if value <= 0:
            raise ValueError("quantity must be greater than 0")
        if value > MAX_QUANTITY:
            raise ValueError("quantity must be at most 1000000000")
        if _places(value) > QUANTITY_DECIMALS:
            raise ValueError(f"quantity must have at most {QUANTITY_DECIMALS} decimal places")
        return value

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, raw: Any) -> Decimal | None:
        if raw is None:
            return None
        value = _decimal(raw, "price")
        if value <= 0:
            raise ValueError("price must be greater than 0")
        if value > MAX_PRICE:
            raise ValueError("price must be at most 1000000000")
        if _places(value) > PRICE_DECIMALS:
            raise ValueError(f"price must have at most {PRICE_DECIMALS} decimal places")
        return value

    @model_validator(mode="after")
    def _order_rules(self) -> Self:
        if self.type is OrderType.LIMIT and self.price is None:
            raise ValueError("price is required for a LIMIT order")
        if self.type is OrderType.MARKET and self.price is not None:
            raise ValueError("a MARKET order must not have a price")
        if self.post_only and not (self.type is OrderType.LIMIT and self.time_in_force is TimeInForce.GTC):
            raise ValueError("postOnly is only allowed on LIMIT GTC orders")
        return self
