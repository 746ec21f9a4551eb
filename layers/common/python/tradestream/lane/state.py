"""One ticker's lane state: the book, the log head and the recently applied command ids (pure, no I/O)."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from tradestream.contracts import (
    MatchingBatchV1,
    OrderCancelRequestedV1,
    OrderPlacedV1,
    OrderUpdatedV1,
    TradeExecutedV1,
    event_id,
    parse_lane_command,
)
from tradestream.matching import NewOrder, OrderBook, OrderStatus, OrderUpdate, Reason, Trade
from tradestream.money import (
    PRICE_DECIMALS,
    PrecisionError,
    canonical,
    lots_to_quantity,
    price_to_ticks,
    quantity_to_lots,
    ticks_to_price,
)

Command = OrderPlacedV1 | OrderCancelRequestedV1
# Enough to recognise any redelivery SQS can make. A FIFO group delivers nothing newer while a message
# of it is in flight or being retried, so a redelivered command always sits in the ticker's newest log
# entries (10 commands each): 5,000 ids cover hundreds of them. The window travels in every snapshot,
# and one item holds 400 KB: 50,000 uuid ids alone compress to ~1.1 MB, which would stop snapshots
# for good once a ticker has seen ~15,000 commands (5,000 ids take ~120 KB, leaving room for the book).
RECENT_COMMANDS = 5_000
# A trade or an update is ~400 bytes of JSON; 1,000 of them stay well inside Kinesis' 1 MB record.
MAX_EVENTS_PER_RECORD = 1_000
AVG_PRICE_PLACES = Decimal(1).scaleb(-(PRICE_DECIMALS + 4))


@dataclass(frozen=True, kw_only=True)
class LogEntry:
    """What one conditional put commits: the batch's commands in lane order and what they caused."""

    ticker: str
    seq: int
    committed_at: datetime
    commands: list[Command]
    events: list[TradeExecutedV1 | OrderUpdatedV1]

    def published(self) -> MatchingBatchV1:
        return MatchingBatchV1(
            ticker=self.ticker, seq=self.seq, committedAt=self.committed_at, events=self.events
        )

    def records(self, max_events: int = MAX_EVENTS_PER_RECORD) -> list[MatchingBatchV1]:
        """The entry as stream records: one, unless its events would not fit one Kinesis record.

        Chunks keep the events in order and are published one call at a time, so the stream still
        holds a prefix of the log and (seq, n) guards still see every event in order.
        """
        if len(self.events) <= max_events:
            return [self.published()]
        return [
            MatchingBatchV1(
                ticker=self.ticker,
                seq=self.seq,
                committedAt=self.committed_at,
                events=self.events[start : start + max_events],
            )
            for start in range(0, len(self.events), max_events)
        ]

    def to_item(self) -> dict[str, Any]:
        return {
            "commands": [c.model_dump(mode="json", by_alias=True) for c in self.commands],
            "events": [e.model_dump(mode="json", by_alias=True) for e in self.events],
            "committedAt": self.committed_at.isoformat(),
        }

    @classmethod
    def from_item(cls, ticker: str, seq: int, item: dict[str, Any]) -> LogEntry:
        batch = MatchingBatchV1.model_validate(
            {"ticker": ticker, "seq": seq, "committedAt": item["committedAt"], "events": item["events"]}
        )
        return cls(
            ticker=ticker,
            seq=seq,
            committed_at=batch.committed_at,
            commands=[parse_lane_command(json.dumps(c)) for c in item["commands"]],
            events=list(batch.events),
        )


def average_price(notional: int, filled_lots: int) -> Decimal | None:
    """notional is the sum of ticks * lots; the average price in currency units, to 8 places."""
    if filled_lots == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        ticks = Decimal(notional) / Decimal(filled_lots)
        average = ticks.scaleb(-PRICE_DECIMALS).quantize(AVG_PRICE_PLACES, rounding=ROUND_HALF_EVEN)
    # canonical, not normalize(): 10.00000000 must stay 10, never become 1E+1.
    return canonical(average)


