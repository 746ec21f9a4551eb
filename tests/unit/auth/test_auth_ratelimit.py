"""Token-bucket arithmetic: burst, refill, Retry-After, clocks that step back, and the write fence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestream.auth import BucketState, Decision, TokenBucket

T0 = 1_800_000_000_000


def _drain(bucket: TokenBucket, state: BucketState | None, now_ms: int, times: int) -> BucketState | None:
    for _ in range(times):
        decision = bucket.take(state, now_ms)
        assert decision.allowed
        state = decision.new_state
    return state


def test_a_new_bucket_allows_the_burst_then_refuses() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=20)
    first = bucket.take(None, T0)
    assert first == Decision(
        allowed=True, new_state=BucketState(tokens_milli=19_000, updated_at_ms=T0), retry_after_seconds=0
    )
    state = _drain(bucket, first.new_state, T0, 19)
    refused = bucket.take(state, T0)
    assert (refused.allowed, refused.retry_after_seconds) == (False, 1)
    assert refused.new_state == BucketState(tokens_milli=0, updated_at_ms=T0)


def test_refill_is_exact_to_the_millisecond() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=20)
    state = _drain(bucket, None, T0, 20)
    # 10 tokens/s: one token every 100 ms.
    assert not bucket.take(state, T0 + 99).allowed
    assert bucket.take(state, T0 + 100).allowed
    after_one_second = _drain(bucket, state, T0 + 1_000, 10)
    assert not bucket.take(after_one_second, T0 + 1_000).allowed


def test_refill_never_exceeds_the_burst() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=20)
    state = bucket.take(None, T0).new_state
    an_hour_later = bucket.take(state, T0 + 3_600_000)
    assert an_hour_later.new_state.tokens_milli == 19_000
    assert not bucket.take(
        _drain(bucket, an_hour_later.new_state, T0 + 3_600_000, 19), T0 + 3_600_000
    ).allowed


def test_retry_after_is_whole_seconds_and_enough() -> None:
    bucket = TokenBucket(rate_per_second=1, burst=1)
    state = bucket.take(None, T0).new_state
    refused = bucket.take(state, T0 + 1)
    assert (refused.allowed, refused.retry_after_seconds) == (False, 1)
    assert not bucket.take(state, T0 + 999).allowed
    assert bucket.take(state, T0 + refused.retry_after_seconds * 1_000).allowed


def test_a_clock_that_steps_back_refills_nothing_and_keeps_the_stored_time() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=20)
    empty = BucketState(tokens_milli=0, updated_at_ms=T0)
    behind = bucket.take(empty, T0 - 5_000)
    assert not behind.allowed
    assert behind.new_state == empty
    # The next on-time caller is credited from T0, not from the lagging clock's T0 - 5 s.
    assert not bucket.take(behind.new_state, T0 + 99).allowed
    assert bucket.take(behind.new_state, T0 + 100).allowed

    half_full = BucketState(tokens_milli=5_000, updated_at_ms=T0)
    taken = bucket.take(half_full, T0 - 1_000)
    assert taken.allowed
    assert taken.new_state == BucketState(tokens_milli=4_000, updated_at_ms=T0)


def test_a_refused_take_writes_nothing_new() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=20)
    state = BucketState(tokens_milli=300, updated_at_ms=T0)
    refused = bucket.take(state, T0 + 20)
    assert refused.new_state == BucketState(tokens_milli=500, updated_at_ms=T0 + 20)
    # Skipping that write changes nothing: the stored state gives the same answers later.
    for later in (T0 + 69, T0 + 70, T0 + 500):
        assert bucket.take(state, later) == bucket.take(refused.new_state, later)


@pytest.mark.parametrize(("rate", "burst"), [(0, 20), (10, 0), (-1, 5)])
def test_nonsense_configuration_is_refused(rate: int, burst: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate_per_second=rate, burst=burst)


_states = st.builds(
    BucketState,
    tokens_milli=st.integers(min_value=0, max_value=20_000),
    updated_at_ms=st.integers(min_value=T0 - 10_000, max_value=T0 + 10_000),
)


@given(state=_states, now_ms=st.integers(min_value=T0 - 20_000, max_value=T0 + 20_000))
def test_every_allowed_take_changes_the_stored_pair(state: BucketState, now_ms: int) -> None:
    # The adapter's conditional write compares both fields; this is what makes that a fence.
    decision = TokenBucket().take(state, now_ms)
    if decision.allowed:
        assert decision.new_state != state
        assert decision.retry_after_seconds == 0
    else:
        assert decision.retry_after_seconds >= 1
    assert 0 <= decision.new_state.tokens_milli <= 20_000
    assert decision.new_state.updated_at_ms == max(now_ms, state.updated_at_ms)


@given(gaps=st.lists(st.integers(min_value=0, max_value=250), min_size=1, max_size=300))
def test_no_request_pattern_gets_more_than_burst_plus_refill(gaps: list[int]) -> None:
    bucket = TokenBucket(rate_per_second=10, burst=20)
    state: BucketState | None = None
    now = T0
    allowed = 0
    for gap in gaps:
        now += gap
        decision = bucket.take(state, now)
        allowed += decision.allowed
        state = decision.new_state
    assert allowed <= 20 + (now - T0) * 10 // 1_000
