"""moto's per-request overheads that have nothing to do with emulating AWS, removed from our moto server.

A py-spy profile of the local cloud's moto under the end-to-end benchmark (moto 5.2.5, see
docs/benchmarks.md) put most of its samples outside the service backends:
- the connection: moto's server is werkzeug's development server, which answers every request with
  `Connection: close` (http.server cannot drain a request body before the next request line), so
  each AWS call paid a TCP handshake, a new server thread and a close (~30% of samples in
  Thread.start, socket writes, shutdown), and werkzeug formatted an access-log line per request under
  the logging lock that the local cloud then threw away (~11%). We serve the same WSGI application
  with waitress, which keeps HTTP/1.1 connections alive, runs requests on a fixed pool of threads and
  writes no line per request;
- routing: `DomainDispatcherApplication.get_backend_for_host` lists moto's package directory
  (`os.listdir` plus an `isdir` per entry) and then tries hundreds of URL regexes, on every request,
  to map a host name that is one of a few dozen strings to its backend (~14% of samples);
- SQS `Queue.attributes` builds every attribute of the queue, including three counts that walk all of
  its messages, wherever moto wants one of them: `ContentBasedDeduplication` on every send (three
  times) and `MessageRetentionPeriod` for every message a receive hands out (~11%).
- `BaseResponse.call_action` lists the methods of the response class with `inspect.getmembers` on every
  request to check that the action is one of them (~5% under the GIL); the list is memoised per class.
- every request looks its backend up twice (its service's, and IAM's to mark the access key used)
  through `BackendDict.__getitem__`, which takes moto's one global `backend_lock` each time to create the
  account's backend if it is missing: 48 request threads queued on that lock, and a holder waiting for
  the GIL kept all of them waiting (~11% of samples in the lock). Present accounts are now read
  without it; a missing one still goes through moto's locked creation.
- the response serializer builds six alias providers per member of an answer to find its value
  (~8% of the DynamoDB moto's CPU at 20 orders/s): the names they give are kept per class and shape.
- the cyclic garbage collector: moto keeps every table item, message and record as Python objects, and
  each full collection walked all of them with the GIL held: 50 ms early in the benchmark, 650 ms
  six minutes in (gen-2 pauses every 6 to 15 s under load, timed with `gc.callbacks`), each one
  stalling every AWS call in flight. The survivors of each full collection are frozen (`gc.freeze`),
  so the next one walks only what was allocated since; stored data is freed by reference counting
  when deleted, as before, and only a reference cycle that was alive at a freeze is never reclaimed.
- DynamoDB `Table.all_items` sorts the whole table by key on every Query and Scan, comparing key
  values through `DynamoType.__lt__`, which re-parses each value per comparison: a Query of the orders
  table's sparse `pending` index took 55 ms at 6,000 orders, 47 of them in that sort (the reconciler
  makes eight a minute, a burst that stalled everything else). The same sort with each key converted
  once per item gives the same order (key attributes have one type per table).
- DynamoDB Query then walked that whole sorted table to keep the items of one key, for a Query by a
  table's hash key (which DynamoDB answers from that key's items alone) and for a Query of an index.
  A Query by hash key, or of a local index, now starts from that key's items; a Query of a global
  index, from the items holding its hash key value, found in one unsorted pass over the table (moto
  sorts a Query's results by every key of the table and the index anyway). moto's own checks, sort,
  paging and limits then run on those items. `python bench/e2e/query_cost.py` (CPU per call, boto3 in
  the same process): the reconciler's eight Queries of the sparse `pending` index at 8,000 orders
  171 -> 71 ms, a ticker's log entries after a seq 41 -> 9 ms.
- Kinesis GetRecords walks the shard from its first record, and every put copies the shard's keys
  into a list: both grow with the stream (0.5 ms a read at 10,000 records). Reads index the shard by
  sequence number instead, and the last number is read from the end of the dict.
- DynamoDB UpdateItem parses its UpdateExpression twice per call (~a tenth of the DynamoDB moto's busy
  samples); the projections send a handful of distinct expressions, each now parsed once.
- DynamoDB's expression checks and condition parsing (a third of the DynamoDB moto's CPU under the
  benchmark) do less of the same work: localcloud/motoexpressions.py.
- waitress sends a response's header and body in two writes; each send releases the GIL and the
  thread then queues to take it back behind the threads running handlers (a third of the samples of
  DynamoDB's own moto were threads back from `send`). Header and body now leave in one write.
- DynamoDB's requests went through moto's Flask application (a request context, a URL map matching "/",
  flask_cors) on their way to the one handler that answers them all (11% of the DynamoDB moto's CPU);
  they now go to that handler directly (DirectDynamoDB), every other request as before.
Each fix keeps moto's answers as they were: the application is moto's own, routing is memoised per host
(the mapping is static), and queue attributes are computed one at a time, when asked.
moto is a dependency we do not fork, so these are patches applied at start-up; if moto's internals no
longer look as expected a patch is skipped with a warning and moto just stays slower.
"""

