"""What the audit reads from a deployment, as plain records: the checks never see DynamoDB or SQS.

Every table the invariants speak about has a record type here; `Dataset` holds one reading of all of
them. The reader (`tradestream.audit.reader`) fills it from a running deployment, unit tests build it by
hand, and `tradestream.audit.checks` compares its parts with each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradestream.lane.state import LogEntry
from tradestream.marketdata import Interval
from tradestream.matching import OrderStatus, OrderType, Side, TimeInForce
from tradestream.portfolio import Side as AccountSide


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderRecord:
    order_id: str
    user_id: str
    ticker: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    price: Decimal | None
    status: OrderStatus
    filled_quantity: Decimal
    remaining_quantity: Decimal
    avg_fill_price: Decimal | None
    reject_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SnapshotRecord:
    ticker: str
    head: int
    state: dict[str, Any]  # TickerLane.snapshot(): {"head", "book", "recent"}


@dataclass(frozen=True, kw_only=True, slots=True)
class ViewRecord:
    """The top of book the matching function keeps for GET /api/orderbook: (price, quantity, orders)."""

    ticker: str
    seq: int
    bids: list[tuple[str, str, int]]
    asks: list[tuple[str, str, int]]


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalRecord:
    """One transactions row (one side of one trade as its account sees it)."""

    user_id: str
    sort_key: str
    trade_id: str
    order_id: str
    side: AccountSide
    ticker: str
    quantity: Decimal
    price: Decimal
    executed_at: datetime
    seq: int
    n: int


@dataclass(frozen=True, kw_only=True, slots=True)
class CountRecord:
    """A per-user row count: `day` None is TOTAL#{ticker}, otherwise DAY#{day}#{ticker}."""

    user_id: str
    ticker: str
    day: str | None
    rows: int


@dataclass(frozen=True, kw_only=True, slots=True)
class PositionRecord:
    user_id: str
    ticker: str
    quantity: Decimal
    avg_cost: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class LastPriceRecord:
    ticker: str
    price: Decimal
    seq: int
    n: int


@dataclass(frozen=True, kw_only=True, slots=True)
class CandleRecord:
    ticker: str
    interval: Interval
    bucket_start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int
    open_seq: tuple[int, int]
    close_seq: tuple[int, int]


@dataclass(frozen=True, kw_only=True, slots=True)
class TapeRecord:
    """A trade on the tape (TradesTable) or the latest trade of a ticker (TickersTable)."""

    ticker: str
    trade_id: str
    price: Decimal
    quantity: Decimal
    seq: int
    n: int


@dataclass(frozen=True, kw_only=True, slots=True)
class DeadLetter:
    """A message parked on a DLQ, peeked (never consumed), with why it was parked."""

    queue: str
    message_id: str
    reason: str
    body: str
    receive_count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueState:
    """Approximate depth of a queue: visible, in flight, and how many the audit could peek."""

    queue: str
    visible: int
    in_flight: int


@dataclass(kw_only=True)
class Dataset:
    """One reading of a deployment. `read_at` is when the reading started (grace periods count from it)."""

    read_at: datetime
    orders: list[OrderRecord] = field(default_factory=list)
    log: dict[str, list[LogEntry]] = field(default_factory=dict)
    undecodable: list[tuple[str, str, str]] = field(default_factory=list)  # (table, item key, why)
    snapshots: dict[str, SnapshotRecord] = field(default_factory=dict)
    views: dict[str, ViewRecord] = field(default_factory=dict)
    journal: list[JournalRecord] = field(default_factory=list)
    counts: list[CountRecord] = field(default_factory=list)
    positions: list[PositionRecord] = field(default_factory=list)
    last_prices: list[LastPriceRecord] = field(default_factory=list)
    candles: list[CandleRecord] = field(default_factory=list)
    tape: list[TapeRecord] = field(default_factory=list)
    tickers: list[TapeRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    queues: list[QueueState] = field(default_factory=list)
