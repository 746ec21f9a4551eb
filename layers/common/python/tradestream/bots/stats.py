"""Thread-safe counters and latency samples of a bots run, and the percentiles reported from them."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


def percentile(samples: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by the nearest-rank method; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Latencies:
    """Seconds from POST /api/orders to what a probe saw: the order final or resting, the taker's position."""

    to_final: list[float] = field(default_factory=list)
    to_position: list[float] = field(default_factory=list)
    post: list[float] = field(default_factory=list)  # the POST round trip itself
    # (POST's wall time, seconds to final/resting, its segments) of each probe that saw its order settle:
    # the slowest say when and in which leg a tail happened, which percentiles cannot. The segments are
    # where the time to "final or resting" went, from the order's own timestamps (one clock, one host):
    # POST sent -> createdAt (the edge and the orders function), createdAt -> updatedAt (the lane and the
    # matching commit), updatedAt -> seen by GET (stream, order-status projection, the GET itself).
    traced: list[tuple[float, float, tuple[float, float, float]]] = field(default_factory=list)
    timeouts: int = 0

    @property
    def segments(self) -> list[tuple[float, float, float]]:
        return [legs for _, _, legs in self.traced]

    def summary(self) -> dict[str, dict[str, float | None] | int]:
        def cut(samples: list[float]) -> dict[str, float | None]:
            return {
                "n": float(len(samples)),
                "p50": percentile(samples, 0.50),
                "p95": percentile(samples, 0.95),
                "p99": percentile(samples, 0.99),
            }

        return {
            "post": cut(self.post),
            "final": cut(self.to_final),
            "position": cut(self.to_position),
            "timeouts": self.timeouts,
        }


class Stats:
    """Everything the workers and probes count, behind one lock (a few hundred updates a second)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.latencies = Latencies()
        self.accepted_at: list[float] = []  # monotonic time of each 202

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def accepted(self, post_seconds: float) -> None:
        with self._lock:
            self.counts["accepted"] += 1
            self.latencies.post.append(post_seconds)
            self.accepted_at.append(time.monotonic())

    def probe(
        self,
        *,
        final: float | None,
        position: float | None,
        timed_out: bool,
        trace: tuple[float, tuple[float, float, float]] | None = None,
    ) -> None:
        """`trace`: the POST's wall time and the order's segments (see Latencies.traced), once it settled."""
        with self._lock:
            if trace is not None and final is not None:
                posted_wall, segments = trace
                self.latencies.traced.append((posted_wall, final, segments))
            if final is not None:
                self.latencies.to_final.append(final)
            if position is not None:
                self.latencies.to_position.append(position)
            if timed_out:
                self.latencies.timeouts += 1

    def rate_since(self, since: float) -> float:
        """Accepted orders per second over the window since `since` (monotonic)."""
        now = time.monotonic()
        with self._lock:
            recent = sum(1 for t in self.accepted_at[-5000:] if t >= since)
        return recent / max(1e-9, now - since)

    @property
    def errors(self) -> int:
        with self._lock:
            return sum(n for name, n in self.counts.items() if name.startswith("error"))
