"""Candle intervals and the UTC bucket a timestamp falls in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from tradestream.marketdata.errors import InvalidInterval, NaiveDatetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Interval(StrEnum):
    """Candle widths; the value is the wire name ("1m", ..., "1d")."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        return _SECONDS[self]

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=_SECONDS[self])

    @classmethod
    def parse(cls, raw: str) -> Interval:
        """The interval named ``raw``; InvalidInterval (400) for anything else."""
        try:
            return cls(raw)
        except ValueError:
            names = ", ".join(member.value for member in cls)
            raise InvalidInterval(f"interval must be one of {names}, got {raw!r}") from None


_SECONDS = {Interval.M1: 60, Interval.M5: 300, Interval.M15: 900, Interval.H1: 3600, Interval.D1: 86400}


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; refuses naive datetimes, whose zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetime(f"{moment.isoformat()} has no UTC offset")
    return moment.astimezone(UTC)


def bucket_start(executed_at: datetime, interval: Interval) -> datetime:
    """Start (UTC, inclusive) of the bucket holding ``executed_at``; buckets are aligned to the Unix epoch.

    Epoch alignment puts 1h buckets on the hour and 1d buckets at midnight UTC. The arithmetic is on
    integer microseconds, so a time one microsecond before a boundary stays in the earlier bucket.
    """
    elapsed = (as_utc(executed_at) - EPOCH) // _MICROSECOND
    width = interval.seconds * 1_000_000
    return EPOCH + timedelta(microseconds=elapsed - elapsed % width)
