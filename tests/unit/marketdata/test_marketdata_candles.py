"""Candle deltas and the sequence-guarded merge: exact candles, seq order over time order, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tradestream.marketdata import (
    Candle,
    CandleDelta,
    CandleMismatch,
    Interval,
    InvalidTrade,
    NaiveDatetime,
    Trade,
    aggregate,
    latest_trades,
    merge,
)

D = Decimal
T0 = datetime(2026, 3, 14, 15, 45, tzinfo=UTC)


def trade(price: str, quantity: str, *, seconds: float, seq: int, n: int = 0, ticker: str = "ACME") -> Trade:
    return Trade(
        ticker=ticker,
        price=D(price),
        quantity=D(quantity),
        executed_at=T0 + timedelta(seconds=seconds),
        seq=seq,
        n=n,
    )


def candle(**fields: object) -> Candle:
    base: dict[str, object] = {
        "ticker": "ACME",
        "interval": Interval.M1,
        "bucket_start": T0,
    }
    base.update(fields)
    return Candle(**base)  # type: ignore[arg-type]


class TestTrade:
    def test_executed_at_is_kept_in_utc(self) -> None:
        plus_one = timezone(timedelta(hours=1))
        moment = datetime(2026, 3, 14, 16, 45, tzinfo=plus_one)
        made = Trade(ticker="ACME", price=D(1), quantity=D(1), executed_at=moment, seq=1, n=0)
        assert made.executed_at == T0
        assert made.executed_at.tzinfo is UTC
        assert made.key == (1, 0)

    def test_naive_time_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime):
            Trade(ticker="ACME", price=D(1), quantity=D(1), executed_at=datetime(2026, 1, 1), seq=1, n=0)

    @pytest.mark.parametrize(
        "changes",
        [
            {"price": 1.5},
            {"price": D(0)},
            {"quantity": D(-1)},
            {"quantity": D("NaN")},
            {"seq": -1},
            {"n": False},
            {"ticker": ""},
            {"executed_at": "2026-01-01T00:00:00Z"},
        ],
    )
    def test_malformed_trades_are_refused(self, changes: dict[str, object]) -> None:
        fields: dict[str, object] = {
            "ticker": "ACME",
            "price": D(1),
            "quantity": D(1),
            "executed_at": T0,
            "seq": 1,
            "n": 0,
        }
        fields.update(changes)
        with pytest.raises(InvalidTrade):
            Trade(**fields)  # type: ignore[arg-type]


class TestAggregate:
    def test_one_delta_per_ticker_interval_and_bucket(self) -> None:
        trades = [
            trade("10", "1", seconds=1, seq=1),
            trade("11", "2", seconds=59, seq=2),
            trade("12", "3", seconds=60, seq=3),  # next minute, same 5m / 15m / 1h / 1d bucket
            trade("5", "1", seconds=2, seq=1, ticker="BOLT"),
        ]
        deltas = aggregate(trades)
        assert sorted((key[0], key[1].value, key[2]) for key in deltas) == sorted(
            [
                ("ACME", "1m", T0),
                ("ACME", "1m", T0 + timedelta(minutes=1)),
                ("ACME", "5m", T0),
                ("ACME", "15m", T0),
                ("ACME", "1h", datetime(2026, 3, 14, 15, tzinfo=UTC)),
                ("ACME", "1d", datetime(2026, 3, 14, tzinfo=UTC)),
                ("BOLT", "1m", T0),
                ("BOLT", "5m", T0),
                ("BOLT", "15m", T0),
                ("BOLT", "1h", datetime(2026, 3, 14, 15, tzinfo=UTC)),
                ("BOLT", "1d", datetime(2026, 3, 14, tzinfo=UTC)),
            ]
        )
        assert [t.seq for t in deltas[("ACME", Interval.M5, T0)].trades] == [1, 2, 3]
        assert [t.seq for t in deltas[("ACME", Interval.M1, T0)].trades] == [1, 2]

    def test_only_requested_intervals(self) -> None:
        deltas = aggregate([trade("10", "1", seconds=1, seq=1)], intervals=[Interval.H1])
        assert [key[1] for key in deltas] == [Interval.H1]

    def test_empty_batch(self) -> None:
        assert aggregate([]) == {}

    def test_candle_of_one_batch(self) -> None:
        trades = [
            trade("10", "1.5", seconds=1, seq=1),
            trade("12", "0.5", seconds=2, seq=2),
            trade("9", "1", seconds=3, seq=2, n=1),
            trade("11", "2", seconds=4, seq=5),
        ]
        assert merge(None, aggregate(trades)[("ACME", Interval.M1, T0)]) == candle(
            open=D(10),
            high=D(12),
            low=D(9),
            close=D(11),
            volume=D(5),
            trades=4,
            open_seq=(1, 0),
            close_seq=(5, 0),
        )

    def test_open_and_close_follow_seq_not_clock(self) -> None:
        trades = [
            trade("30", "1", seconds=5, seq=1),  # first by seq, latest by clock
            trade("20", "1", seconds=9, seq=3),
            trade("10", "1", seconds=1, seq=2),
        ]
        built = merge(None, aggregate(trades)[("ACME", Interval.M1, T0)])
        assert (built.open, built.close) == (D(30), D(20))
        assert (built.open_seq, built.close_seq) == ((1, 0), (3, 0))

    def test_a_redelivered_trade_counts_once(self) -> None:
        once = trade("10", "1", seconds=1, seq=1)
        built = merge(None, aggregate([once, once, trade("11", "1", seconds=2, seq=2)])[once_key()])
        assert (built.volume, built.trades) == (D(2), 2)

    def test_two_different_trades_with_one_key_are_refused(self) -> None:
        with pytest.raises(InvalidTrade):
            aggregate([trade("10", "1", seconds=1, seq=1), trade("10", "2", seconds=1, seq=1)])

    def test_volume_is_exact_and_canonical(self) -> None:
        built = merge(
            None,
            aggregate([trade("1", "0.000001", seconds=1, seq=1), trade("1", "0.999999", seconds=2, seq=2)])[
                once_key()
            ],
        )
        assert str(built.volume) == "1"


def once_key() -> tuple[str, Interval, datetime]:
    return ("ACME", Interval.M1, T0)


class TestMerge:
    STORED = candle(
        open=D(10),
        high=D(12),
        low=D(9),
        close=D(11),
        volume=D(5),
        trades=4,
        open_seq=(1, 0),
        close_seq=(5, 0),
    )

    def test_newer_trades_extend_the_candle(self) -> None:
        delta = aggregate([trade("13", "1", seconds=10, seq=6), trade("8", "0.5", seconds=11, seq=7)])
        assert merge(self.STORED, delta[once_key()]) == candle(
            open=D(10),
            high=D(13),
            low=D(8),
            close=D(8),
            volume=D("6.5"),
            trades=6,
            open_seq=(1, 0),
            close_seq=(7, 0),
        )

    def test_a_delta_already_applied_changes_nothing(self) -> None:
        delta = aggregate([trade("99", "100", seconds=1, seq=3), trade("1", "100", seconds=2, seq=5)])
        assert merge(self.STORED, delta[once_key()]) is self.STORED

    def test_a_delta_straddling_the_guard_adds_only_the_fresh_trades(self) -> None:
        delta = aggregate(
            [
                trade("99", "100", seconds=1, seq=5),  # already in the candle
                trade("10.5", "1", seconds=2, seq=5, n=1),
            ]
        )
        merged = merge(self.STORED, delta[once_key()])
        assert merged == candle(
            open=D(10),
            high=D(12),
            low=D(9),
            close=D("10.5"),
            volume=D(6),
            trades=5,
            open_seq=(1, 0),
            close_seq=(5, 1),
        )

    def test_merging_the_same_delta_twice_equals_once(self) -> None:
        delta = aggregate([trade("13", "1", seconds=10, seq=6)])[once_key()]
        once = merge(self.STORED, delta)
        assert merge(once, delta) == once

    def test_a_delta_of_another_bucket_is_refused(self) -> None:
        delta = aggregate([trade("13", "1", seconds=60, seq=6)])
        with pytest.raises(CandleMismatch):
            merge(self.STORED, delta[("ACME", Interval.M1, T0 + timedelta(minutes=1))])

    def test_a_delta_of_another_ticker_is_refused(self) -> None:
        delta = aggregate([trade("13", "1", seconds=1, seq=6, ticker="BOLT")])
        with pytest.raises(CandleMismatch):
            merge(self.STORED, delta[("BOLT", Interval.M1, T0)])

    def test_last_applied_is_the_close(self) -> None:
        assert self.STORED.last_applied == (5, 0)
        assert self.STORED.key == once_key()


class TestCandleDelta:
    def test_needs_a_trade(self) -> None:
        with pytest.raises(InvalidTrade):
            CandleDelta(ticker="ACME", interval=Interval.M1, bucket_start=T0, trades=())

    def test_trades_must_be_increasing_by_seq(self) -> None:
        with pytest.raises(InvalidTrade):
            CandleDelta(
                ticker="ACME",
                interval=Interval.M1,
                bucket_start=T0,
                trades=(trade("1", "1", seconds=1, seq=2), trade("1", "1", seconds=2, seq=1)),
            )

    def test_trades_must_belong_to_the_bucket(self) -> None:
        with pytest.raises(CandleMismatch):
            CandleDelta(
                ticker="ACME",
                interval=Interval.M1,
                bucket_start=T0,
                trades=(trade("1", "1", seconds=60, seq=1),),
            )

    def test_after_keeps_only_later_trades(self) -> None:
        delta = aggregate([trade("1", "1", seconds=1, seq=1), trade("2", "1", seconds=2, seq=2)])[once_key()]
        assert delta.after((0, 9)) is delta
        later = delta.after((1, 0))
        assert later is not None
        assert [t.seq for t in later.trades] == [2]
        assert delta.after((2, 0)) is None
        assert (delta.open_seq, delta.close_seq) == ((1, 0), (2, 0))


def test_latest_trade_per_ticker_is_the_last_by_seq() -> None:
    trades = [
        trade("1", "1", seconds=9, seq=1),
        trade("2", "1", seconds=1, seq=2, n=1),
        trade("3", "1", seconds=5, seq=2),
        trade("7", "1", seconds=1, seq=1, ticker="BOLT"),
    ]
    latest = latest_trades(trades)
    assert {ticker: (t.price, t.key) for ticker, t in latest.items()} == {
        "ACME": (D(2), (2, 1)),
        "BOLT": (D(7), (1, 0)),
    }
    assert latest_trades([]) == {}
