"""The items a projection container last wrote, so its next compare-and-set skips the read."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class WrittenItems(Generic[K, V]):
    """A bounded LRU map shared by a batch's writer threads (projections/fanout.py), so under a lock:
    one thread's eviction must not pull a key out from under another thread's lookup."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def forget(self, key: K) -> None:
        """Before a write: until it is known to have landed, the cache must not claim anything."""
        with self._lock:
            self._items.pop(key, None)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
