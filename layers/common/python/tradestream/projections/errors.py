"""Errors of the projections: a guard that kept moving, or two different events claiming one (seq, n)."""

from __future__ import annotations

from tradestream.errors import TradeStreamError


class GuardConflict(TradeStreamError):
    """Another writer kept moving an item between our read and our conditional write.

    With one shard per ticker and ParallelizationFactor 1 a projection is the only writer of its
    items, so this means two copies of the function overlap (a replay next to the live mapping).
    Raising fails the batch; Lambda retries it and the guards make the retry safe.
    """

    code = "GUARD_CONFLICT"
    title = "A projected item kept changing under its conditional writes"


class ContradictoryEvents(TradeStreamError):
    """Two different events carry the same identity: a rogue producer, never a redelivery."""

    code = "CONTRADICTORY_EVENTS"
    title = "Two different events share one id"