@dataclass
class TickerLane:
    ticker: str
    book: OrderBook = field(default_factory=OrderBook)
    head: int = 0
    recent: OrderedDict[str, int] = field(default_factory=OrderedDict)

    # --- applying commands --------------------------------------------------------------------------
    def seen(self, command_id: str) -> int | None:
        """The log seq that already applied this command, if it is a redelivery."""
        return self.recent.get(command_id)

    def apply(self, commands: list[Command], *, now: datetime) -> LogEntry:
        """Apply new commands as log entry head + 1. The caller commits it, or discards this lane."""
        seq = self.head + 1
        entry = LogEntry(ticker=self.ticker, seq=seq, committed_at=now, commands=list(commands), events=[])
        for command in commands:
            for raw in self._execute(command):
                entry.events.append(self._contract(raw, command, seq, len(entry.events), now))
            self._remember(command.command_id, seq)
        self.head = seq
        return entry

    def replay(self, entry: LogEntry) -> None:
        """Re-apply a committed entry (cold start); the engine is deterministic, so events are equal."""
        if entry.seq != self.head + 1:
            raise ValueError(f"{self.ticker}: log entry {entry.seq} does not follow head {self.head}")
        for command in entry.commands:
            self._execute(command)
            self._remember(command.command_id, entry.seq)
        self.head = entry.seq

    def _remember(self, command_id: str, seq: int) -> None:
        self.recent[command_id] = seq
        self.recent.move_to_end(command_id)
        while len(self.recent) > RECENT_COMMANDS:
            self.recent.popitem(last=False)

    def _execute(self, command: Command) -> list[Trade | OrderUpdate]:
        if isinstance(command, OrderCancelRequestedV1):
            return self.book.cancel(command.order_id)
        try:
            order = NewOrder(
                order_id=command.order_id,
                user_id=command.user_id,
                side=command.side,
                type=command.order_type,
                time_in_force=command.time_in_force,
                quantity=quantity_to_lots(command.quantity),
                price=None if command.price is None else price_to_ticks(command.price),
                post_only=command.post_only,
                self_trade_prevention=command.self_trade_prevention,
            )
        except PrecisionError:
            # Finer than a tick or a lot: the API refuses these, so only a rogue producer gets here.
            return [
                OrderUpdate(
                    order_id=command.order_id,
                    user_id=command.user_id,
                    status=OrderStatus.REJECTED,
                    filled_quantity=0,
                    remaining_quantity=0,
                    last_fill_price=None,
                    filled_notional=0,
                    reason=Reason.INVALID_ORDER,
                )
            ]
        return self.book.place(order)

    def _contract(
        self, raw: Trade | OrderUpdate, command: Command, seq: int, n: int, now: datetime
    ) -> TradeExecutedV1 | OrderUpdatedV1:
        eid = event_id(self.ticker, seq, n)
        if isinstance(raw, Trade):
            return TradeExecutedV1(
                eventId=eid,
                ticker=self.ticker,
                seq=seq,
                n=n,
                correlationId=command.correlation_id,
                tradeId=eid,
                price=ticks_to_price(raw.price),
                quantity=lots_to_quantity(raw.quantity),
                takerSide=raw.taker_side,
                makerOrderId=raw.maker_order_id,
                takerOrderId=raw.taker_order_id,
                makerUserId=raw.maker_user_id,
                takerUserId=raw.taker_user_id,
                executedAt=now,
            )
        return OrderUpdatedV1(
            eventId=eid,
            ticker=self.ticker,
            seq=seq,
            n=n,
            correlationId=command.correlation_id,
            orderId=raw.order_id,
            userId=raw.user_id,
            status=raw.status,
            filledQuantity=lots_to_quantity(raw.filled_quantity),
            remainingQuantity=lots_to_quantity(raw.remaining_quantity),
            lastFillPrice=None if raw.last_fill_price is None else ticks_to_price(raw.last_fill_price),
            avgFillPrice=average_price(raw.filled_notional, raw.filled_quantity),
            reason=None if raw.reason is None else str(raw.reason),
            updatedAt=now,
        )

    # --- snapshots ----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"head": self.head, "book": self.book.snapshot(), "recent": list(self.recent.items())}

    @classmethod
    def restore(cls, ticker: str, snapshot: dict[str, Any]) -> TickerLane:
        recent: OrderedDict[str, int] = OrderedDict((str(k), int(v)) for k, v in snapshot["recent"])
        return cls(
            ticker=ticker, book=OrderBook.restore(snapshot["book"]), head=int(snapshot["head"]), recent=recent
        )
