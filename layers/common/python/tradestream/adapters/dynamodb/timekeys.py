"""Instants as DynamoDB sort keys: fixed-width UTC to the microsecond, so strings sort as the instants do."""

from __future__ import annotations

from datetime import UTC, datetime

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def time_key(moment: datetime) -> str:
    """Nothing is rounded away, and a string prefix compares exactly like the instant it encodes."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time_key(raw: str) -> datetime:
    return datetime.strptime(raw, _TIME_FORMAT).replace(tzinfo=UTC)
