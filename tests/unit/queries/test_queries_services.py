"""The query services over in-memory readers: paging, counts for ``since``, valuation, ticker stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fakes.projections import (
    InMemoryCandleStore,
    InMemoryMarketDataReader,
    InMemoryPositionStore,
    InMemoryTickerStore,
    InMemoryTradeTape,
    InMemoryTransactionReader,
    InMemoryTransactionStore,
    LaneFeed,
)
from tradestream.errors import CandleNotFound, PositionNotFound, ValidationFailed
from tradestream.marketdata import Interval
from tradestream.projections.journal import project_journal
from tradestream.projections.market_data import project_market_data
from tradestream.projections.portfolio import project_portfolio
from tradestream.queries.market_data import MarketDataQueries
from tradestream.queries.portfolio import PortfolioQueries
from tradestream.queries.transactions import PageRequest, TransactionQueries, parse_instant

# --- transactions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "clamped"), [(0, 1), (-5, 1), (1, 1), (50, 50), (500, 500), (501, 500), (10**9, 500)]
)
def test_page_size_is_clamped_not_refused(size: int, clamped: int) -> None:
    assert PageRequest.of(page=0, size=size, sort="executedAt,desc").size == clamped


@pytest.mark.parametrize(
    ("sort", "ascending"),
    [("executedAt,desc", False), ("executedAt,asc", True), ("executedAt", True), ("executedAt,DESC", False)],
)
def test_sort_is_executed_at_either_way(sort: str, ascending: bool) -> None:
    assert PageRequest.of(page=0, size=10, sort=sort).ascending is ascending


@pytest.mark.parametrize("sort", ["price,desc", "executedAt,sideways", "", "executedAt;desc"])
def test_any_other_sort_is_a_400(sort: str) -> None:
    with pytest.raises(ValidationFailed):
        PageRequest.of(page=0, size=10, sort=sort)


@pytest.mark.parametrize(
    "raw", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01", ""]
)
def test_an_instant_needs_iso_8601_with_an_offset(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_instant(raw, name="iso")


def test_an_instant_in_another_offset_is_read_as_utc() -> None:
    assert parse_instant("2026-01-01T02:00:00+02:00", name="iso") == datetime(2026, 1, 1, tzinfo=UTC)


def _journal(days: int = 3, per_day: int = 4) -> tuple[LaneFeed, InMemoryTransactionStore]:
    """ben buys ``per_day`` times a day, at 06:00, 12:00, ... UTC, from a resting seller."""
    feed = LaneFeed(start=datetime(2026, 1, 5, tzinfo=UTC))
    feed.order("mm", "SELL", str(days * per_day), "100")
    for _ in range(days):
        for _ in range(per_day):
            feed.advance(hours=24 / per_day)
            feed.order("ben", "BUY", "1", "100")
    store = InMemoryTransactionStore()
    project_journal(feed.entries, store)
    return feed, store


def test_pages_carry_totals_from_the_counts_and_skip_to_their_offset() -> None:
    _, store = _journal()
    queries = TransactionQueries(InMemoryTransactionReader(store))

    page = queries.page("ben", PageRequest.of(page=2, size=5, sort="executedAt,asc")).to_json()

    assert (page["totalElements"], page["totalPages"], page["number"], page["size"]) == (12, 3, 2, 5)
    everything = store.rows_of("ben")
    assert [row["id"] for row in page["content"]] == [row.id for row in everything[10:]]
    newest = queries.page("ben", PageRequest.of(page=0, size=1, sort="executedAt,desc")).to_json()
    assert newest["content"][0]["id"] == everything[-1].id


def test_a_page_past_the_end_is_empty_without_reading_rows() -> None:
    _, store = _journal()
    queries = TransactionQueries(InMemoryTransactionReader(store))

    page = queries.page("ben", PageRequest.of(page=9, size=5, sort="executedAt,desc")).to_json()

    assert page["content"] == [] and page["totalElements"] == 12
    assert store.writes["pages_read"] == 0


def test_since_midnight_is_answered_from_day_counts_alone() -> None:
    _, store = _journal()
    queries = TransactionQueries(InMemoryTransactionReader(store))

    page = queries.page(
        "ben", PageRequest.of(page=0, size=50, sort="executedAt,asc"), since=datetime(2026, 1, 6, tzinfo=UTC)
    )

    # Day 2026-01-05 holds the 06:00, 12:00 and 18:00 trades; midnight of the 6th starts the rest.
    assert page.total == 9 == len(page.content)
    assert store.writes["counted_on_read"] == 0


def test_since_mid_day_counts_only_the_rest_of_that_day_on_read() -> None:
    _, store = _journal()
    queries = TransactionQueries(InMemoryTransactionReader(store))
    since = datetime(2026, 1, 6, 12, tzinfo=UTC)

    page = queries.page("ben", PageRequest.of(page=0, size=50, sort="executedAt,asc"), since=since)

    assert page.total == 7 == len(page.content)  # 12:00 and 18:00 of the 6th, then five more
    assert all(row.executed_at >= since for row in page.content)
    assert store.writes["counted_on_read"] == 1


def test_a_ticker_page_counts_that_ticker_only() -> None:
    feed, store = _journal(days=1)
    feed.order("mm", "SELL", "1", "50", ticker="MSFT")
    feed.order("ben", "BUY", "1", "50", ticker="MSFT")
    project_journal(feed.entries, store)
    queries = TransactionQueries(InMemoryTransactionReader(store))

    page = queries.page("ben", PageRequest.of(page=0, size=50, sort="executedAt,asc"), ticker="MSFT")

    assert page.total == 1 and [row.ticker for row in page.content] == ["MSFT"]
    assert page.to_json()["content"][0]["quantity"] == "1"


# --- portfolio ------------------------------------------------------------------------------------------


def _portfolio() -> InMemoryPositionStore:
    feed = LaneFeed()
    feed.order("mm", "SELL", "10", "100")
    feed.order("ann", "BUY", "10", "100")
    feed.order("mm", "BUY", "4", "110")
    feed.order("ann", "SELL", "4", "110")  # ann: 6 left at 100, realized 40; last price 110
    feed.order("mm", "BUY", "3", "20", ticker="MSFT")
    feed.order("ann", "SELL", "3", "20", ticker="MSFT")  # ann short 3 at 20
    feed.order("mm", "SELL", "1", "18", ticker="MSFT")
    feed.order("ben", "BUY", "1", "18", ticker="MSFT")  # last MSFT price 18: ann's short gains
    store = InMemoryPositionStore()
    project_portfolio(feed.entries, positions=store, prices=store.prices)
    return store


def test_positions_are_valued_at_each_ticker_s_last_price() -> None:
    positions = PortfolioQueries(_portfolio()).positions("ann")

    assert positions == [
        {
            "ticker": "AAPL",
            "quantity": "6",
            "avgCost": "100",
            "realizedPnl": "40",
            "lastPrice": "110",
            "marketValue": "660",
            "unrealizedPnl": "60",
            "updatedAt": positions[0]["updatedAt"],
        },
        {
            "ticker": "MSFT",
            "quantity": "-3",
            "avgCost": "20",
            "realizedPnl": "0",
            "lastPrice": "18",
            "marketValue": "-54",
            "unrealizedPnl": "6",
            "updatedAt": positions[1]["updatedAt"],
        },
    ]


def test_the_summary_adds_up_the_positions() -> None:
    assert PortfolioQueries(_portfolio()).summary("ann") == {
        "realizedPnl": "40",
        "unrealizedPnl": "66",
        "marketValue": "606",
        "totalPnl": "106",
        "positions": 2,
    }


def test_a_position_without_a_known_price_shows_nulls_and_still_counts_its_realized_pnl() -> None:
    store = _portfolio()
    del store.prices.items["AAPL"]
    queries = PortfolioQueries(store)

    aapl = queries.position("ann", "AAPL")

    assert (aapl["lastPrice"], aapl["marketValue"], aapl["unrealizedPnl"]) == (None, None, None)
    assert queries.summary("ann") == {
        "realizedPnl": "40",
        "unrealizedPnl": "6",
        "marketValue": "-54",
        "totalPnl": "46",
        "positions": 2,
    }


def test_an_unknown_position_is_a_404_and_an_empty_portfolio_sums_to_zero() -> None:
    queries = PortfolioQueries(_portfolio())

    with pytest.raises(PositionNotFound):
        queries.position("ann", "NVDA")
    assert queries.positions("nobody") == []
    assert queries.summary("nobody")["totalPnl"] == "0"


# --- market data ----------------------------------------------------------------------------------------


def _market(now: datetime, *, asked_at: datetime | None = None) -> tuple[MarketDataQueries, LaneFeed]:
    feed = LaneFeed(start=now - timedelta(hours=30))
    feed.order("mm", "SELL", "5", "90")
    feed.order("ann", "BUY", "1", "90")  # outside the 24h window
    feed.at(now - timedelta(hours=3))
    feed.order("ann", "BUY", "2", "90")
    feed.order("mm", "SELL", "5", "95")
    feed.at(now - timedelta(minutes=1))
    feed.order("ann", "BUY", "4", "95")  # 2 at 90, then 2 at 95
    feed.order("mm", "SELL", "1", "7", ticker="IDLE")
    candles, tape, tickers = InMemoryCandleStore(), InMemoryTradeTape(), InMemoryTickerStore()
    project_market_data(feed.entries, candles=candles, tape=tape, tickers=tickers)
    reader = InMemoryMarketDataReader(candles, tape, tickers)
    return MarketDataQueries(reader, clock=lambda: asked_at or now), feed


NOW = datetime(2026, 1, 7, 15, 30, tzinfo=UTC)


def test_ticker_stats_cover_the_24h_window_only() -> None:
    queries, _ = _market(NOW)

    (aapl,) = queries.tickers()

    assert aapl["ticker"] == "AAPL" and aapl["lastPrice"] == "95"
    assert (aapl["volume24h"], aapl["trades24h"]) == ("6", 3)
    assert (aapl["open24h"], aapl["high24h"], aapl["low24h"]) == ("90", "95", "90")
    assert (aapl["change24h"], aapl["changePercent24h"]) == ("5", "5.56")


def test_a_ticker_without_trades_in_the_window_keeps_its_last_price() -> None:
    queries, _ = _market(NOW, asked_at=NOW + timedelta(days=3))

    (aapl,) = queries.tickers()

    assert aapl["lastPrice"] == "95" and aapl["volume24h"] == "0" and aapl["high24h"] is None


def test_candles_come_newest_first_within_from_and_to() -> None:
    queries, _ = _market(NOW)

    hourly = queries.candles("AAPL", Interval.H1, limit=10, start=None, end=None)
    windowed = queries.candles("AAPL", Interval.H1, limit=10, start=NOW - timedelta(hours=4), end=NOW)

    assert [c["bucketStart"] for c in hourly] == sorted((c["bucketStart"] for c in hourly), reverse=True)
    assert len(hourly) == 3 and len(windowed) == 2
    assert queries.candles("AAPL", Interval.H1, limit=1, start=None, end=None) == hourly[:1]
    assert (
        queries.latest_candle("AAPL", Interval.M1)
        == queries.candles("AAPL", Interval.M1, limit=1, start=None, end=None)[0]
    )


@pytest.mark.parametrize("limit", [0, 1001])
def test_candle_limit_outside_1_to_1000_is_a_400(limit: int) -> None:
    queries, _ = _market(NOW)
    with pytest.raises(ValidationFailed):
        queries.candles("AAPL", Interval.M1, limit=limit, start=None, end=None)


def test_from_after_to_is_a_400_and_no_candle_is_a_404() -> None:
    queries, _ = _market(NOW)
    with pytest.raises(ValidationFailed):
        queries.candles("AAPL", Interval.M1, limit=5, start=NOW, end=NOW - timedelta(hours=1))
    with pytest.raises(CandleNotFound):
        queries.latest_candle("NVDA", Interval.M1)


def test_recent_trades_are_newest_first() -> None:
    queries, _ = _market(NOW)

    trades = queries.trades("AAPL", limit=2)

    assert [(t["price"], t["quantity"], t["takerSide"]) for t in trades] == [
        ("95", "2", "BUY"),
        ("90", "2", "BUY"),
    ]
    assert trades[0]["seq"] == trades[1]["seq"]  # one sweep: one entry
    assert Decimal(trades[0]["price"]) == Decimal(95)
