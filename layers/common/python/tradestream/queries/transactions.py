"""Transactions of one user, a page at a time, with totals read from the journal's counts."""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tradestream.errors import ValidationFailed
from tradestream.money import to_str
from tradestream.orders.model import iso_now
from tradestream.projections.journal import TransactionRow

MIN_PAGE_SIZE = 1
MAX_PAGE_SIZE = 500
_SORT = re.compile(r"^executedAt(?:,(asc|desc))?$", re.IGNORECASE)


class TransactionReader(ABC):
    @abstractmethod
    def count(self, user_id: str, ticker: str | None) -> int:
        """The user's rows (of one ticker, or all), from the journal's counts."""

    @abstractmethod
    def count_days(self, user_id: str, first_day: date) -> int:
        """The user's rows executed on ``first_day`` (UTC) or later, from the per-day counts."""

    @abstractmethod
    def count_between(self, user_id: str, start: datetime, end: datetime) -> int:
        """The user's rows with start <= executedAt < end, counted on read: callers keep this under a day."""

    @abstractmethod
    def rows(
        self,
        user_id: str,
        *,
        ticker: str | None,
        since: datetime | None,
        ascending: bool,
        offset: int,
        limit: int,
    ) -> list[TransactionRow]:
        """Rows ordered by executedAt (then ticker, seq, n, side), skipping ``offset``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PageRequest:
    page: int
    size: int
    ascending: bool

    @classmethod
    def of(cls, *, page: int, size: int, sort: str) -> PageRequest:
        """Size is clamped to 1..500 rather than refused; a sort other than executedAt is a 400."""
        match = _SORT.match(sort.strip())
        if match is None:
            raise ValidationFailed("sort must be executedAt,asc or executedAt,desc")
        if page < 0:
            raise ValidationFailed("page must not be negative")
        direction = (match.group(1) or "asc").lower()
        return cls(page=page, size=max(MIN_PAGE_SIZE, min(MAX_PAGE_SIZE, size)), ascending=direction == "asc")

    @property
    def offset(self) -> int:
        return self.page * self.size


def row_json(row: TransactionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "tradeId": row.trade_id,
        "orderId": row.order_id,
        "userId": row.user_id,
        "side": row.side.value,
        "ticker": row.ticker,
        "quantity": to_str(row.quantity),
        "price": to_str(row.price),
        "executedAt": iso_now(row.executed_at),
        "seq": row.seq,
        "n": row.n,
    }


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionPage:
    content: list[TransactionRow]
    total: int
    request: PageRequest

    def to_json(self) -> dict[str, Any]:
        return {
            "content": [row_json(row) for row in self.content],
            "totalElements": self.total,
            "totalPages": math.ceil(self.total / self.request.size),
            "number": self.request.page,
            "size": self.request.size,
        }


def parse_instant(raw: str, *, name: str) -> datetime:
    """An ISO-8601 instant with an offset ("Z" or +hh:mm); anything else is a 400."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO-8601 date-time, got {raw!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed(f"{name} must carry a UTC offset (e.g. 2026-01-01T00:00:00Z), got {raw!r}")
    return moment.astimezone(UTC)


class TransactionQueries:
    def __init__(self, reader: TransactionReader) -> None:
        self._reader = reader

    def page(
        self, user_id: str, request: PageRequest, *, ticker: str | None = None, since: datetime | None = None
    ) -> TransactionPage:
        total = (
            self._count_since(user_id, since) if since is not None else self._reader.count(user_id, ticker)
        )
        content = []
        if request.offset < total:
            content = self._reader.rows(
                user_id,
                ticker=ticker,
                since=since,
                ascending=request.ascending,
                offset=request.offset,
                limit=request.size,
            )
        return TransactionPage(content=content, total=total, request=request)

    def _count_since(self, user_id: str, since: datetime) -> int:
        # Whole days come from the per-day counts; only the part of since's own day is counted on read.
        midnight = datetime.combine(since.date(), time(), tzinfo=UTC)
        if since == midnight:
            return self._reader.count_days(user_id, since.date())
        next_day = midnight + timedelta(days=1)
        return self._reader.count_between(user_id, since, next_day) + self._reader.count_days(
            user_id, next_day.date()
        )
