"""DynamoDB's tables spread over moto processes of their own: each request goes to the moto holding its table.

On AWS every table has partitions of its own, so one table's burst never slows another table's calls. In
one moto process every table shares one GIL: at 24 orders/s the matching function's commit (one PutItem,
about 2 ms of work) waited 36 ms at the median and 160 ms at p99 behind the projections' writes (eight
writers each), and the lane, which waits for its commits, fell behind; with each table in a moto of its
own the same PutItem took 9 ms at the median (docs/benchmarks.md, "After run 33").

The DynamoDB moto (the one port 4566 relays DynamoDB to) runs `TableRouter` in front of its own backend:
a table created through it is placed on the table moto holding the fewest tables, and every request
naming that table is relayed there. The local cloud's functions skip that hop: their workers send each
call straight to its table's moto (`routing_handlers`, fed by `GET /_localcloud/dynamodb-tables`).
Requests naming no table (DescribeLimits), or a table the router did not place, are answered by the
DynamoDB moto itself; so are those naming tables only inside a PartiQL statement or a backup, which
the product does not use.

Written here because neither moto nor any library spreads one service over several processes; the relay
is localcloud/forward.py's.
"""

from __future__ import annotations

import io
import json
import threading
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from localcloud.forward import Application, Relay, StartResponse, request_body

TABLES_PATH = "/_localcloud/dynamodb-tables"
_TARGETS = ("DynamoDB_", "DynamoDBStreams_")
_BATCHES = {"BatchGetItem": "UnprocessedKeys", "BatchWriteItem": "UnprocessedItems"}
_ROUTE_KEY = "localcloud_table_moto"
_JSON = "application/x-amz-json-1.0"

Answer = tuple[str, list[tuple[str, str]], bytes]


def table_name(name: str) -> str:
    """A table's name from its name or ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME[/stream/...])."""
    if not name.startswith("arn:"):
        return name
    resource = name.split(":", 5)[-1]
    parts = resource.split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "table" else name


def tables_named(params: Mapping[str, Any]) -> list[str]:
    """The tables a DynamoDB request (its JSON body, or botocore's parameters) names."""
    if isinstance(params.get("RequestItems"), dict):
        return [table_name(name) for name in params["RequestItems"]]
    if isinstance(params.get("TransactItems"), list):
        return [
            table_name(str(action.get("TableName", "")))
            for item in params["TransactItems"]
            if isinstance(item, dict)
            for action in item.values()
            if isinstance(action, dict)
        ]
    for key in ("TableName", "ResourceArn", "TableArn", "StreamArn"):
        if isinstance(params.get(key), str):
            return [table_name(params[key])]
    if isinstance(params.get("ShardIterator"), str):  # moto's: the stream's ARN, then "|"-separated parts
        return [table_name(params["ShardIterator"].partition("|")[0])]
    return []