from __future__ import annotations

import functools
import gc
import inspect
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError
from flask import Response as FlaskResponse
from moto.core import base_backend as moto_base_backend
from moto.core import responses as moto_responses
from moto.core import serialize as moto_serialize
from moto.core.request import normalize_request
from moto.core.utils import camelcase_to_underscores, unix_time
from moto.dynamodb.models import table as dynamodb_table
from moto.dynamodb.parsing import expressions as dynamodb_expressions
from moto.dynamodb.responses import DynamoHandler
from moto.kinesis import models as kinesis_models
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import BackendRequest, DomainDispatcherApplication, create_backend_app
from moto.sqs import models as sqs_models
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import WSGITask

from localcloud import motoexpressions
from localcloud.forward import Forwarder
from localcloud.tablerouter import TableRouter


def memoise_routing() -> bool:
    original = getattr(DomainDispatcherApplication, "get_backend_for_host", None)
    if original is None:
        warnings.warn("moto's dispatcher changed; routing left unmemoised", stacklevel=2)
        return False
    routes: dict[str, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        try:
            return routes[host]
        except KeyError:
            # Called under the dispatcher's own lock, so one thread fills each entry.
            backend = routes[host] = original(self, host)
            return backend

    setattr(DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host)  # noqa: B010
    return True


def memoise_method_names() -> bool:
    original = getattr(moto_responses, "method_names_from_class", None)
    if original is None:
        warnings.warn("moto's response dispatch changed; method names left unmemoised", stacklevel=2)
        return False
    # A response class's methods are fixed once moto is imported: one list per class, kept.
    setattr(moto_responses, "method_names_from_class", functools.cache(original))  # noqa: B010
    return True


def _unsorted_items(table: Any) -> list[Any]:
    """Every item of a moto table, in no particular order. list() and extend() take their snapshots in
    C, under the GIL: a write adding an item in the middle of a Python loop over the dict would end the
    read with "changed size during iteration"."""
    hash_sets = list(table.items.values())
    if not table.range_key_attr:
        return hash_sets
    items: list[Any] = []
    for hash_set in hash_sets:
        items.extend(hash_set.values())
    return items


def sort_items_by_converted_keys() -> bool:
    table = getattr(dynamodb_table, "Table", None)
    if table is None or not hasattr(table, "all_items"):
        warnings.warn("moto's DynamoDB table changed; all_items left as it is", stacklevel=2)
        return False

    def all_items(self: Any) -> list[Any]:
        # moto's key is (hash_key, range_key) as DynamoType objects, compared by cast_value.
        def key(item: Any) -> Any:
            if item.range_key:
                return (item.hash_key.cast_value, item.range_key.cast_value)
            return item.hash_key.cast_value

        return sorted(_unsorted_items(self), key=key)

    setattr(table, "all_items", all_items)  # noqa: B010
    return True


class _QueryCandidates:
    """A table as one Query sees it: `all_items()` holds only the items its hash key can match, in any
    order (moto sorts a Query's results by every key attribute of the table and the index)."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _key_s_items(table: Any, value: Any) -> list[Any]:
    """The items under one value of the table's hash key. Raises for a value that cannot be a key."""
    if value is None:
        raise LookupError("no hash key value")  # moto's own Query decides what that means
    found = table.items.get(value)
    if found is None:
        return []
    # One snapshot taken in C, under the GIL: a write may add an item meanwhile.
    return list(found.values()) if table.range_key_attr else [found]


def _holders(table: Any, name: str, value: Any) -> list[Any]:
    """The items whose attribute `name` equals `value`, in one unsorted pass over the table."""
    return [
        item
        for item in _unsorted_items(table)
        if (held := item.attrs.get(name)) is not None and held == value
    ]


def narrow_query_candidates() -> bool:
    table = getattr(dynamodb_table, "Table", None)
    query = getattr(table, "query", None)
    if getattr(query, "_localcloud_narrowed", False):
        return True
    if query is None:
        warnings.warn("moto's DynamoDB table changed; Query left sorting the whole table", stacklevel=2)
        return False
    # (self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
    # projection_expressions, index_name, ..., hash_key_conditions, ...) in moto 5.2.5; its backend
    # passes index_name by position and the hash key conditions by name.
    parameters = list(inspect.signature(query).parameters)
    index_at = 7  # index_name's place among the arguments after hash_key
    expected = {1: "hash_key", 1 + index_at: "index_name"}
    if any(parameters[i : i + 1] != [name] for i, name in expected.items()) or (
        "hash_key_conditions" not in parameters
    ):
        warnings.warn("moto's DynamoDB Query changed; it is left sorting the whole table", stacklevel=2)
        return False

    def narrowed(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[index_at - 1] if len(args) >= index_at else kwargs.get("index_name")
        try:
            if not index_name:
                items = _key_s_items(self, hash_key)
            else:
                # moto checks every condition again on the items kept here.
                name, value = kwargs["hash_key_conditions"][0]
                if name == self.hash_key_attr:  # an index on the table's own hash key (any local one)
                    items = _key_s_items(self, value)
                else:
                    items = _holders(self, name, value)
        except Exception:
            # A value that cannot be a key (a set, a map, an N that is no number) or conditions moto
            # did not give: moto's own walk answers, as it always did (an empty page, or its error).
            return query(self, hash_key, *args, **kwargs)
        return query(_QueryCandidates(self, items), hash_key, *args, **kwargs)

    narrowed._localcloud_narrowed = True  # type: ignore[attr-defined]
    setattr(table, "query", narrowed)  # noqa: B010
    return True


def memoise_update_expressions() -> bool:
    """Parse each distinct UpdateExpression once. moto parses it twice per UpdateItem (the handler and
    the backend); the projections send a handful of distinct expressions (names and values are
    placeholders), and the validator deep-copies the tree before it touches it, so one parsed tree
    serves every call. A malformed expression raises as before, on every call (errors are not cached)."""
    parser = getattr(dynamodb_expressions, "UpdateExpressionParser", None)
    if parser is None or not isinstance(parser.__dict__.get("make"), classmethod):
        warnings.warn("moto's update expression parser changed; parses left unmemoised", stacklevel=2)
        return False
    parse = functools.lru_cache(maxsize=1024)(parser.make)

    def make(cls: Any, expression_str: str) -> Any:
        return parse(expression_str)

    setattr(parser, "make", classmethod(make))  # noqa: B010
    return True


def index_kinesis_records() -> bool:
    """Kinesis reads and puts in time independent of how many records a shard holds.

    moto keeps a shard's records in a dict by sequence number and walks it from the first record on
    every GetRecords, and copies all its keys into a list for every put (`get_max_sequence_number`):
    both grow with the stream. A full benchmark run leaves ~10,000 records in the shard, where a read
    walked them in 0.5 ms and a put took 0.15 ms on average (indexed: 2 µs and 6 µs), all under the
    GIL, with four mappings polling the shard many times a second. A shard's sequence numbers are
    consecutive integers in insertion order (put_record hands out the last + 1; resharding empties a
    shard and puts again), so a read can index the dict directly; if they ever are not, moto's own
    walk answers."""
    shard = getattr(kinesis_models, "Shard", None)
    walk = getattr(shard, "get_records", None)
    if shard is None or walk is None or not hasattr(shard, "get_max_sequence_number"):
        warnings.warn("moto's Kinesis shard changed; reads left as they are", stacklevel=2)
        return False

    def get_max_sequence_number(self: Any) -> int:
        return next(reversed(self.records), 0)

    def get_min_sequence_number(self: Any) -> int:
        return next(iter(self.records), 0)

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        records = self.records
        first, last = get_min_sequence_number(self), get_max_sequence_number(self)
        if records and len(records) != last - first + 1:
            return walk(self, last_sequence_id, limit)  # type: ignore[no-any-return]
        after = int(last_sequence_id)
        start = max(after + 1, first)
        stop = last + 1 if limit is None else min(last + 1, start + limit)
        # An iterator may stand at -1 (AT_SEQUENCE_NUMBER 0): on an empty shard that range is [0, 1).
        results = [records[n] for n in range(start, stop)] if records else []
        if not results:
            return [], after, 0
        behind = records[last].created_at - results[-1].created_at
        return results, results[-1].sequence_number, int(behind * 1000)

    setattr(shard, "get_max_sequence_number", get_max_sequence_number)  # noqa: B010
    setattr(shard, "get_min_sequence_number", get_min_sequence_number)  # noqa: B010
    setattr(shard, "get_records", get_records)  # noqa: B010
    return True


# "ContentBasedDeduplication" -> "content_based_deduplication", the attribute moto keeps it in.
_attribute_name = functools.cache(camelcase_to_underscores)


class QueueAttributes(Mapping[str, Any]):
    """`Queue.attributes` as moto computes it (same keys, same values), one attribute per lookup."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        keys = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            keys += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            keys += queue.KMS_ATTRIBUTES
        self._keys = keys

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        queue = self._queue
        if key == "Policy" and queue.policy:
            return queue.policy
        if key == "RedrivePolicy" and queue.redrive_policy:
            return json.dumps(queue.redrive_policy)
        value = getattr(queue, _attribute_name(key))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def memoise_attribute_aliases() -> bool:
    """moto's response serializer looks every member of every answer up under the names its alias
    providers suggest, building six providers per member (an AttributeValue alone has ten members, so
    an item of 20 attributes meant 1,200 providers). Which names they suggest depends only on the
    object's class, the member's shape and its key, so each list of names is kept per those three."""
    picker = getattr(moto_serialize, "XFormedAttributePicker", None)
    defaults = getattr(moto_serialize, "DEFAULT_ALIAS_PROVIDERS", None)
    original = getattr(picker, "get_possible_keys", None)
    if picker is None or defaults is None or original is None:
        warnings.warn("moto's response serializer changed; aliases left unmemoised", stacklevel=2)
        return False
    names: dict[tuple[type, int, str], tuple[Any, tuple[str, ...]]] = {}

    def get_possible_keys(self: Any, context: Any) -> Iterator[str]:
        obj, shape = context.obj, context.shape
        if self.alias_providers is not defaults or "Meta" in getattr(obj, "__dict__", ()):
            return original(self, context)  # type: ignore[no-any-return]  # an object's own aliases
        key = (type(obj), id(shape), context.key)
        found = names.get(key)
        if found is None or found[0] is not shape:  # the shape is kept, so its id stays its own
            if len(names) > 10_000:  # botocore keeps its shapes; should it ever not, this stays bounded
                names.clear()
            found = names[key] = (shape, tuple(original(self, context)))
        return iter(found[1])

    setattr(picker, "get_possible_keys", get_possible_keys)  # noqa: B010
    return True


def lazy_queue_attributes() -> bool:
    queue = sqs_models.Queue
    backend = sqs_models.SQSBackend
    expected = ("BASE_ATTRIBUTES", "FIFO_ATTRIBUTES", "KMS_ATTRIBUTES", "attributes")
    if not all(hasattr(queue, name) for name in expected) or not hasattr(
        backend, "is_message_valid_based_on_retention_period"
    ):
        warnings.warn("moto's SQS queue attributes changed; left as they are", stacklevel=2)
        return False

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    setattr(queue, "attributes", property(QueueAttributes))  # noqa: B010
    setattr(  # noqa: B010
        backend, "is_message_valid_based_on_retention_period", is_message_valid_based_on_retention_period
    )
    return True


def lock_free_backend_lookup() -> bool:
    backend_dict = getattr(moto_base_backend, "BackendDict", None)
    create = getattr(backend_dict, "_create_account_specific_backend", None)
    if backend_dict is None or create is None or not issubclass(backend_dict, dict):
        warnings.warn("moto's backend registry changed; lookups left as they are", stacklevel=2)
        return False
    original = backend_dict.__getitem__

    def __getitem__(self: Any, account_id: str) -> Any:
        # An account's backend is only ever added by _create_account_specific_backend (under the lock,
        # which also registers the dict for reset) and only removed by reset clearing the whole dict:
        # once present it is the answer, and a dict read is atomic under the GIL.
        try:
            return dict.__getitem__(self, account_id)
        except KeyError:
            return original(self, account_id)

    setattr(backend_dict, "__getitem__", __getitem__)  # noqa: B010
    return True


def freeze_after_full_collections() -> None:
    """After each full (generation 2) collection, move its survivors to the permanent generation."""
    collected = threading.Event()

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            collected.set()  # freezing from inside the collector's callback is not documented as safe

    def freeze() -> None:
        while True:
            collected.wait()
            collected.clear()
            gc.freeze()

    gc.callbacks.append(on_collection)
    threading.Thread(target=freeze, name="gc-freeze", daemon=True).start()


class OneSendTask(WSGITask):  # type: ignore[misc]  # waitress ships no types
    """waitress's WSGI task, sending a response's header and its body in one write.

    waitress hands the header and then each body chunk to the socket separately. Each send releases the
    GIL, and under load the sending thread then waits for it again behind the threads running moto's
    handlers: a third of the DynamoDB moto's samples were threads back from `send` (py-spy, at 16
    orders/s with DynamoDB in its own process). moto answers with one body of known length, so one send
    of both halves saves a wait per AWS call; any other response is written as waitress writes it."""

    def write(self, data: bytes) -> None:
        if self.wrote_header or not self.complete or not data:
            super().write(data)
            return
        header = self.build_response_header()
        self.wrote_header: bool = True
        length = self.content_length
        if not self.has_body or self.chunked_response or length is None or len(data) > length:
            self.channel.write_soon(header)
            super().write(data)  # the body, as waitress writes it once the header is out
            return
        self.content_bytes_written += len(data)
        self.channel.write_soon(header + data)


def one_send_per_response() -> bool:
    names = ("build_response_header", "wrote_header", "complete", "content_length", "has_body")
    if HTTPChannel.task_class is not WSGITask or not all(hasattr(WSGITask, n) for n in names):
        warnings.warn("waitress's task changed; responses left in two sends", stacklevel=2)
        return False
    setattr(HTTPChannel, "task_class", OneSendTask)  # noqa: B010
    return True


class DirectDynamoDB:
    """A WSGI application: DynamoDB's requests go straight to moto's DynamoDB handler, the rest to `app`.

    Every DynamoDB call is a POST to / naming its operation in X-Amz-Target, and moto answers them all
    with one handler. Its Flask application wraps that handler in work an emulator has no use for here:
    a request context, a URL map to match "/", flask_cors (11% of the DynamoDB moto's CPU under the
    benchmark, py-spy; docs/benchmarks.md). This calls the handler as moto's Flask view does
    (`moto.core.utils.convert_to_flask_response`: moto's own request class, the recorder, a ClientError
    answered as a 400) and answers with the same status, headers (flask_cors's CORS headers included)
    and body."""

    TARGET_PREFIX = "DynamoDB_20120810."

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or (environ.get("PATH_INFO") or "/") != "/"
            or not environ.get("HTTP_X_AMZ_TARGET", "").startswith(self.TARGET_PREFIX)
        ):
            return self.app(environ, start_response)
        request = normalize_request(BackendRequest(environ))
        recorder._record_request(request)
        try:
            result = DynamoHandler.dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        response = FlaskResponse(response=content, status=status, headers=headers)
        # What flask_cors adds to moto's answers to a simple request (a browser's SDK reads it).
        origin = environ.get("HTTP_ORIGIN")
        response.headers["Access-Control-Allow-Origin"] = origin or "*"
        if origin:
            response.headers.add("Vary", "Origin")
        return response(environ, start_response)


def install() -> None:
    one_send_per_response()
    freeze_after_full_collections()
    lock_free_backend_lookup()
    memoise_routing()
    memoise_method_names()
    memoise_attribute_aliases()
    sort_items_by_converted_keys()
    narrow_query_candidates()
    memoise_update_expressions()
    motoexpressions.install()
    index_kinesis_records()
    lazy_queue_attributes()


# Requests that hold a thread: long polls (the lane pollers wait up to 1 s, a user's ReceiveMessage up
# to 20 s) and every in-flight call of the function workers, the pollers and the API edge. Fewer threads
# (12, 6) were measured and did not help beyond the benchmark's noise (docs/benchmarks.md, run 6).
SERVER_THREADS = 48


def serve(
    host: str,
    port: int,
    *,
    forward: Mapping[str, str] | None = None,
    table_motos: Sequence[str] = (),
    ident: str = "moto",
) -> None:
    """moto's WSGI application (as `moto_server` builds it, DynamoDB's requests taken straight to their
    handler) behind waitress, until SIGTERM/SIGINT.

    `forward` maps a service to the URL of another moto serving it (localcloud/forward.py); DynamoDB's
    tables are placed on the `table_motos` (URLs) as they are created (localcloud/tablerouter.py)."""
    app: Any = DirectDynamoDB(DomainDispatcherApplication(create_backend_app))
    if table_motos:
        app = TableRouter(app, table_motos, connections=SERVER_THREADS)
    if forward:
        app = Forwarder(app, forward, connections=SERVER_THREADS)
    # MOTO_PORT is how moto builds URLs that point back at itself (SQS queue URLs, for one).
    os.environ.setdefault("MOTO_PORT", str(port))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    server = create_server(
        app,
        host=host,
        port=port,
        threads=SERVER_THREADS,
        connection_limit=1000,
        channel_timeout=300,  # an idle keep-alive connection is closed after this many seconds
        ident=ident,
    )
    server.run()
