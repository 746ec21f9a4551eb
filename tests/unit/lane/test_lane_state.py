"""TickerLane: log entries with deterministic event ids, average prices, replay and snapshots, recent ids."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.lane.builders import NOW, TICKER, cancel, place
from tradestream.contracts import OrderUpdatedV1, TradeExecutedV1
from tradestream.lane import state as lane_state
from tradestream.lane.state import Command, LogEntry, TickerLane, average_price
from tradestream.matching import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce


def updated(
    seq: int,
    n: int,
    order_id: str,
    status: OrderStatus,
    *,
    filled: str,
    remaining: str,
    user: str = "ann",
    last: str | None = None,
    avg: str | None = None,
    reason: str | None = None,
) -> OrderUpdatedV1:
    return OrderUpdatedV1(
        eventId=f"{TICKER}:{seq}:{n}",
        ticker=TICKER,
        seq=seq,
        n=n,
        orderId=order_id,
        userId=user,
        status=status,
        filledQuantity=Decimal(filled),
        remainingQuantity=Decimal(remaining),
        lastFillPrice=None if last is None else Decimal(last),
        avgFillPrice=None if avg is None else Decimal(avg),
        reason=reason,
        updatedAt=NOW,
    )


def trade(
    seq: int, n: int, *, maker: tuple[str, str], taker: tuple[str, str], side: Side, price: str, qty: str
) -> TradeExecutedV1:
    return TradeExecutedV1(
        eventId=f"{TICKER}:{seq}:{n}",
        ticker=TICKER,
        seq=seq,
        n=n,
        tradeId=f"{TICKER}:{seq}:{n}",
        price=Decimal(price),
        quantity=Decimal(qty),
        takerSide=side,
        makerOrderId=maker[0],
        makerUserId=maker[1],
        takerOrderId=taker[0],
        takerUserId=taker[1],
        executedAt=NOW,
    )


def as_json(entry: LogEntry) -> list[dict[str, object]]:
    return [e.model_dump(mode="json", by_alias=True) for e in entry.events]


# --- log entries and their events -------------------------------------------------------------------


def test_each_apply_is_the_next_log_entry_with_ids_ticker_seq_n() -> None:
    lane = TickerLane(ticker=TICKER)
    first = lane.apply([place("s1", "SELL", "1", "10"), place("s2", "SELL", "2", "10.5")], now=NOW)
    second = lane.apply([place("b1", "BUY", "3", "11", user="ben")], now=NOW)

    assert (first.seq, second.seq, lane.head) == (1, 2, 2)
    assert first.commands == [place("s1", "SELL", "1", "10"), place("s2", "SELL", "2", "10.5")]
    assert first.events == [
        updated(1, 0, "s1", OrderStatus.NEW, filled="0", remaining="1"),
        updated(1, 1, "s2", OrderStatus.NEW, filled="0", remaining="2"),
    ]
    assert second.events == [
        trade(2, 0, maker=("s1", "ann"), taker=("b1", "ben"), side=Side.BUY, price="10", qty="1"),
        updated(2, 1, "s1", OrderStatus.FILLED, filled="1", remaining="0", last="10", avg="10"),
        trade(2, 2, maker=("s2", "ann"), taker=("b1", "ben"), side=Side.BUY, price="10.5", qty="2"),
        updated(2, 3, "s2", OrderStatus.FILLED, filled="2", remaining="0", last="10.5", avg="10.5"),
        # The taker swept both levels at the makers' prices: (1 * 10 + 2 * 10.5) / 3.
        updated(
            2,
            4,
            "b1",
            OrderStatus.FILLED,
            filled="3",
            remaining="0",
            user="ben",
            last="10.5",
            avg="10.33333333",
        ),
    ]
    assert second.published().model_dump(mode="json", by_alias=True) == {
        "type": "matching.batch.v1",
        "correlationId": None,
        "ticker": TICKER,
        "seq": 2,
        "committedAt": "2026-01-02T03:04:05.678000Z",
        "events": as_json(second),
    }


def test_the_same_commands_give_the_same_entries_on_any_lane() -> None:
    commands: list[list[Command]] = [
        [place("s1", "SELL", "5", "20"), place("b1", "BUY", "2", "21", user="ben")],
        [cancel("s1"), place("m1", "BUY", "1", None, user="ben", tif=TimeInForce.IOC)],
    ]
    one, two = TickerLane(ticker=TICKER), TickerLane(ticker=TICKER)
    assert [as_json(one.apply(c, now=NOW)) for c in commands] == [
        as_json(two.apply(c, now=NOW)) for c in commands
    ]


def test_a_partial_fill_then_a_cancel_reports_the_remainder_and_the_fill() -> None:
    lane = TickerLane(ticker=TICKER)
    lane.apply([place("s1", "SELL", "5", "20")], now=NOW)
    lane.apply([place("b1", "BUY", "2", "21", user="ben")], now=NOW)
    entry = lane.apply([cancel("s1")], now=NOW)
    assert entry.events == [
        updated(
            3,
            0,
            "s1",
            OrderStatus.CANCELED,
            filled="2",
            remaining="3",
            last="20",
            avg="20",
            reason="CANCELED_BY_USER",
        )
    ]
    assert len(lane.book) == 0


def test_a_cancel_of_an_order_that_is_not_resting_emits_nothing_but_is_remembered() -> None:
    lane = TickerLane(ticker=TICKER)
    entry = lane.apply([cancel("ghost")], now=NOW)
    assert entry.events == []
    assert lane.seen("cancel:ghost") == 1


def test_an_ioc_remainder_expires_and_a_market_order_without_liquidity_expires_whole() -> None:
    lane = TickerLane(ticker=TICKER)
    lane.apply([place("s1", "SELL", "1", "10")], now=NOW)
    entry = lane.apply(
        [
            place("i1", "BUY", "3", "10", user="ben", tif=TimeInForce.IOC),
            place("m1", "BUY", "1", None, user="ben", tif=TimeInForce.IOC),
        ],
        now=NOW,
    )
    assert entry.events == [
        trade(2, 0, maker=("s1", "ann"), taker=("i1", "ben"), side=Side.BUY, price="10", qty="1"),
        updated(2, 1, "s1", OrderStatus.FILLED, filled="1", remaining="0", last="10", avg="10"),
        updated(
            2,
            2,
            "i1",
            OrderStatus.EXPIRED,
            filled="1",
            remaining="2",
            user="ben",
            last="10",
            avg="10",
            reason="IOC_REMAINDER",
        ),
        updated(
            2, 3, "m1", OrderStatus.EXPIRED, filled="0", remaining="1", user="ben", reason="NO_LIQUIDITY"
        ),
    ]


def test_a_price_finer_than_a_tick_is_rejected_by_the_lane_without_touching_the_book() -> None:
    lane = TickerLane(ticker=TICKER)
    entry = lane.apply([place("x1", "BUY", "1", "10.00001")], now=NOW)
    assert entry.events == [
        updated(1, 0, "x1", OrderStatus.REJECTED, filled="0", remaining="0", reason="INVALID_ORDER")
    ]
    assert len(lane.book) == 0


def test_the_correlation_id_of_a_command_travels_on_its_events() -> None:
    lane = TickerLane(ticker=TICKER)
    lane.apply([place("s1", "SELL", "1", "10", correlation_id="req-1")], now=NOW)
    entry = lane.apply([place("b1", "BUY", "1", "10", user="ben", correlation_id="req-2")], now=NOW)
    assert [e.correlation_id for e in entry.events] == ["req-2", "req-2", "req-2"]


@pytest.mark.parametrize(
    ("notional", "lots", "expected"),
    [
        (0, 0, None),
        (100_000 * 1_000_000, 1_000_000, Decimal("10")),  # 1 @ 10
        # 1 lot at 10 (100000 ticks) and 2 lots at 10.5: 310000 / 3 ticks = 10.333333333...
        (100_000 * 1 + 105_000 * 2, 3, Decimal("10.33333333")),
        # 1 lot at 1 tick and 2 lots at 2 ticks: 5/3 ticks = 0.000166666666... → 8 places, half even
        (5, 3, Decimal("0.00016667")),
        (1, 2, Decimal("0.00005")),
    ],
)
def test_average_price_is_notional_over_lots_to_eight_places(
    notional: int, lots: int, expected: Decimal | None
) -> None:
    result = average_price(notional, lots)
    assert result == expected
    assert result is None or str(result) == str(expected)


def test_average_price_keeps_large_notionals_exact() -> None:
    # 1e9 lots at 1e9 currency units (1e13 ticks): the product has 28 digits, more than float's 17.
    assert average_price(10**13 * 10**15, 10**15) == Decimal("1000000000")


# --- replay, snapshots, the recent ids -------------------------------------------------------------


def test_replaying_the_log_from_scratch_rebuilds_the_same_lane() -> None:
    live = TickerLane(ticker=TICKER)
    entries = [
        live.apply([place("s1", "SELL", "5", "20"), place("s2", "SELL", "1", "19")], now=NOW),
        live.apply([place("b1", "BUY", "2", "20", user="ben")], now=NOW),
        live.apply([cancel("s2"), place("b2", "BUY", "1", "18", user="ben")], now=NOW),
    ]
    rebuilt = TickerLane(ticker=TICKER)
    for entry in entries:
        rebuilt.replay(LogEntry.from_item(TICKER, entry.seq, json.loads(json.dumps(entry.to_item()))))
    assert rebuilt.book == live.book
    assert rebuilt.head == live.head == 3
    assert rebuilt.recent == live.recent
    assert rebuilt.book.depth(5) == ([(180_000, 1_000_000, 1)], [(200_000, 4_000_000, 1)])


def test_replay_refuses_an_entry_that_does_not_follow_the_head() -> None:
    source = TickerLane(ticker=TICKER)
    source.apply([place("s1", "SELL", "1", "10")], now=NOW)
    second = source.apply([place("s2", "SELL", "1", "10")], now=NOW)
    with pytest.raises(ValueError, match="does not follow head 0"):
        TickerLane(ticker=TICKER).replay(second)


def test_a_snapshot_restores_book_head_and_recent_ids() -> None:
    live = TickerLane(ticker=TICKER)
    live.apply([place("s1", "SELL", "5", "20"), place("b0", "BUY", "1", "15", user="ben")], now=NOW)
    live.apply([place("b1", "BUY", "2", "20", user="ben")], now=NOW)
    restored = TickerLane.restore(TICKER, json.loads(json.dumps(live.snapshot())))
    assert restored.book == live.book
    assert (restored.head, restored.ticker) == (2, TICKER)
    assert list(restored.recent.items()) == [("s1", 1), ("b0", 1), ("b1", 2)]
    # And it goes on exactly like the live lane.
    nxt: list[Command] = [place("b2", "BUY", "3", "20", user="cat")]
    assert as_json(restored.apply(nxt, now=NOW)) == as_json(live.apply(nxt, now=NOW))


def test_the_recent_ids_window_forgets_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lane_state, "RECENT_COMMANDS", 3)
    lane = TickerLane(ticker=TICKER)
    lane.apply([place("a", "SELL", "1", "30"), place("b", "SELL", "1", "31")], now=NOW)
    lane.apply([place("c", "SELL", "1", "32"), cancel("a")], now=NOW)
    assert lane.seen("a") is None
    assert [lane.seen(i) for i in ("b", "c", "cancel:a")] == [1, 2, 2]
    assert list(lane.recent) == ["b", "c", "cancel:a"]


def test_the_default_window_covers_many_full_batches() -> None:
    # A redelivery comes from the ticker's newest entries (FIFO blocks the group meanwhile): the
    # window must reach far back past them, yet stay small enough to travel in a snapshot item.
    assert 1_000 <= lane_state.RECENT_COMMANDS <= 10_000


# --- the property: replay equals the live book, on random command streams ----------------------------

USERS = ("ann", "ben", "cat")


@st.composite
def command_batches(draw: st.DrawFn) -> list[list[Command]]:
    """Batches of places (every type, TIF, postOnly, STP mode) and cancels of known and unknown ids."""
    commands: list[Command] = []
    placed: list[tuple[str, str]] = []
    for index in range(draw(st.integers(1, 40))):
        if placed and draw(st.integers(0, 3)) == 0:
            order_id, user = draw(st.sampled_from(placed))
            commands.append(cancel(order_id, user=user))
            continue
        if draw(st.integers(0, 30)) == 0:
            commands.append(cancel(f"ghost{index}"))
            continue
        order_type = draw(st.sampled_from(OrderType))
        tif = draw(st.sampled_from(TimeInForce))
        user = draw(st.sampled_from(USERS))
        price = None if order_type is OrderType.MARKET else str(Decimal(draw(st.integers(97, 103))) / 10)
        order_id = f"o{index}"
        placed.append((order_id, user))
        commands.append(
            place(
                order_id,
                draw(st.sampled_from(Side)),
                str(Decimal(draw(st.integers(1, 8))) / 4),
                price,
                user=user,
                order_type=order_type,
                tif=tif,
                post_only=order_type is OrderType.LIMIT and tif is TimeInForce.GTC and draw(st.booleans()),
                stp=draw(st.sampled_from(SelfTradePrevention)),
            )
        )
    batches: list[list[Command]] = []
    while commands:
        size = draw(st.integers(1, 10))
        batches.append(commands[:size])
        commands = commands[size:]
    return batches


def _stored(entry: LogEntry) -> LogEntry:
    """The entry as the log gives it back: through its JSON item, like the DynamoDB adapter."""
    return LogEntry.from_item(entry.ticker, entry.seq, json.loads(json.dumps(entry.to_item())))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=command_batches(), cut=st.integers(0, 100))
def test_replaying_the_log_equals_the_live_lane(batches: list[list[Command]], cut: int) -> None:
    live = TickerLane(ticker=TICKER)
    entries = [_stored(live.apply(batch, now=NOW)) for batch in batches]

    from_scratch = TickerLane(ticker=TICKER)
    for entry in entries:
        from_scratch.replay(entry)
    assert from_scratch.book == live.book
    assert from_scratch.head == live.head == len(batches)
    assert from_scratch.recent == live.recent

    # A snapshot taken at any head, plus the entries after it, is the same lane too (a cold start).
    at = cut % (len(entries) + 1)
    prefix = TickerLane(ticker=TICKER)
    for entry in entries[:at]:
        prefix.replay(entry)
    cold = TickerLane.restore(TICKER, json.loads(json.dumps(prefix.snapshot())))
    for entry in entries[at:]:
        cold.replay(entry)
    assert cold.book == live.book
    assert (cold.head, cold.recent) == (live.head, live.recent)

    # Every event id is {ticker}:{seq}:{n} with n its position, and fills add up per order.
    filled: defaultdict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        assert [e.event_id for e in entry.events] == [
            f"{TICKER}:{entry.seq}:{n}" for n in range(len(entry.events))
        ]
        for event in entry.events:
            if isinstance(event, TradeExecutedV1):
                filled[event.maker_order_id] += event.quantity
                filled[event.taker_order_id] += event.quantity
            else:
                assert event.filled_quantity == filled[event.order_id]
                if event.status is OrderStatus.FILLED:
                    assert event.remaining_quantity == 0


def test_an_entry_too_large_for_one_record_is_published_in_ordered_chunks() -> None:
    lane = TickerLane(ticker=TICKER)
    lane.apply([place(f"m{i}", "SELL", "1", "10", user="ann") for i in range(6)], now=NOW)
    sweep = lane.apply([place("t", "BUY", "6", "10", user="bob")], now=NOW)
    chunks = sweep.records(max_events=5)
    assert [len(c.events) for c in chunks] == [5, 5, 3]
    assert {c.seq for c in chunks} == {sweep.seq}
    assert [e for c in chunks for e in c.events] == sweep.events
    assert sweep.records() == [sweep.published()]
