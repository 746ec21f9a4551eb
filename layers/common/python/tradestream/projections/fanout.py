"""A batch's independent item writes, side by side: the batch waits for its slowest write, not their sum."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Each write is one round trip (two for a compare-and-set) that waits on the network, not the CPU, and
# a Kinesis batch can touch hundreds of items: in turn, a 5 ms DynamoDB write makes 200 items a second
# of Lambda duration and of iterator age. Eight at once stays well inside a function's connection pool
# (botocore keeps 10) and DynamoDB's per-partition limits for the items of one batch.
WRITERS = 8
_POOL = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="projection-write")
_inside = threading.local()


def each(write: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """write(item) for every item, at most WRITERS at once; results in the items' order.

    Returns only once every write has finished, so none is left running when the invocation ends; then
    raises the first failure, if any (every write is guarded, so the retried batch redoes only what is
    missing). Called from one of its own writes it runs in turn, so the pool can never wait on itself.
    """
    work = list(items)
    if len(work) <= 1 or getattr(_inside, "active", False):
        return [write(item) for item in work]

    def run(item: T) -> R:
        _inside.active = True
        try:
            return write(item)
        finally:
            _inside.active = False

    futures = [_POOL.submit(run, item) for item in work]
    wait(futures)
    return [future.result() for future in futures]
