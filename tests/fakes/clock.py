"""A clock tests move by hand: the `clock` every use case takes, as epoch seconds (float)."""

from __future__ import annotations


class ManualClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
