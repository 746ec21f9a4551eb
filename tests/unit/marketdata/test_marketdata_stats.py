"""24h ticker statistics from hourly candles: the window, first/last by seq, change and its rounding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tradestream.marketdata import (
    PERCENT_PLACES,
    Candle,
    CandleMismatch,
    Interval,
    TickerStats,
    ticker_stats,
    window_start,
)

D = Decimal
NOW = datetime(2026, 3, 14, 15, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)
CURRENT = datetime(2026, 3, 14, 15, tzinfo=UTC)


def hourly(
    start: datetime, open_: str, close: str, *, seq: int, high: str = "", low: str = "", volume: str = "1"
) -> Candle:
    return Candle(
        ticker="ACME",
        interval=Interval.H1,
        bucket_start=start,
        open=D(open_),
        high=D(high or max(open_, close, key=D)),
        low=D(low or min(open_, close, key=D)),
        close=D(close),
        volume=D(volume),
        trades=2,
        open_seq=(seq, 0),
        close_seq=(seq, 1),
    )


def test_window_is_the_24_hourly_buckets_ending_with_the_current_one() -> None:
    assert window_start(NOW) == CURRENT - 23 * HOUR
    assert window_start(CURRENT) == CURRENT - 23 * HOUR


def test_stats_over_the_window() -> None:
    candles = [
        hourly(CURRENT - 24 * HOUR, "1", "1000", seq=1, volume="50"),  # just outside the window
        hourly(CURRENT - 23 * HOUR, "100", "105", seq=2, high="120", volume="2.5"),
        hourly(CURRENT - 5 * HOUR, "104", "90", seq=3, low="80", volume="3"),
        hourly(CURRENT, "91", "110", seq=4, volume="4.5"),
        hourly(CURRENT + HOUR, "1", "1", seq=5, volume="50"),  # a future bucket is not in "the last 24h"
    ]
    assert ticker_stats("ACME", candles, now=NOW) == TickerStats(
        ticker="ACME",
        window_start=CURRENT - 23 * HOUR,
        last_price=D(110),
        open_price=D(100),
        high=D(120),
        low=D(80),
        volume=D(10),
        trades=6,
        change=D(10),
        change_percent=D("10.00"),
    )


def test_first_and_last_are_chosen_by_seq_whatever_the_input_order() -> None:
    candles = [
        hourly(CURRENT, "90", "80", seq=9),
        hourly(CURRENT - 2 * HOUR, "100", "95", seq=3),
    ]
    stats = ticker_stats("ACME", candles, now=NOW)
    assert stats is not None
    assert (stats.open_price, stats.last_price, stats.change, stats.change_percent) == (
        D(100),
        D(80),
        D(-20),
        D("-20.00"),
    )


@pytest.mark.parametrize(
    ("open_", "close", "percent"),
    [
        ("3", "4", "33.33"),
        ("200", "200.01", "0.00"),  # 0.005 % ties to even: 0.00 (half-up would say 0.01)
        ("200", "200.03", "0.02"),  # 0.015 % ties to even: 0.02
        ("200", "199.99", "0.00"),
        ("8", "2", "-75.00"),
    ],
)
def test_change_percent_is_two_places_half_even(open_: str, close: str, percent: str) -> None:
    stats = ticker_stats("ACME", [hourly(CURRENT, open_, close, seq=1)], now=NOW)
    assert stats is not None
    assert PERCENT_PLACES == 2
    assert stats.change_percent == D(percent)
    assert stats.change_percent.as_tuple().exponent == -2


def test_no_trade_in_the_window_gives_none() -> None:
    assert ticker_stats("ACME", [], now=NOW) is None
    assert ticker_stats("ACME", [hourly(CURRENT - 24 * HOUR, "1", "2", seq=1)], now=NOW) is None


def test_candles_of_another_ticker_or_interval_are_refused() -> None:
    other = hourly(CURRENT, "1", "2", seq=1)
    with pytest.raises(CandleMismatch):
        ticker_stats("BOLT", [other], now=NOW)
    minute = Candle(
        ticker="ACME",
        interval=Interval.M1,
        bucket_start=CURRENT,
        open=D(1),
        high=D(1),
        low=D(1),
        close=D(1),
        volume=D(1),
        trades=1,
        open_seq=(1, 0),
        close_seq=(1, 0),
    )
    with pytest.raises(CandleMismatch):
        ticker_stats("ACME", [minute], now=NOW)
