"""Login throttle: burst 20 then 429 + Retry-After, refill, per-IP buckets, optimistic writes racing."""

from __future__ import annotations

import threading
import time

import pytest
from argon2 import PasswordHasher

from tests.fakes.clock import ManualClock
from tests.fakes.identity import InMemoryRateLimitStore, InMemorySessionStore, InMemoryUserStore
from tradestream.auth import BucketState, KeyRing, PasswordHashing, TokenBucket, TokenIssuer, TokenVerifier
from tradestream.errors import InvalidCredentials, RateLimited
from tradestream.identity.service import IdentityService, LoginThrottle

NOW_MS = 1_800_000_000_000
IP = "198.51.100.7"
OTHER_IP = "203.0.113.9"
KEY = f"login#{IP}"


@pytest.fixture
def store() -> InMemoryRateLimitStore:
    return InMemoryRateLimitStore()


@pytest.fixture
def throttle(store: InMemoryRateLimitStore) -> LoginThrottle:
    return LoginThrottle(store, TokenBucket(rate_per_second=10, burst=20))


def _allowed(throttle: LoginThrottle, ip: str, now_ms: int, attempts: int) -> int:
    allowed = 0
    for _ in range(attempts):
        try:
            throttle.check(ip, now_ms)
            allowed += 1
        except RateLimited:
            pass
    return allowed


def test_a_burst_of_20_passes_and_the_21st_is_refused_with_retry_after(
    throttle: LoginThrottle, store: InMemoryRateLimitStore
) -> None:
    for _ in range(20):
        throttle.check(IP, NOW_MS)

    with pytest.raises(RateLimited) as caught:
        throttle.check(IP, NOW_MS)

    assert (caught.value.status, caught.value.code) == (429, "RATE_LIMITED")
    assert caught.value.retry_after_seconds == 1
    assert store.stored(KEY) == BucketState(tokens_milli=0, updated_at_ms=NOW_MS)
    assert store.writes == 20  # a refused take is never written


def test_the_bucket_refills_at_ten_per_second_up_to_the_burst(throttle: LoginThrottle) -> None:
    assert _allowed(throttle, IP, NOW_MS, 25) == 20
    assert _allowed(throttle, IP, NOW_MS + 99, 1) == 0
    assert _allowed(throttle, IP, NOW_MS + 100, 2) == 1
    assert _allowed(throttle, IP, NOW_MS + 600, 10) == 5
    # A long pause refills to the burst, never beyond it.
    assert _allowed(throttle, IP, NOW_MS + 60_000, 25) == 20


def test_each_source_ip_has_its_own_bucket(throttle: LoginThrottle, store: InMemoryRateLimitStore) -> None:
    assert _allowed(throttle, IP, NOW_MS, 21) == 20

    assert _allowed(throttle, OTHER_IP, NOW_MS, 21) == 20
    assert store.stored(f"login#{OTHER_IP}") == BucketState(tokens_milli=0, updated_at_ms=NOW_MS)


def test_a_write_that_loses_a_race_rereads_and_counts_both_takes(
    throttle: LoginThrottle, store: InMemoryRateLimitStore
) -> None:
    throttle.check(IP, NOW_MS)  # the bucket exists: 19 tokens
    raced: list[str] = []

    def another_lambda_takes(key: str) -> None:
        # Between our read and our write, another Lambda takes a token from the same bucket.
        if not raced:
            raced.append(key)
            state = store.stored(key)
            decision = TokenBucket(10, 20).take(state, NOW_MS)
            assert store.put(key, decision.new_state, expected=state)

    store.after_get = another_lambda_takes
    throttle.check(IP, NOW_MS)

    assert raced == [KEY]
    assert store.conflicts == 1
    assert store.stored(KEY) == BucketState(tokens_milli=17_000, updated_at_ms=NOW_MS)


def test_endless_contention_on_one_key_is_refused_with_retry_after_one(
    throttle: LoginThrottle, store: InMemoryRateLimitStore
) -> None:
    throttle.check(IP, NOW_MS)
    rivals = 0

    def always_raced(key: str) -> None:
        nonlocal rivals
        rivals += 1
        state = store.stored(key)
        assert store.put(key, TokenBucket(10, 20).take(state, NOW_MS).new_state, expected=state)

    store.after_get = always_raced
    with pytest.raises(RateLimited) as caught:
        throttle.check(IP, NOW_MS)

    assert caught.value.retry_after_seconds == 1
    assert rivals == store.conflicts == 5  # bounded: it gives up instead of spinning
    assert store.stored(KEY) == BucketState(tokens_milli=14_000, updated_at_ms=NOW_MS)


def test_concurrent_takes_never_admit_more_than_the_bucket_holds(
    throttle: LoginThrottle, store: InMemoryRateLimitStore
) -> None:
    store.after_get = lambda _key: time.sleep(0.001)  # widen the read-to-write window
    start = threading.Barrier(40)
    admitted: list[int] = []

    def login_attempt() -> None:
        start.wait()
        try:
            throttle.check(IP, NOW_MS)
            admitted.append(1)
        except RateLimited:
            pass

    threads = [threading.Thread(target=login_attempt) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    state = store.stored(KEY)
    assert state is not None
    assert store.conflicts > 0  # the race really happened
    # No lost update: every admitted attempt is a token gone from the bucket, and never more than 20.
    assert 0 < len(admitted) <= 20
    assert state.tokens_milli == (20 - len(admitted)) * 1000
    assert store.writes == len(admitted)


def test_the_service_throttles_before_it_spends_a_password_verify(keyring: KeyRing) -> None:
    clock = ManualClock(NOW_MS / 1000)
    verifies: list[str] = []

    class CountingHashing(PasswordHashing):
        def verify_password(self, password_hash: str, password: str) -> bool:
            verifies.append(password)
            return super().verify_password(password_hash, password)

    service = IdentityService(
        users=InMemoryUserStore(),
        sessions=InMemorySessionStore(),
        issuer=TokenIssuer(keyring, "iss", "aud"),
        verifier=TokenVerifier(keyring, "iss", "aud"),
        passwords=CountingHashing(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)),
        throttle=LoginThrottle(InMemoryRateLimitStore(), TokenBucket(10, 20)),
        clock=clock,
    )
    service.register("alice", "correct horse")

    # Failed logins spend the bucket too: a guesser gets 20 tries, then 429s.
    for _ in range(20):
        with pytest.raises(InvalidCredentials):
            service.login("alice", "guess1234", source_ip=IP)
    verifies.clear()
    with pytest.raises(RateLimited) as caught:
        service.login("alice", "correct horse", source_ip=IP)
    assert caught.value.retry_after_seconds == 1
    assert verifies == []  # a throttled login costs no argon2 work

    # Another address is unaffected, and the first one gets in again once a token has refilled.
    assert service.login("alice", "correct horse", source_ip=OTHER_IP).username == "alice"
    clock.advance(0.1)
    assert service.login("alice", "correct horse", source_ip=IP).username == "alice"
