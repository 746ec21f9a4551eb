"""The projection functions and the query function in-process on the session's moto stack.

Each function is cold-started once per test module with exactly the environment the template gives it,
then stays warm across the module's tests, as a Lambda container does. Kinesis events are built from real
matching output (``LaneFeed`` runs orders through ``TickerLane``); tickers and users are unique per test,
so tests share the session's tables and containers without seeing each other's data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from localcloud.resources import LocalResources, client
from tests.events import LambdaContextStub, Reply, rest_event
from tests.fakes.projections import LaneFeed, kinesis_event
from tests.integration.conftest import function_environment
from tests.support import load_function
from tradestream.contracts import MatchingBatchV1
from tradestream.marketdata import Interval

PROJECTIONS = {
    "JournalFunction": "journal",
    "PortfolioFunction": "portfolio",
    "MarketDataFunction": "market_data",
}


@dataclass
class Function:
    """One warm container of a function: its module keeps its caches between invocations."""

    module: ModuleType

    def invoke(self, event: dict[str, Any]) -> Any:
        return self.module.lambda_handler(event, LambdaContextStub())


ColdStart = Callable[[str], Function]


@pytest.fixture(scope="module")
def module_aws_env(moto_endpoint: str, stack: LocalResources) -> Iterator[LocalResources]:
    """What ``aws_env`` sets, for a whole module: the containers outlive a test."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            patch.setenv(key, value)
        yield stack


@pytest.fixture(scope="module")
def cold_start(module_aws_env: LocalResources) -> ColdStart:
    folders = {**PROJECTIONS, "QueryFunction": "query"}

    def start(logical_id: str) -> Function:
        with pytest.MonkeyPatch.context() as scoped:
            for name, value in function_environment(module_aws_env, logical_id).items():
                scoped.setenv(name, value)
            scoped.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
            function = Function(load_function(folders[logical_id]))
            # Settings are read on the first call, inside this function's own environment.
            function.module.settings()
        return function

    return start


class Projections:
    """The three projection functions, each fed the same Kinesis events as its own event source mapping."""

    def __init__(self, cold_start: ColdStart) -> None:
        self.functions = {logical_id: cold_start(logical_id) for logical_id in PROJECTIONS}
        self._sequence = 0

    def deliver(self, batches: Sequence[MatchingBatchV1 | bytes]) -> dict[str, Any]:
        """One Kinesis batch to every projection; returns each function's response by logical id."""
        event = kinesis_event(batches, first_sequence=self._sequence + 1)
        self._sequence += len(batches)
        return {logical_id: fn.invoke(event) for logical_id, fn in self.functions.items()}

    def deliver_in_batches(self, entries: Sequence[MatchingBatchV1], size: int) -> None:
        for start in range(0, len(entries), size):
            responses = self.deliver(entries[start : start + size])
            assert all(r == {"batchItemFailures": []} for r in responses.values()), responses


@pytest.fixture(scope="module")
def projections(cold_start: ColdStart) -> Projections:
    return Projections(cold_start)


@dataclass(frozen=True)
class Api:
    """The query function behind API Gateway: path, query string and the authorizer's context."""

    function: Function

    def get(self, path: str, user: str, query: dict[str, str] | None = None) -> Reply:
        event = rest_event("GET", path, authorizer={"userId": user, "username": user, "scopes": ""})
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
        return Reply.of(self.function.invoke(event))

    def ok(self, path: str, user: str, query: dict[str, str] | None = None) -> Any:
        reply = self.get(path, user, query)
        assert reply.status == 200, reply.body
        return reply.json()


@pytest.fixture(scope="module")
def api(cold_start: ColdStart) -> Api:
    return Api(cold_start("QueryFunction"))


@pytest.fixture
def ticker() -> str:
    """A ticker no other test uses."""
    return "T" + uuid.uuid4().hex[:8].upper()


@pytest.fixture
def users() -> Iterator[Callable[[str], str]]:
    """user("ann") -> an id unique to this test, stable within it."""
    suffix = uuid.uuid4().hex[:8]
    yield lambda name: f"{name}-{suffix}"


@pytest.fixture
def feed() -> LaneFeed:
    return LaneFeed()


@pytest.fixture
def dlq_messages(module_aws_env: LocalResources) -> Callable[[], list[dict[str, Any]]]:
    """Everything parked on the projections' DLQ so far (received and deleted)."""
    sqs = client("sqs", module_aws_env.endpoint)
    url = str(module_aws_env.attribute("ProjectionsDLQ", "QueueUrl"))

    def receive() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )

    return receive


def dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class Tables:
    """Every item the projections wrote for some users and tickers, read by single-partition Queries."""

    def __init__(self, stack: LocalResources) -> None:
        self.ddb = client("dynamodb", stack.endpoint)
        self.names = {
            logical_id: str(stack.attribute(logical_id, "Ref"))
            for logical_id in (
                "TransactionsTable",
                "TransactionCountsTable",
                "PositionsTable",
                "LastPricesTable",
                "CandlesTable",
                "TradesTable",
                "TickersTable",
            )
        }

    def _query(
        self, logical_id: str, key: str, value: str, *, sort: tuple[str, str] | None = None
    ) -> list[Any]:
        condition = "#k = :v"
        names, values = {"#k": key}, {":v": {"S": value}}
        if sort is not None:
            condition += " AND #s = :s"
            names["#s"], values[":s"] = sort[0], {"S": sort[1]}
        items: list[Any] = []
        args: dict[str, Any] = {
            "TableName": self.names[logical_id],
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while True:
            page = self.ddb.query(**args)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def snapshot(self, users: Sequence[str], tickers: Sequence[str]) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for user in users:
            state[f"rows/{user}"] = self._query("TransactionsTable", "userId", user)
            state[f"counts/{user}"] = self._query("TransactionCountsTable", "userId", user)
            state[f"positions/{user}"] = self._query("PositionsTable", "userId", user)
        for ticker in tickers:
            state[f"price/{ticker}"] = self._query("LastPricesTable", "ticker", ticker)
            state[f"tape/{ticker}"] = self._query("TradesTable", "ticker", ticker)
            state[f"ticker/{ticker}"] = self._query("TickersTable", "market", "ALL", sort=("ticker", ticker))
            for interval in Interval:
                state[f"candles/{ticker}/{interval.value}"] = self._query(
                    "CandlesTable", "series", f"{ticker}#{interval.value}"
                )
        return state


@pytest.fixture
def tables(module_aws_env: LocalResources) -> Tables:
    return Tables(module_aws_env)


@dataclass
class World:
    """Everything a pipeline test touches, as one fixture."""

    projections: Projections
    cold_start: ColdStart
    api: Api
    tables: Tables
    feed: LaneFeed
    ticker: str
    user: Callable[[str], str]
    dlq_messages: Callable[[], list[dict[str, Any]]]


@pytest.fixture
def world(
    *,
    projections: Projections,
    cold_start: ColdStart,
    api: Api,
    tables: Tables,
    feed: LaneFeed,
    ticker: str,
    users: Callable[[str], str],
    dlq_messages: Callable[[], list[dict[str, Any]]],
) -> World:
    return World(
        projections=projections,
        cold_start=cold_start,
        api=api,
        tables=tables,
        feed=feed,
        ticker=ticker,
        user=users,
        dlq_messages=dlq_messages,
    )
