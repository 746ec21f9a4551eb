"""The closed vocabularies of the matching core: side, order type, time in force, STP mode, status, reason."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class SelfTradePrevention(StrEnum):
    """What happens when a taker would trade with a resting order of its own user (the taker's mode rules)."""

    CANCEL_TAKER = "CANCEL_TAKER"
    EXPIRE_TAKER = "EXPIRE_TAKER"
    EXPIRE_MAKER = "EXPIRE_MAKER"
    EXPIRE_BOTH = "EXPIRE_BOTH"
    NONE = "NONE"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_final(self) -> bool:
        return self not in _LIVE


_LIVE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class Reason(StrEnum):
    """Why an order reached a final state other than FILLED; members compare equal to their strings."""

    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    POST_ONLY_WOULD_CROSS = "POST_ONLY_WOULD_CROSS"
    NO_LIQUIDITY = "NO_LIQUIDITY"
    IOC_REMAINDER = "IOC_REMAINDER"
    SELF_TRADE_PREVENTION = "SELF_TRADE_PREVENTION"
    CANCELED_BY_USER = "CANCELED_BY_USER"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    INVALID_ORDER = "INVALID_ORDER"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
