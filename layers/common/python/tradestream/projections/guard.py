"""Sequence guards shared by the projections: (seq, n) as one number, and compare-and-set retries."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tradestream.projections.errors import GuardConflict
from tradestream.projections.runner import EVENTS_PER_ENTRY, event_key

T = TypeVar("T")
SeqKey = tuple[int, int]
CAS_ATTEMPTS = 5


def key_of(seq_key: SeqKey) -> int:
    return event_key(*seq_key)


def seq_key_of(key: int) -> SeqKey:
    """The inverse of ``event_key``: the number the tables store back to (seq, n)."""
    seq, n = divmod(key, EVENTS_PER_ENTRY)
    return seq, n


def compare_and_set(
    *,
    load: Callable[[], T | None],
    step: Callable[[T | None], T | None],
    save: Callable[[T, T | None], bool],
    what: str,
    attempts: int = CAS_ATTEMPTS,
) -> T | None:
    """Read, compute, write under the condition that the stored item is still what was read.

    ``step`` returns None when the stored item already holds everything (a duplicate or replayed
    batch): nothing is written. ``save(new, expected)`` is the conditional write; False means the
    item moved, so the item is read again and the step recomputed. Returns what was written, or None.
    """
    for _ in range(attempts):
        current = load()
        new = step(current)
        if new is None:
            return None
        if save(new, current):
            return new
    raise GuardConflict(f"{what}: the stored item kept changing under {attempts} conditional writes")
