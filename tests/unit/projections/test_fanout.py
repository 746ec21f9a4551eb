"""each(): a batch's item writes side by side, results in order, no write left running after a failure."""

from __future__ import annotations

import threading
import time

import pytest

from tradestream.projections.fanout import WRITERS, each


def test_writes_run_side_by_side_and_results_keep_the_items_order() -> None:
    meet = threading.Barrier(4, timeout=5)  # broken, so a failure, if the writes ran in turn

    def write(n: int) -> int:
        meet.wait()
        return n * n

    assert each(write, [3, 1, 2, 4]) == [9, 1, 4, 16]


def test_no_more_than_the_pool_at_once() -> None:
    lock = threading.Lock()
    running = peak = 0

    def write(_: int) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1

    each(write, range(WRITERS * 3))
    assert 1 < peak <= WRITERS


def test_a_failure_is_raised_only_after_every_other_write_finished() -> None:
    finished: list[int] = []

    def write(n: int) -> None:
        if n == 0:
            raise RuntimeError("throttled")
        time.sleep(0.05)
        finished.append(n)

    with pytest.raises(RuntimeError, match="throttled"):
        each(write, range(5))
    assert sorted(finished) == [1, 2, 3, 4]


def test_called_from_its_own_write_it_runs_in_turn_instead_of_waiting_on_itself() -> None:
    def outer(n: int) -> list[int]:
        return each(lambda m: m + n, range(WRITERS * 2))

    # every pool thread busy with an outer write: a nested fan-out through the pool would deadlock
    assert each(outer, range(WRITERS)) == [[m + n for m in range(WRITERS * 2)] for n in range(WRITERS)]


def test_one_item_or_none_runs_inline() -> None:
    assert each(lambda n: threading.current_thread() is threading.main_thread(), [1]) == [True]
    assert each(lambda n: n, []) == []
