"""moto's DynamoDB item writes made atomic, as DynamoDB's are, against the server's other requests.

moto (checked against 5.2.5) applies an UpdateItem's actions one by one to the stored item, and its
server answers requests on many threads. So a GetItem or Query between two actions answered half an
update (the e2e suite once read an order FILLED without its fill price), an update that failed on
its last action left the first ones applied, and two guarded writes of one item could both pass
their condition. Here an update works on a copy of the item and stores it whole when complete, and
the writes of one item (update, put, delete) take turns on a lock of that item. One lock around
every DynamoDB request did the same and cost a third of the local cloud's throughput
(docs/benchmarks.md, run 17): a request holding it lost the GIL to threads that then blocked on it.
These locks are taken by writes only, and a write waits only for writes of its own item.
Not covered: the old values moto answers with (ReturnValues ALL_OLD, UPDATED_OLD) are read by its
request handler before the write takes the item's lock, so two concurrent writes of one item can
answer the same old value (the writes themselves are both kept); PartiQL writes take no lock. Our
code asks for neither.
If moto's backend no longer looks as expected, it is left as it is and a warning says so.
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections import defaultdict
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import table as dynamodb_table
from moto.dynamodb.models.dynamo_type import DynamoType


class _StagedTable:
    """A table as one UpdateItem sees it: the items it reads and writes are private copies.

    moto's `update_item` looks its item up with `table.get_item`, creates a missing one with
    `table.put_item` (the key alone) and then changes that item in place; given this view, it changes
    a copy, and the caller stores the copy when the update is complete. Everything else is the table's."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._staged: dict[tuple[Any, Any], Any] = {}
        self.items: defaultdict[Any, Any] = defaultdict(dict)  # where moto's put_item writes, unread
        # The stream records the update makes, written to the table's stream once the item is stored:
        # an update that fails leaves no record, and no reader sees a record before its item.
        self.records: list[tuple[Any, Any]] = []
        self.stream_shard = self if table.stream_shard is not None else None

    def add(self, old: Any, new: Any) -> None:  # the stream shard's one method moto's writes call
        # As the item is now: moto goes on changing the same object after its first record.
        self.records.append((copy.deepcopy(old), copy.deepcopy(new)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def get_item(self, hash_key: Any, range_key: Any = None, projection_expression: Any = None) -> Any:
        key = (hash_key, range_key)
        if key not in self._staged:
            live = self._table.get_item(hash_key, range_key)
            self._staged[key] = None if live is None else copy.deepcopy(live)
        item = self._staged[key]
        return item.project(projection_expression) if projection_expression and item else item

    def put_item(self, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        # moto's own put_item (its validation, its stream record), writing into this view.
        item = type(self._table).put_item(self, item_attrs, *args, **kwargs)
        self._staged[(item.hash_key, item.range_key)] = item
        return item


class _BackendView:
    """The DynamoDB backend with one table seen through a _StagedTable."""

    def __init__(self, backend: Any, table_name: str, staged: _StagedTable) -> None:
        self._backend, self._table_name, self._staged = backend, table_name, staged

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def get_table(self, table_name: str) -> Any:
        return self._staged if table_name == self._table_name else self._backend.get_table(table_name)


class ItemLocks:
    """One lock per item that a write holds or waits for, made on demand and dropped when unused.

    Locks striped by key (256 of them) were the first version: the projections write side by side, and
    with thirty writes in flight two share one of 256 stripes four times in five (the birthday
    bound), each such write waiting out an unrelated one, its GIL waits included."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, list[Any]] = {}  # key -> [lock, writes holding or waiting]

    @contextmanager
    def hold(self, key: Hashable | None) -> Iterator[None]:
        if key is None:  # a write moto refuses before it touches an item
            yield
            return
        with self._guard:
            entry = self._locks.get(key)
            if entry is None:
                entry = self._locks[key] = [threading.Lock(), 0]
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


_item_locks = ItemLocks()


def _item_key(table: Any, attributes: Mapping[str, Any]) -> Hashable | None:
    """The item a write names, as moto tells items apart (DynamoType: N "60" and "60.0" are one item);
    None for a key moto will refuse (a list or map as a key value, a malformed value)."""
    try:
        parts = [
            DynamoType(attributes[name]) if name and name in attributes else None
            for name in (table.hash_key_attr, table.range_key_attr)
        ]
        key = (table.name, *parts)
        hash(key)
    except Exception:  # moto's own validation answers this write
        return None
    return key


# What patch() replaces, (owner, attribute): for a caller that must put moto back as it was. Empty if
# moto no longer has the backend, as patch() then leaves it alone.
_BACKEND: Any = getattr(dynamodb_models, "DynamoDBBackend", None)
_WRITES = ("update_item", "put_item", "delete_item")
PATCHED_ATTRIBUTES: tuple[tuple[Any, str], ...] = (
    tuple((_BACKEND, name) for name in _WRITES) if _BACKEND else ()
)


def patch() -> bool:
    """UpdateItem builds the new item on a copy and stores it whole; writes of one item take turns."""
    backend = _BACKEND
    table_class = getattr(dynamodb_table, "Table", None)
    names = (*_WRITES, "get_table")
    if backend is None or table_class is None or not all(hasattr(backend, n) for n in names):
        warnings.warn("moto's DynamoDB backend changed; item writes left as they are", stacklevel=2)
        return False
    if getattr(backend.update_item, "_localcloud_atomic", False):
        return True  # patched already: wrapping the wrappers would take an item's lock twice
    update, put, delete = backend.update_item, backend.put_item, backend.delete_item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        staged = _StagedTable(table)
        with _item_locks.hold(_item_key(table, key)):
            item = update(_BackendView(self, table_name, staged), table_name, key, *args, **kwargs)
            # One store of a whole item: a reader holds either the old item or the new one.
            if table.range_key_attr is not None:
                table.items[item.hash_key][item.range_key] = item
            else:
                table.items[item.hash_key] = item
            for old, new in staged.records:
                table.stream_shard.add(old, new)
        return item

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        with _item_locks.hold(_item_key(table, item_attrs)):
            return put(self, table_name, item_attrs, *args, **kwargs)

    def delete_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        with _item_locks.hold(_item_key(table, key)):
            return delete(self, table_name, key, *args, **kwargs)

    update_item._localcloud_atomic = True  # type: ignore[attr-defined]
    setattr(backend, "update_item", update_item)  # noqa: B010
    setattr(backend, "put_item", put_item)  # noqa: B010
    setattr(backend, "delete_item", delete_item)  # noqa: B010
    return True
