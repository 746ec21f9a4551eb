"""A consistent `Dataset` built the way the system builds one: the real engine writes the log, the real
projections (on the in-memory stores of tests/fakes) write the journal, positions and market data, and
orders follow their logged updates as the order-status projection does. Tests then break one thing.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.fakes.projections import (
    InMemoryCandleStore,
    InMemoryLastPriceStore,
    InMemoryPositionStore,
    InMemoryTickerStore,
    InMemoryTradeTape,
    InMemoryTransactionStore,
)
from tradestream.audit.dataset import (
    CandleRecord,
    CountRecord,
    Dataset,
    JournalRecord,
    LastPriceRecord,
    OrderRecord,
    PositionRecord,
    SnapshotRecord,
    TapeRecord,
    ViewRecord,
)
from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1, OrderUpdatedV1
from tradestream.lane.service import VIEW_DEPTH, _levels
from tradestream.lane.state import LogEntry, TickerLane
from tradestream.matching import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.projections.journal import project_journal
from tradestream.projections.market_data import project_market_data
from tradestream.projections.portfolio import project_portfolio

START = datetime(2026, 1, 5, 9, 58, 30, tzinfo=UTC)
D = Decimal


class Market:
    """Orders through the real engine, one log entry per call; a snapshot every `snapshot_every`."""

    def __init__(self, *, snapshot_every: int = 3) -> None:
        self.now = START
        self.lanes: dict[str, TickerLane] = {}
        self.log: dict[str, list[LogEntry]] = {}
        self.orders: dict[str, OrderRecord] = {}
        self.snapshots: dict[str, SnapshotRecord] = {}
        self.snapshot_every = snapshot_every
        self._ids = 0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def place(
        self,
        user: str,
        side: str,
        quantity: str,
        price: str | None = None,
        *,
        ticker: str = "AAPL",
        tif: TimeInForce = TimeInForce.GTC,
        stp: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER,
    ) -> str:
        self._ids += 1
        order_id = f"o-{self._ids}"
        command = OrderPlacedV1(
            orderId=order_id,
            userId=user,
            ticker=ticker,
            side=Side(side),
            orderType=OrderType.LIMIT if price is not None else OrderType.MARKET,
            timeInForce=tif if price is not None else TimeInForce.IOC,
            quantity=D(quantity),
            price=None if price is None else D(price),
            selfTradePrevention=stp,
            createdAt=self.now,
        )
        self.orders[order_id] = self.record(command)
        self.commit(ticker, [command])
        return order_id

    def record(self, command: OrderPlacedV1) -> OrderRecord:
        """The order as the API stores it before the engine reports on it."""
        return OrderRecord(
            order_id=command.order_id,
            user_id=command.user_id,
            ticker=command.ticker,
            side=command.side,
            order_type=command.order_type,
            time_in_force=command.time_in_force,
            quantity=command.quantity,
            price=command.price,
            status=OrderStatus.NEW,
            filled_quantity=D(0),
            remaining_quantity=command.quantity,
            avg_fill_price=None,
            reject_reason=None,
            created_at=self.now,
            updated_at=self.now,
        )

    def cancel(self, order_id: str) -> None:
        order = self.orders[order_id]
        command = OrderCancelRequestedV1(
            orderId=order_id, userId=order.user_id, ticker=order.ticker, requestedAt=self.now
        )
        self.commit(order.ticker, [command])

    def commit(self, ticker: str, commands: list[OrderPlacedV1 | OrderCancelRequestedV1]) -> LogEntry:
        lane = self.lanes.setdefault(ticker, TickerLane(ticker=ticker))
        entry = lane.apply(commands, now=self.now)
        self.log.setdefault(ticker, []).append(entry)
        for event in entry.events:
            if isinstance(event, OrderUpdatedV1) and event.order_id in self.orders:
                self.orders[event.order_id] = replace(
                    self.orders[event.order_id],
                    status=event.status,
                    filled_quantity=event.filled_quantity,
                    remaining_quantity=event.remaining_quantity,
                    avg_fill_price=event.avg_fill_price,
                    updated_at=event.updated_at,
                )
        if entry.seq % self.snapshot_every == 0:
            state = json.loads(json.dumps(lane.snapshot()))  # as stored: through JSON
            self.snapshots[ticker] = SnapshotRecord(ticker=ticker, head=entry.seq, state=state)
        return entry

    def dataset(self) -> Dataset:
        published = [entry.published() for entries in self.log.values() for entry in entries]
        journal = InMemoryTransactionStore()
        project_journal(published, journal)
        prices = InMemoryLastPriceStore()
        positions = InMemoryPositionStore(prices)
        project_portfolio(published, positions=positions, prices=prices)
        candles, tape, tickers = InMemoryCandleStore(), InMemoryTradeTape(), InMemoryTickerStore()
        project_market_data(published, candles=candles, tape=tape, tickers=tickers)
        views = {}
        for ticker, lane in self.lanes.items():
            bids, asks = lane.book.depth(VIEW_DEPTH)
            views[ticker] = ViewRecord(ticker=ticker, seq=lane.head, bids=_levels(bids), asks=_levels(asks))
        return Dataset(
            read_at=self.now + timedelta(seconds=5),
            orders=list(self.orders.values()),
            log={ticker: list(entries) for ticker, entries in self.log.items()},
            snapshots=dict(self.snapshots),
            views=views,
            journal=[
                JournalRecord(
                    user_id=row.user_id,
                    sort_key=row.id,
                    trade_id=row.trade_id,
                    order_id=row.order_id,
                    side=row.side,
                    ticker=row.ticker,
                    quantity=row.quantity,
                    price=row.price,
                    executed_at=row.executed_at,
                    seq=row.seq,
                    n=row.n,
                )
                for row in journal.items.values()
            ],
            counts=[
                CountRecord(
                    user_id=key.user_id,
                    ticker=key.ticker,
                    day=None if key.day is None else key.day.isoformat(),
                    rows=rows,
                )
                for key, (rows, _) in journal.counters.items()
            ],
            positions=[
                PositionRecord(
                    user_id=p.user_id,
                    ticker=p.ticker,
                    quantity=p.position.quantity,
                    avg_cost=p.position.avg_cost,
                    realized_pnl=p.position.realized_pnl,
                )
                for p in positions.items.values()
            ],
            last_prices=[
                LastPriceRecord(ticker=p.ticker, price=p.price, seq=p.seq, n=p.n)
                for p in prices.items.values()
            ],
            candles=[
                CandleRecord(
                    ticker=c.ticker,
                    interval=c.interval,
                    bucket_start=c.bucket_start,
                    open=c.open,
                    high=c.high,
                    low=c.low,
                    close=c.close,
                    volume=c.volume,
                    trades=c.trades,
                    open_seq=c.open_seq,
                    close_seq=c.close_seq,
                )
                for c in candles.items.values()
            ],
            tape=[_tape(t) for t in tape.items.values()],
            tickers=[_tape(t) for t in tickers.items.values()],
        )


def _tape(trade: object) -> TapeRecord:
    from tradestream.projections.market_data import TapeTrade  # noqa: PLC0415 - typed helper

    assert isinstance(trade, TapeTrade)
    return TapeRecord(
        ticker=trade.ticker,
        trade_id=trade.trade_id,
        price=trade.price,
        quantity=trade.quantity,
        seq=trade.seq,
        n=trade.n,
    )


def trading(
    market: Market, *, orders: int = 120, seed: int = 7, tickers: tuple[str, ...] = ("AAPL", "MSFT")
) -> None:
    """A seeded session: resting and crossing orders, sweeps, market orders, cancels, self-trades, shorts."""
    rng = random.Random(seed)
    users = ["ann", "bob", "cy", "dee"]
    placed: list[str] = []
    for _ in range(orders):
        if placed and rng.random() < 0.15:
            market.cancel(rng.choice(placed))
            continue
        ticker = rng.choice(tickers)
        price = None if rng.random() < 0.1 else str(D(100) + D(rng.randint(-6, 6)) / 2)
        stp = SelfTradePrevention.NONE if rng.random() < 0.1 else SelfTradePrevention.CANCEL_TAKER
        tif = TimeInForce.IOC if rng.random() < 0.1 else TimeInForce.GTC
        order_id = market.place(
            rng.choice(users),
            rng.choice(["BUY", "SELL"]),
            str(D(rng.randint(1, 40)) / 4),
            price,
            ticker=ticker,
            tif=tif,
            stp=stp,
        )
        placed.append(order_id)
        market.advance(rng.choice([0, 1, 7, 29, 61, 240]))
