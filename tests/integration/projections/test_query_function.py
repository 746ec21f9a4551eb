"""The query function in-process on moto: every route of issue 5's table, its 400/403/404 problems, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.events import Reply, rest_event
from tests.integration.projections.conftest import Api, World

PROBLEM_JSON = "application/problem+json"


def assert_problem(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == PROBLEM_JSON
    body = reply.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["requestId"] == reply.headers["x-request-id"]


def _day_of_trading(world: World) -> tuple[str, str]:
    """ann buys from mm twelve times, two hours apart, from 2026-01-05 02:00 UTC to 2026-01-06 00:00."""
    ann, mm = world.user("ann"), world.user("mm")
    world.feed.at(datetime(2026, 1, 5, tzinfo=UTC))
    world.feed.order(mm, "SELL", "12", "100", ticker=world.ticker)
    for _ in range(12):
        world.feed.advance(hours=2)
        world.feed.order(ann, "BUY", "1", "100", ticker=world.ticker)
    world.projections.deliver(world.feed.entries)
    return ann, mm


def test_transactions_page_with_totals_and_either_order(world: World) -> None:
    ann, _ = _day_of_trading(world)

    page = world.api.ok(f"/api/transactions/{ann}", ann, {"page": "1", "size": "5", "sort": "executedAt,asc"})

    assert (page["totalElements"], page["totalPages"], page["number"], page["size"]) == (12, 3, 1, 5)
    assert [r["executedAt"][:13] for r in page["content"]] == [
        f"2026-01-05T{h:02d}" for h in (12, 14, 16, 18, 20)
    ]
    first = page["content"][0]
    assert set(first) == {
        "id", "tradeId", "orderId", "userId", "side", "ticker", "quantity", "price", "executedAt", "seq", "n",
    }  # fmt: skip
    assert (first["id"], first["side"], first["userId"]) == (f"{first['tradeId']}:BUY", "BUY", ann)
    newest = world.api.ok(f"/api/transactions/{ann}", ann, {"size": "1"})  # default sort: newest first
    assert newest["content"][0]["executedAt"].startswith("2026-01-06T00:00")
    assert newest["totalPages"] == 12


@pytest.mark.parametrize(("size", "clamped"), [("0", 1), ("1", 1), ("501", 500), ("100000", 500)])
def test_page_size_is_clamped_to_1_500(world: World, size: str, clamped: int) -> None:
    ann, _ = _day_of_trading(world)

    page = world.api.ok(f"/api/transactions/{ann}", ann, {"size": size})

    assert page["size"] == clamped and len(page["content"]) == min(clamped, 12)


def test_a_ticker_page_and_a_page_past_the_end(world: World) -> None:
    ann, mm = _day_of_trading(world)

    page = world.api.ok(f"/api/transactions/{mm}/ticker/{world.ticker.lower()}", mm, {"size": "50"})
    other = world.api.ok(f"/api/transactions/{mm}/ticker/NOPE", mm)
    past = world.api.ok(f"/api/transactions/{ann}", ann, {"page": "7"})

    assert page["totalElements"] == 12 and {r["side"] for r in page["content"]} == {"SELL"}
    assert (other["totalElements"], other["content"], other["totalPages"]) == (0, [], 0)
    assert (past["totalElements"], past["content"], past["number"]) == (12, [], 7)


@pytest.mark.parametrize(
    ("iso", "total"),
    [
        ("2026-01-05T00:00:00Z", 12),  # midnight: day counts only
        ("2026-01-05T13:00:00Z", 6),  # mid-day: the rest of the day counted on read, then day counts
        ("2026-01-05T14:00:00Z", 6),  # a trade at exactly iso is included
        ("2026-01-05T16:00:00+02:00", 6),  # 14:00 UTC
        ("2026-01-06T00:00:00.000001Z", 0),
        ("2027-01-01T00:00:00Z", 0),
    ],
)
def test_transactions_since_an_instant(world: World, iso: str, total: int) -> None:
    ann, _ = _day_of_trading(world)

    page = world.api.ok(f"/api/transactions/{ann}/since", ann, {"iso": iso, "sort": "executedAt,asc"})

    assert page["totalElements"] == total == len(page["content"])
    since = datetime.fromisoformat(iso)
    assert all(
        datetime.fromisoformat(r["executedAt"]) >= since.replace(microsecond=0) for r in page["content"]
    )


@pytest.mark.parametrize(
    "query",
    [
        {"iso": "yesterday"},
        {"iso": "2026-01-05T00:00:00"},  # no offset
        {"iso": "2026-02-30T00:00:00Z"},
        {},
        {"iso": "2026-01-05T00:00:00Z", "sort": "price,desc"},
        {"iso": "2026-01-05T00:00:00Z", "page": "-1"},
        {"iso": "2026-01-05T00:00:00Z", "size": "ten"},
    ],
)
def test_bad_since_queries_are_400(world: World, query: dict[str, str]) -> None:
    ann = world.user("ann")
    assert_problem(world.api.get(f"/api/transactions/{ann}/since", ann, query), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "path",
    [
        "/api/transactions/{other}",
        "/api/transactions/{other}/ticker/AAPL",
        "/api/transactions/{other}/since?iso=2026-01-01T00:00:00Z",
        "/api/portfolio/{other}/positions",
        "/api/portfolio/{other}/positions/AAPL",
        "/api/portfolio/{other}/summary",
    ],
)
def test_another_user_s_data_is_403(world: World, path: str) -> None:
    ann, mm = _day_of_trading(world)
    route, _, raw_query = path.format(other=mm).partition("?")
    query = dict([raw_query.split("=")]) if raw_query else None

    assert_problem(world.api.get(route, ann, query), 403, "FORBIDDEN")


def test_positions_position_and_summary(world: World) -> None:
    ann, mm = _day_of_trading(world)
    api: Api = world.api

    (position,) = api.ok(f"/api/portfolio/{ann}/positions", ann)
    assert position == api.ok(f"/api/portfolio/{ann}/positions/{world.ticker}", ann)
    assert {k: position[k] for k in ("ticker", "quantity", "avgCost", "realizedPnl", "lastPrice")} == {
        "ticker": world.ticker,
        "quantity": "12",
        "avgCost": "100",
        "realizedPnl": "0",
        "lastPrice": "100",
    }
    assert position["updatedAt"] == "2026-01-06T00:00:00.000Z"
    assert api.ok(f"/api/portfolio/{mm}/summary", mm) == {
        "realizedPnl": "0",
        "unrealizedPnl": "0",
        "marketValue": "-1200",
        "totalPnl": "0",
        "positions": 1,
    }
    assert_problem(api.get(f"/api/portfolio/{ann}/positions/NOPE", ann), 404, "POSITION_NOT_FOUND")
    assert api.ok(f"/api/portfolio/{world.user('new')}/positions", world.user("new")) == []


def test_candles_newest_first_with_interval_limit_from_and_to(world: World) -> None:
    ann, _ = _day_of_trading(world)
    path = f"/api/market-data/candles/{world.ticker}"

    hourly = world.api.ok(path, ann, {"interval": "1h"})
    window = world.api.ok(
        path, ann, {"interval": "1h", "from": "2026-01-05T04:00:00Z", "to": "2026-01-05T10:00:00Z"}
    )
    daily = world.api.ok(path, ann, {"interval": "1d", "limit": "1"})

    assert [c["bucketStart"][:13] for c in hourly[:2]] == ["2026-01-06T00", "2026-01-05T22"]
    assert len(hourly) == 12
    assert [c["bucketStart"][11:13] for c in window] == ["08", "06", "04"]  # to is exclusive
    assert daily == [
        {
            "ticker": world.ticker,
            "interval": "1d",
            "bucketStart": "2026-01-06T00:00:00.000Z",
            "open": "100",
            "high": "100",
            "low": "100",
            "close": "100",
            "volume": "1",
            "trades": 1,
        }
    ]
    latest = world.api.ok(f"{path}/latest", ann, {"interval": "15m"})
    assert (latest["bucketStart"], latest["interval"]) == ("2026-01-06T00:00:00.000Z", "15m")


@pytest.mark.parametrize(
    "query",
    [
        {"interval": "2m"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "many"},
        {"from": "soon"},
        {"from": "2026-01-05T10:00:00Z", "to": "2026-01-05T09:00:00Z"},
    ],
)
def test_bad_candle_queries_are_400(world: World, query: dict[str, str]) -> None:
    reply = world.api.get(f"/api/market-data/candles/{world.ticker}", world.user("ann"), query)
    assert_problem(reply, 400, "INVALID_INTERVAL" if "interval" in query else "VALIDATION_ERROR")


def test_no_candle_yet_is_a_404(world: World) -> None:
    reply = world.api.get(
        f"/api/market-data/candles/{world.ticker}/latest", world.user("ann"), {"interval": "1m"}
    )
    assert_problem(reply, 404, "CANDLE_NOT_FOUND")
    assert world.api.ok(f"/api/market-data/candles/{world.ticker}", world.user("ann")) == []


def test_recent_trades_newest_first_and_ticker_stats(world: World) -> None:
    ann, _ = _day_of_trading(world)

    trades = world.api.ok(f"/api/market-data/trades/{world.ticker}", ann, {"limit": "3"})
    stats = {s["ticker"]: s for s in world.api.ok("/api/market-data/tickers", ann)}

    assert [t["executedAt"][:13] for t in trades] == ["2026-01-06T00", "2026-01-05T22", "2026-01-05T20"]
    assert set(trades[0]) == {"tradeId", "price", "quantity", "takerSide", "executedAt", "seq"}
    assert trades[0]["takerSide"] == "BUY" and trades[0]["seq"] > trades[1]["seq"]
    mine = stats[world.ticker]
    # The trades are long past: the 24h window is empty but the last price stays.
    assert (mine["lastPrice"], mine["volume24h"], mine["trades24h"], mine["high24h"]) == ("100", "0", 0, None)
    assert_problem(
        world.api.get(f"/api/market-data/trades/{world.ticker}", ann, {"limit": "0"}), 400, "VALIDATION_ERROR"
    )
    assert_problem(world.api.get("/api/market-data/trades/bad*ticker", ann), 400, "VALIDATION_ERROR")


def test_query_routes_fail_closed_without_the_authorizer_context(world: World) -> None:
    event = rest_event("GET", "/api/market-data/tickers")
    reply = Reply.of(world.api.function.invoke(event))
    assert_problem(reply, 401, "UNAUTHORIZED")


def test_ticker_stats_over_the_last_24_hours(world: World) -> None:
    ann, mm, feed = world.user("ann"), world.user("mm"), world.feed
    feed.at(datetime.now(UTC) - timedelta(hours=30))
    feed.order(mm, "SELL", "10", "80", ticker=world.ticker)
    feed.order(ann, "BUY", "1", "80", ticker=world.ticker)  # before the window
    feed.at(datetime.now(UTC) - timedelta(hours=5))
    feed.order(ann, "BUY", "2", "80", ticker=world.ticker)
    feed.order(mm, "SELL", "5", "90", ticker=world.ticker)
    feed.at(datetime.now(UTC) - timedelta(minutes=2))
    feed.order(ann, "BUY", "9", "90", ticker=world.ticker)  # 7 at 80, then 2 at 90
    world.projections.deliver(feed.entries)

    stats = {s["ticker"]: s for s in world.api.ok("/api/market-data/tickers", ann)}[world.ticker]

    assert (stats["lastPrice"], stats["volume24h"], stats["trades24h"]) == ("90", "11", 3)
    assert (stats["open24h"], stats["high24h"], stats["low24h"]) == ("80", "90", "80")
    assert (stats["change24h"], stats["changePercent24h"]) == ("10", "12.5")
