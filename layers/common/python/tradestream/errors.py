"""Typed domain errors, each with its HTTP status and stable problem `code`; mapped to JSON once."""

from __future__ import annotations

from typing import Any, ClassVar


class TradeStreamError(Exception):
    """Base of every error a client may see. Subclasses set `status`, `code` and `title`."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra: dict[str, Any] = extra or {}


class ValidationFailed(TradeStreamError):
    status = 400
    code = "VALIDATION_ERROR"
    title = "Request validation failed"


class Unauthorized(TradeStreamError):
    status = 401
    code = "UNAUTHORIZED"
    title = "Authentication required"


class InvalidCredentials(TradeStreamError):
    status = 401
    code = "INVALID_CREDENTIALS"
    title = "Invalid username or password"


class InvalidToken(TradeStreamError):
    status = 401
    code = "INVALID_TOKEN"
    title = "Invalid or expired token"


class TokenReused(TradeStreamError):
    status = 401
    code = "TOKEN_REUSED"
    title = "Refresh token reuse detected; the session was revoked"


class Forbidden(TradeStreamError):
    status = 403
    code = "FORBIDDEN"
    title = "Forbidden"


class NotFound(TradeStreamError):
    status = 404
    code = "NOT_FOUND"
    title = "Not found"


class OrderNotFound(NotFound):
    code = "ORDER_NOT_FOUND"
    title = "Order not found"


class PositionNotFound(NotFound):
    code = "POSITION_NOT_FOUND"
    title = "Position not found"


class CandleNotFound(NotFound):
    code = "CANDLE_NOT_FOUND"
    title = "Candle not found"


class Conflict(TradeStreamError):
    status = 409
    code = "CONFLICT"
    title = "Conflict"


class UsernameTaken(Conflict):
    code = "USERNAME_TAKEN"
    title = "Username already taken"


class ClientOrderIdConflict(Conflict):
    code = "CLIENT_ORDER_ID_CONFLICT"
    title = "clientOrderId already used with a different order"


class OrderNotCancelable(Conflict):
    code = "ORDER_NOT_CANCELABLE"
    title = "Order is final and cannot be canceled"


class RateLimited(TradeStreamError):
    status = 429
    code = "RATE_LIMITED"
    title = "Too many requests"

    def __init__(self, retry_after_seconds: int, detail: str | None = None) -> None:
        super().__init__(detail, extra={})
        self.retry_after_seconds = max(1, retry_after_seconds)


class LaneUnavailable(TradeStreamError):
    status = 503
    code = "LANE_UNAVAILABLE"
    title = "The order could not be queued"
