"""Token-bucket arithmetic for the login rate limit, in integers so the state fits one DynamoDB item.

The adapter that stores a bucket applies a decision with one conditional UpdateItem:

- no prior state (`take(None, ...)`): `attribute_not_exists(<partition key>)`;
- prior state: `tokens_milli = :prev_tokens AND updated_at_ms = :prev_updated_at_ms`.

That is optimistic concurrency on the whole state read. `updated_at_ms` alone is not a fence: two
takes in the same millisecond, or from a Lambda whose clock lags, leave it unchanged and would both
pass; but an allowed take always changes the pair (tokens drop when no time has passed, the
timestamp moves when it has). On ConditionalCheckFailed the adapter re-reads and takes again
(a few attempts, then refuses with Retry-After 1). A refused take need not be written at all: its
`new_state` is the same bucket as the one read, only refilled to `now`.
"""

from __future__ import annotations

from dataclasses import dataclass

MILLI = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketState:
    """A stored bucket: tokens in thousandths of a token, and the epoch millisecond they were counted at."""

    tokens_milli: int
    updated_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of one take: `retry_after_seconds` is 0 when allowed and at least 1 when refused."""

    allowed: bool
    new_state: BucketState
    retry_after_seconds: int


class TokenBucket:
    """`burst` tokens at most, refilled at `rate_per_second`; each request takes one token."""

    __slots__ = ("_capacity_milli", "_rate_per_second")

    def __init__(self, rate_per_second: int = 10, burst: int = 20) -> None:
        if rate_per_second <= 0 or burst <= 0:
            raise ValueError("rate_per_second and burst must be positive")
        # n tokens per second is n milli-tokens per millisecond, so refill stays exact in integers.
        self._rate_per_second = rate_per_second
        self._capacity_milli = burst * MILLI

    def take(self, state: BucketState | None, now_ms: int) -> Decision:
        if state is None:
            tokens, updated_at = self._capacity_milli, now_ms
        else:
            # A clock behind the stored one (another Lambda's, or a step back) refills nothing and
            # keeps the stored timestamp, so the same interval is never credited twice.
            elapsed = max(0, now_ms - state.updated_at_ms)
            tokens = min(self._capacity_milli, state.tokens_milli + elapsed * self._rate_per_second)
            updated_at = max(now_ms, state.updated_at_ms)
        if tokens >= MILLI:
            return Decision(
                allowed=True,
                new_state=BucketState(tokens_milli=tokens - MILLI, updated_at_ms=updated_at),
                retry_after_seconds=0,
            )
        wait_ms = -(-(MILLI - tokens) // self._rate_per_second)
        return Decision(
            allowed=False,
            new_state=BucketState(tokens_milli=tokens, updated_at_ms=updated_at),
            # Retry-After is whole seconds; rounding up never invites a retry that is refused again.
            retry_after_seconds=max(1, -(-wait_ms // MILLI)),
        )
