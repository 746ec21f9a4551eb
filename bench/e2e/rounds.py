"""Same-run comparisons of variants: rounds that alternate the variants' order, and the median ratio."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

V = TypeVar("V", bound=Hashable)


def alternating(names: Sequence[V], rounds: int, measure: Callable[[V, int], float]) -> list[dict[V, float]]:
    """measure(name, round) for every variant in every round, in the given order in even rounds and
    reversed in odd ones, so that no variant always runs first on a host that drifts; each round's
    values by name."""
    results: list[dict[V, float]] = []
    for round_ in range(rounds):
        order = list(names) if round_ % 2 == 0 else list(names)[::-1]
        results.append({name: measure(name, round_) for name in order})
    return results


def ratio_line(label: str, per_round: list[dict[str, float]], baseline: str, variant: str) -> str:
    """'label: median R.RRx (rounds A-B)' of baseline / variant over the rounds."""
    ratios = [values[baseline] / values[variant] for values in per_round]
    return f"{label}: median {statistics.median(ratios):.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})"
