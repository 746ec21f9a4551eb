"""Intervals and UTC bucketing: every interval at its exact boundaries, offsets, naive times refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradestream.marketdata import EPOCH, Interval, InvalidInterval, NaiveDatetime, as_utc, bucket_start

US = timedelta(microseconds=1)
FAST = settings(max_examples=200, deadline=None)


def utc(*parts: int) -> datetime:
    """utc(year, month, day[, hour, minute, second, microsecond])."""
    p = (*parts, 0, 0, 0, 0)
    return datetime(p[0], p[1], p[2], p[3], p[4], p[5], p[6], tzinfo=UTC)


class TestInterval:
    def test_wire_names_and_widths(self) -> None:
        assert {interval.value: interval.seconds for interval in Interval} == {
            "1m": 60,
            "5m": 300,
            "15m": 900,
            "1h": 3600,
            "1d": 86400,
        }
        assert Interval.H1.delta == timedelta(hours=1)

    @pytest.mark.parametrize("raw", ["1m", "5m", "15m", "1h", "1d"])
    def test_parse_accepts_every_wire_name(self, raw: str) -> None:
        assert Interval.parse(raw).value == raw

    @pytest.mark.parametrize("raw", ["", "1M", "2m", "60s", "1w", " 1m", "M1"])
    def test_parse_refuses_anything_else_with_a_400(self, raw: str) -> None:
        with pytest.raises(InvalidInterval) as caught:
            Interval.parse(raw)
        assert caught.value.status == 400


# (interval, a bucket boundary of that interval, the previous boundary)
BOUNDARIES = [
    (Interval.M1, utc(2026, 3, 14, 15, 46), utc(2026, 3, 14, 15, 45)),
    (Interval.M5, utc(2026, 3, 14, 15, 50), utc(2026, 3, 14, 15, 45)),
    (Interval.M15, utc(2026, 3, 14, 16, 0), utc(2026, 3, 14, 15, 45)),
    (Interval.H1, utc(2026, 3, 14, 16, 0), utc(2026, 3, 14, 15, 0)),
    (Interval.D1, utc(2026, 3, 15), utc(2026, 3, 14)),
]


class TestBucketStart:
    @pytest.mark.parametrize(("interval", "boundary", "previous"), BOUNDARIES)
    def test_exact_boundary_opens_a_new_bucket(
        self, interval: Interval, boundary: datetime, previous: datetime
    ) -> None:
        assert bucket_start(boundary, interval) == boundary

    @pytest.mark.parametrize(("interval", "boundary", "previous"), BOUNDARIES)
    def test_one_microsecond_before_is_still_the_previous_bucket(
        self, interval: Interval, boundary: datetime, previous: datetime
    ) -> None:
        assert bucket_start(boundary - US, interval) == previous

    @pytest.mark.parametrize(("interval", "boundary", "previous"), BOUNDARIES)
    def test_inside_a_bucket(self, interval: Interval, boundary: datetime, previous: datetime) -> None:
        assert boundary - previous == interval.delta
        assert bucket_start(previous + US, interval) == previous
        assert bucket_start(previous + interval.delta / 2, interval) == previous

    @pytest.mark.parametrize(
        ("interval", "expected"),
        [
            (Interval.M1, utc(2026, 3, 14, 21, 37)),
            (Interval.M5, utc(2026, 3, 14, 21, 35)),
            (Interval.M15, utc(2026, 3, 14, 21, 30)),
            (Interval.H1, utc(2026, 3, 14, 21)),
            (Interval.D1, utc(2026, 3, 14)),
        ],
    )
    def test_every_interval_on_one_moment(self, interval: Interval, expected: datetime) -> None:
        assert bucket_start(utc(2026, 3, 14, 21, 37, 59, 999999), interval) == expected

    def test_day_buckets_start_at_midnight_utc_not_local_midnight(self) -> None:
        kolkata = timezone(timedelta(hours=5, minutes=30))
        # 03:00 local on the 15th is 21:30 UTC on the 14th
        assert bucket_start(datetime(2026, 3, 15, 3, 0, tzinfo=kolkata), Interval.D1) == utc(2026, 3, 14)
        new_york = timezone(timedelta(hours=-5))
        # 20:00 local on the 14th is 01:00 UTC on the 15th
        assert bucket_start(datetime(2026, 3, 14, 20, 0, tzinfo=new_york), Interval.D1) == utc(2026, 3, 15)

    def test_half_hour_offsets_map_to_utc_hours(self) -> None:
        kolkata = timezone(timedelta(hours=5, minutes=30))
        assert bucket_start(datetime(2026, 3, 15, 3, 10, tzinfo=kolkata), Interval.H1) == utc(2026, 3, 14, 21)

    def test_result_is_utc(self) -> None:
        plus_two = timezone(timedelta(hours=2))
        result = bucket_start(datetime(2026, 1, 1, 12, tzinfo=plus_two), Interval.M1)
        assert result.tzinfo is UTC
        assert result == utc(2026, 1, 1, 10)

    def test_year_end_and_leap_day(self) -> None:
        assert bucket_start(utc(2024, 12, 31, 23, 59, 59, 999999), Interval.D1) == utc(2024, 12, 31)
        assert bucket_start(utc(2025, 1, 1), Interval.D1) == utc(2025, 1, 1)
        assert bucket_start(utc(2024, 2, 29, 23, 59, 59, 999999), Interval.D1) == utc(2024, 2, 29)

    def test_before_the_epoch_floors_rather_than_truncates(self) -> None:
        assert bucket_start(EPOCH - US, Interval.M1) == utc(1969, 12, 31, 23, 59)
        assert bucket_start(EPOCH - US, Interval.D1) == utc(1969, 12, 31)

    def test_naive_datetimes_are_refused(self) -> None:
        naive = datetime(2026, 3, 14, 15, 45)
        with pytest.raises(NaiveDatetime):
            bucket_start(naive, Interval.M1)
        with pytest.raises(NaiveDatetime):
            as_utc(naive)
        assert NaiveDatetime.status == 400


moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()
).filter(lambda moment: moment.utcoffset() is not None)


@FAST
@given(moments, st.sampled_from(Interval))
def test_bucket_contains_the_moment_and_is_aligned(moment: datetime, interval: Interval) -> None:
    start = bucket_start(moment, interval)
    assert start <= moment < start + interval.delta
    assert (start - EPOCH) % interval.delta == timedelta(0)
    assert start.tzinfo is UTC


@FAST
@given(moments, st.sampled_from(Interval))
def test_bucketing_is_idempotent_and_ignores_the_zone(moment: datetime, interval: Interval) -> None:
    start = bucket_start(moment, interval)
    assert bucket_start(start, interval) == start
    assert bucket_start(moment.astimezone(UTC), interval) == start


@FAST
@given(moments)
def test_coarser_buckets_contain_finer_ones(moment: datetime) -> None:
    starts = [bucket_start(moment, interval) for interval in Interval]
    assert starts == sorted(starts, reverse=True)
    for finer, coarser in zip(Interval, list(Interval)[1:], strict=False):
        assert bucket_start(bucket_start(moment, finer), coarser) == bucket_start(moment, coarser)
