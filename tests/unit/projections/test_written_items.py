"""WrittenItems: the projections' bounded cache of what they wrote, shared by a batch's writer threads."""

from __future__ import annotations

import threading

from tradestream.adapters.dynamodb.cache import WrittenItems


def test_least_recently_used_goes_first_and_forget_drops_a_key() -> None:
    cache: WrittenItems[str, int] = WrittenItems(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    cache.forget("a")
    assert cache.get("a") is None


def test_lookups_and_evictions_from_many_threads_never_fail() -> None:
    # Unlocked, a lookup's move_to_end raced another thread's eviction of the same key (KeyError).
    cache: WrittenItems[int, int] = WrittenItems(8)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def churn(offset: int) -> None:
        start.wait()
        try:
            for n in range(20_000):
                key = (n + offset) % 16
                cache.put(key, n)
                cache.get((key + 1) % 16)
                cache.forget((key + 2) % 16)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
