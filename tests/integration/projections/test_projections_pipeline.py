"""The three projections on moto, fed Kinesis events of real matching output, checked against the
invariants of ARCHITECTURE.md through the query function — and unchanged by duplicates and replays."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.fakes.projections import LaneFeed
from tests.integration.projections.conftest import Api, Projections, World
from tradestream.contracts import MatchingBatchV1, TradeExecutedV1
from tradestream.marketdata import Interval, bucket_start
from tradestream.matching import SelfTradePrevention
from tradestream.orders.model import iso_now
from tradestream.portfolio import JournalRow, Side, replay_journal, round_money
from tradestream.projections.journal import rows_of

D = Decimal


def _trading(feed: LaneFeed, tickers: list[str], users: list[str], *, orders: int, seed: int) -> None:
    """A seeded session: resting and crossing orders, sweeps, shorts and flips, self-trades, time
    moving by irregular steps across minute, 5/15-minute and hour boundaries."""
    rng = random.Random(seed)
    feed.at(datetime.fromisoformat("2026-01-05T09:58:30+00:00"))
    for _ in range(orders):
        ticker = rng.choice(tickers)
        user = rng.choice(users)
        side = rng.choice(["BUY", "SELL"])
        quantity = str(D(rng.randint(1, 40)) / 4)
        price = str(D(100) + D(rng.randint(-8, 8)) / 2)
        stp = SelfTradePrevention.NONE if rng.random() < 0.1 else SelfTradePrevention.CANCEL_TAKER
        market = rng.random() < 0.1
        feed.order(user, side, quantity, None if market else price, ticker=ticker, self_trade_prevention=stp)
        feed.advance(seconds=rng.choice([0, 1, 7, 29, 61, 240]))


def _trades(entries: list[MatchingBatchV1]) -> list[TradeExecutedV1]:
    return [e for entry in entries for e in entry.events if isinstance(e, TradeExecutedV1)]


def assert_invariants(api: Api, feed: LaneFeed, tickers: list[str], users: list[str]) -> None:
    trades = _trades(feed.entries)
    assert trades, "the scenario must trade"

    # Journal: two rows per trade, never more — the buyer's BUY and the seller's SELL.
    rows: list[dict[str, Any]] = []
    for user in users:
        page = api.ok(f"/api/transactions/{user}", user, {"size": "500", "sort": "executedAt,asc"})
        assert page["totalElements"] == len(page["content"]) < 500
        rows.extend(page["content"])
    by_trade: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_trade[row["tradeId"]].append(row)
    assert set(by_trade) == {t.trade_id for t in trades}
    for trade in trades:
        expected = {
            (r.user_id, r.side.value, r.order_id, str(r.quantity), str(r.price), r.seq, r.n)
            for r in rows_of(trade)
        }
        got = {
            (r["userId"], r["side"], r["orderId"], r["quantity"], r["price"], r["seq"], r["n"])
            for r in by_trade[trade.trade_id]
        }
        assert len(by_trade[trade.trade_id]) == 2 and got == expected

    # Portfolio: quantity = Σ BUY - Σ SELL over the journal; cost and realized PnL = a replay of it.
    journal = [
        JournalRow(
            user_id=r["userId"],
            ticker=r["ticker"],
            side=Side(r["side"]),
            quantity=D(r["quantity"]),
            price=D(r["price"]),
            seq=r["seq"],
            n=r["n"],
        )
        for r in rows
    ]
    replayed = replay_journal(journal)
    last_price = {t.ticker: t.price for t in sorted(trades, key=lambda t: (t.seq, t.n))}
    for user in users:
        positions = {p["ticker"]: p for p in api.ok(f"/api/portfolio/{user}/positions", user)}
        assert set(positions) == {ticker for (u, ticker) in replayed if u == user}
        for ticker, position in positions.items():
            signed = sum(
                (
                    j.quantity if j.side is Side.BUY else -j.quantity
                    for j in journal
                    if (j.user_id, j.ticker) == (user, ticker)
                ),
                D(0),
            )
            assert D(position["quantity"]) == signed
            reference = replayed[(user, ticker)]
            assert (D(position["avgCost"]), D(position["realizedPnl"])) == (
                reference.avg_cost,
                reference.realized_pnl,
            )
            assert D(position["lastPrice"]) == last_price[ticker]
            assert D(position["marketValue"]) == signed * last_price[ticker]
            assert D(position["unrealizedPnl"]) == round_money(
                (last_price[ticker] - reference.avg_cost) * signed
            )
        summary = api.ok(f"/api/portfolio/{user}/summary", user)
        assert D(summary["realizedPnl"]) == sum((D(p["realizedPnl"]) for p in positions.values()), D(0))
        assert D(summary["totalPnl"]) == D(summary["realizedPnl"]) + D(summary["unrealizedPnl"])

    # Candles: volume per bucket = Σ quantity; open/close = first/last trade by seq; for every interval.
    for ticker in tickers:
        ticker_trades = sorted((t for t in trades if t.ticker == ticker), key=lambda t: (t.seq, t.n))
        for interval in Interval:
            buckets: defaultdict[datetime, list[TradeExecutedV1]] = defaultdict(list)
            for trade in ticker_trades:
                buckets[bucket_start(trade.executed_at, interval)].append(trade)
            candles = api.ok(
                f"/api/market-data/candles/{ticker}", "anyone", {"interval": interval.value, "limit": "1000"}
            )
            assert [c["bucketStart"] for c in candles] == [iso_now(b) for b in sorted(buckets, reverse=True)]
            for candle in candles:
                bucket = buckets[datetime.fromisoformat(candle["bucketStart"])]
                assert D(candle["volume"]) == sum((t.quantity for t in bucket), D(0))
                assert (D(candle["open"]), D(candle["close"])) == (bucket[0].price, bucket[-1].price)
                assert D(candle["high"]) == max(t.price for t in bucket)
                assert D(candle["low"]) == min(t.price for t in bucket)
                assert candle["trades"] == len(bucket)
        tape = api.ok(f"/api/market-data/trades/{ticker}", "anyone", {"limit": "1000"})
        assert [t["tradeId"] for t in tape] == [t.trade_id for t in reversed(ticker_trades)]
    stats = {t["ticker"]: t for t in api.ok("/api/market-data/tickers", "anyone")}
    for ticker in tickers:
        assert D(stats[ticker]["lastPrice"]) == last_price[ticker]


def _scenario(world: World, *, orders: int = 80, seed: int = 7) -> tuple[list[str], list[str]]:
    tickers = [world.ticker, world.ticker[:-1] + "Z"]
    names = [world.user(name) for name in ("ann", "ben", "cat", "dan")]
    _trading(world.feed, tickers, names, orders=orders, seed=seed)
    return tickers, names


def test_the_stream_projects_every_invariant(world: World) -> None:
    tickers, names = _scenario(world)

    world.projections.deliver_in_batches(world.feed.entries, size=7)

    assert_invariants(world.api, world.feed, tickers, names)


def test_the_same_batch_twice_changes_nothing(world: World) -> None:
    tickers, names = _scenario(world, seed=11)
    entries = world.feed.entries
    world.projections.deliver_in_batches(entries[:40], size=10)
    world.projections.deliver(entries[40:])
    before = world.tables.snapshot(names, tickers)

    again = world.projections.deliver(entries[40:])
    # An early batch redelivered on its own, after everything: older than every guard.
    early = world.projections.deliver(entries[:10])

    assert all(r == {"batchItemFailures": []} for r in [*again.values(), *early.values()])
    assert world.tables.snapshot(names, tickers) == before
    assert_invariants(world.api, world.feed, tickers, names)


def test_a_replay_from_the_start_changes_nothing_warm_or_cold(world: World) -> None:
    tickers, names = _scenario(world, seed=23)
    entries = world.feed.entries
    world.projections.deliver_in_batches(entries, size=10)
    before = world.tables.snapshot(names, tickers)

    # Warm: the containers' caches answer the reads; the conditional writes still guard.
    world.projections.deliver_in_batches(entries, size=3)
    assert world.tables.snapshot(names, tickers) == before
    # Cold: new containers (another mapping from TRIM_HORIZON) read every item from the tables.
    Projections(world.cold_start).deliver_in_batches(entries, size=100)
    assert world.tables.snapshot(names, tickers) == before
    assert_invariants(world.api, world.feed, tickers, names)


def test_a_duplicated_record_inside_one_batch_counts_once(world: World) -> None:
    ann, ben, ticker, api = world.user("ann"), world.user("ben"), world.ticker, world.api
    world.feed.order(ann, "SELL", "3", "100", ticker=ticker)
    taker = world.feed.order(ben, "BUY", "2", "100", ticker=ticker)

    responses = world.projections.deliver([*world.feed.entries, taker, taker])

    assert all(r == {"batchItemFailures": []} for r in responses.values())
    assert api.ok(f"/api/transactions/{ben}", ben)["totalElements"] == 1
    assert api.ok(f"/api/portfolio/{ben}/positions/{ticker}", ben)["quantity"] == "2"
    (candle,) = api.ok(f"/api/market-data/candles/{ticker}", ben, {"interval": "1d"})
    assert (candle["volume"], candle["trades"]) == ("2", 1)


def test_a_poison_record_goes_to_the_dlq_with_its_reason_and_the_rest_applies(world: World) -> None:
    world.dlq_messages()  # start from an empty queue
    ann, ben, ticker, api = world.user("ann"), world.user("ben"), world.ticker, world.api
    world.feed.order(ann, "SELL", "1", "100", ticker=ticker)
    world.feed.order(ben, "BUY", "1", "100", ticker=ticker)
    poison = json.dumps({"type": "matching.batch.v1", "ticker": ticker, "marker": ann}).encode()

    responses = world.projections.deliver([world.feed.entries[0], poison, world.feed.entries[1]])

    assert all(r == {"batchItemFailures": []} for r in responses.values())
    parked = [m for m in world.dlq_messages() if ann in m["Body"]]
    assert len(parked) == 3  # one per projection: each has its own mapping and parks on its own
    for message in parked:
        assert "validation error" in message["MessageAttributes"]["reason"]["StringValue"]
    assert api.ok(f"/api/portfolio/{ben}/positions/{ticker}", ben)["quantity"] == "1"
    assert api.ok(f"/api/transactions/{ann}", ann)["totalElements"] == 1
    assert api.ok(f"/api/market-data/trades/{ticker}", ann)[0]["price"] == "100"


def test_positions_hold_shorts_flips_and_partial_closes_exactly(world: World) -> None:
    ann, mm, ticker, api, feed = world.user("ann"), world.user("mm"), world.ticker, world.api, world.feed
    feed.order(mm, "BUY", "4", "50", ticker=ticker)
    feed.order(ann, "SELL", "4", "50", ticker=ticker)  # ann short 4 at 50
    feed.order(mm, "SELL", "10", "40", ticker=ticker)
    feed.order(ann, "BUY", "10", "40", ticker=ticker)  # covers 4 (+40), flips long 6 at 40
    feed.order(mm, "BUY", "2", "45", ticker=ticker)
    feed.order(ann, "SELL", "2", "45", ticker=ticker)  # partial close: (45 - 40) x 2 = +10
    world.projections.deliver(feed.entries)

    position = api.ok(f"/api/portfolio/{ann}/positions/{ticker}", ann)

    assert {k: position[k] for k in ("quantity", "avgCost", "realizedPnl", "lastPrice")} == {
        "quantity": "4",
        "avgCost": "40",
        "realizedPnl": "50",
        "lastPrice": "45",
    }
    assert (position["marketValue"], position["unrealizedPnl"]) == ("180", "20")
    assert position["updatedAt"] == iso_now(feed.entries[-1].committed_at)
    short = api.ok(f"/api/portfolio/{mm}/positions/{ticker}", mm)
    assert (short["quantity"], short["unrealizedPnl"]) == ("-4", "-20")
    assert api.ok(f"/api/portfolio/{ann}/summary", ann) == {
        "realizedPnl": "50",
        "unrealizedPnl": "20",
        "marketValue": "180",
        "totalPnl": "70",
        "positions": 1,
    }


def test_a_batch_straddling_what_was_applied_adds_only_its_newer_part(world: World) -> None:
    tickers, names = _scenario(world, seed=31)
    entries = world.feed.entries
    world.projections.deliver_in_batches(entries[:30], size=30)

    # A retry from an older checkpoint: ten entries every item already holds, then new ones.
    world.projections.deliver_in_batches(entries[20:], size=len(entries))

    assert_invariants(world.api, world.feed, tickers, names)


def test_a_container_with_a_stale_cache_rereads_and_still_applies_each_trade_once(world: World) -> None:
    tickers, names = _scenario(world, seed=43)
    entries = world.feed.entries
    stale = Projections(world.cold_start)
    stale.deliver_in_batches(entries[:20], size=20)  # caches every item it wrote
    world.projections.deliver_in_batches(entries[:50], size=50)  # another container moves them on
    moved_on = world.tables.snapshot(names, tickers)

    # Entries the other container applied: the stale container's conditional writes fail, it reads the
    # items again and finds nothing to do. An unconditional write would roll them back to entry 35.
    stale.deliver_in_batches(entries[20:35], size=15)
    assert world.tables.snapshot(names, tickers) == moved_on

    stale.deliver_in_batches(entries[35:], size=len(entries))
    assert_invariants(world.api, world.feed, tickers, names)