def routing_handlers(routes: Mapping[str, str]) -> list[tuple[str, Callable[..., None]]]:
    """botocore handlers that send each DynamoDB call naming tables of one moto in `routes` (name -> URL)
    straight to it; every other call goes to the client's endpoint, as before. None for no routes: with
    every table in one moto, no call pays for looking its table up."""
    if not routes:
        return []

    def pick(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        homes = {routes.get(name) for name in tables_named(params)}
        if len(homes) == 1 and None not in homes:
            context[_ROUTE_KEY] = homes.pop()

    def aim(request: Any, **_: Any) -> None:
        url = request.context.get(_ROUTE_KEY)
        if url:
            # Every DynamoDB call is a POST to "/" of the endpoint.
            request.url = url.rstrip("/") + "/"

    return [("before-parameter-build.dynamodb", pick), ("before-sign.dynamodb", aim)]


def table_routes(dynamodb_endpoint: str) -> dict[str, str]:
    """The tables the DynamoDB moto at this endpoint placed on table motos: name -> URL."""
    with urllib.request.urlopen(dynamodb_endpoint.rstrip("/") + TABLES_PATH, timeout=10) as answer:
        return dict(json.load(answer)["tables"])


def _answer(status: str, payload: Any, request_id: str = "") -> Answer:
    body = json.dumps(payload).encode()
    headers = [("Content-Type", _JSON), ("X-Amz-Crc32", str(zlib.crc32(body)))]
    if request_id:
        headers.append(("x-amzn-RequestId", request_id))
    return status, headers, body


def _validation(message: str) -> Answer:
    return _answer(
        "400 Bad Request", {"__type": "com.amazon.coral.validate#ValidationException", "message": message}
    )


class TableRouter:
    """A WSGI application in front of the DynamoDB moto's own (`app`): requests naming a table placed on
    one of `table_motos` (URLs) are relayed to it."""

    def __init__(self, app: Application, table_motos: Iterable[str], *, connections: int) -> None:
        self.app = app
        self.relays = [Relay(url, connections=connections) for url in table_motos]
        self.placed: dict[str, Relay] = {}
        self.relayed = 0  # requests relayed to a table moto (the functions' calls skip this router)
        self._lock = threading.Lock()
        self._creating = threading.Lock()  # two creates of one name must not land on two motos

    def routes(self) -> dict[str, str]:
        with self._lock:
            return {name: relay.url for name, relay in self.placed.items()}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == TABLES_PATH and environ.get("REQUEST_METHOD") == "GET":
            status, headers, data = _answer("200 OK", {"tables": self.routes(), "relayed": self.relayed})
        elif not environ.get("HTTP_X_AMZ_TARGET", "").startswith(_TARGETS) or not self.relays:
            return self.app(environ, start_response)
        else:
            status, headers, data = self._route(environ)
        start_response(status, headers)
        return [data]

    def _route(self, environ: dict[str, Any]) -> Answer:
        body = request_body(environ)
        operation = environ["HTTP_X_AMZ_TARGET"].rpartition(".")[2]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = None
        if not isinstance(params, dict):
            return self._send(None, environ, body)  # moto answers the malformed request as AWS would
        if operation == "CreateTable":
            with self._creating:
                return self._create(environ, body, table_name(str(params.get("TableName", ""))))
        if operation == "ListTables":
            return self._list(environ, params, "TableNames", "TableName", "LastEvaluatedTableName")
        if operation == "ListStreams" and "TableName" not in params:
            return self._list(environ, params, "Streams", "StreamArn", "LastEvaluatedStreamArn")
        with self._lock:
            placement = {name: self.placed.get(name) for name in tables_named(params)}
        # Each distinct moto among the named tables' homes, by URL ("" for this one).
        homes = {relay.url if relay else "": relay for relay in placement.values()}
        if len(homes) <= 1:
            # A deleted table keeps its place: created again, it is where the workers' routes say.
            return self._send(next(iter(homes.values()), None), environ, body)
        if operation in _BATCHES:
            return self._split_batch(environ, params, operation, placement)
        return _validation(
            f"{operation} names tables that the local cloud serves from different moto processes "
            f"({', '.join(sorted(homes))}); a transaction cannot span them here"
        )

    def _create(self, environ: dict[str, Any], body: bytes, name: str) -> Answer:
        with self._lock:
            placed = self.placed.get(name)
            counts = {relay.url: 0 for relay in self.relays}
            for relay in self.placed.values():
                counts[relay.url] += 1
        # A known name goes to its moto, which answers ResourceInUseException as DynamoDB does.
        home = placed or min(self.relays, key=lambda relay: counts[relay.url])
        answer = self._send(home, environ, body)
        # ResourceInUse from a new home: an earlier create landed there though its answer was lost.
        if answer[0].startswith("200") or b"ResourceInUseException" in answer[2]:
            with self._lock:
                self.placed.setdefault(name, home)
        return answer

    def _send(self, relay: Relay | None, environ: dict[str, Any], body: bytes) -> Answer:
        if relay is not None:
            with self._lock:
                self.relayed += 1
            return relay.send(environ, body)
        local = dict(environ, **{"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            started[:] = [status, headers]

        chunks = self.app(local, start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return started[0], list(started[1]), data

    def _list(
        self, environ: dict[str, Any], params: dict[str, Any], items: str, key: str, last: str
    ) -> Answer:
        """ListTables (or ListStreams of every table) over every moto, paged as DynamoDB pages it."""
        limit = params.get("Limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            return _validation(f"Limit must be an integer from 1 to 100, not {limit!r}")
        start_key = last.replace("LastEvaluated", "ExclusiveStart")
        found: dict[str, Any] = {}  # name or stream ARN -> the item listed
        for relay in [None, *self.relays]:
            start: str | None = None
            while True:
                page = {"Limit": 100, **({start_key: start} if start else {})}
                status, headers, data = self._send(relay, environ, json.dumps(page).encode())
                if not status.startswith("200"):
                    return status, headers, data
                answer = json.loads(data)
                for item in answer.get(items, []):
                    found[item if isinstance(item, str) else item[key]] = item
                start = answer.get(last)
                if not start:
                    break
        after = params.get(start_key)
        names = [name for name in sorted(found) if after is None or name > after]
        result: dict[str, Any] = {items: [found[name] for name in names[:limit]]}
        if len(names) > limit:
            result[last] = names[limit - 1]
        return _answer("200 OK", result)

    def _split_batch(
        self,
        environ: dict[str, Any],
        params: dict[str, Any],
        operation: str,
        placement: dict[str, Relay | None],
    ) -> Answer:
        """A batch over tables of several motos, sent as one batch per moto and answered as one: a batch
        is not atomic on DynamoDB either, and each table's part of it is whole. Unlike DynamoDB, a part
        refused (a malformed item) comes after the parts before it were applied."""
        # The placement read once for the whole request: a table created meanwhile changes nothing here.
        by_home: dict[Relay | None, dict[str, Any]] = {}
        for name, requests in params["RequestItems"].items():
            by_home.setdefault(placement[table_name(name)], {})[name] = requests
        merged: dict[str, Any] = {}
        request_id = ""
        for relay, items in by_home.items():
            status, headers, data = self._send(
                relay, environ, json.dumps({**params, "RequestItems": items}).encode()
            )
            if not status.startswith("200"):
                # DynamoDB validates a batch whole; here the parts sent before the refused one stay applied.
                return status, headers, data
            request_id = request_id or dict((k.lower(), v) for k, v in headers).get("x-amzn-requestid", "")
            for key, value in json.loads(data).items():
                if isinstance(value, dict):
                    merged.setdefault(key, {}).update(value)
                elif isinstance(value, list):
                    merged.setdefault(key, []).extend(value)
                else:
                    merged[key] = value
        merged.setdefault(_BATCHES[operation], {})
        return _answer("200 OK", merged, request_id)
