"""The fault suite's tools: a local cloud with one fault plan, a trading driver over the public HTTP API,
poison for the lane and the stream, a wait for quiescence, the audit and the dead-letter comparison.

The invariants of ARCHITECTURE.md are the audit's (`tradestream.audit`: log replay vs snapshot and view,
fills and statuses, final or resting, stragglers, journal rows and counts, positions, candles, tape),
run with no grace for in-flight orders since it runs after quiescence. What only a fault test knows is
checked here: the dead-letter queues hold exactly the poison it injected, each with a reason.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import requests

from localcloud.cloud import LocalCloud, Settings, free_port
from localcloud.faults import FaultPlan, fired
from localcloud.pollers import KinesisShardPoller
from localcloud.resources import client
from tests.support import TEMPLATE
from tradestream.audit.checks import Report
from tradestream.audit.dataset import Dataset
from tradestream.audit.runner import AuditConfig, render, run_audit
from tradestream.auth import generate_dev_keypair
from tradestream.contracts import TradeExecutedV1

SIGNING_KEY_PARAMETER = "/tradestream/local/jwt-signing-key"
PASSWORD = "correct horse battery"
HTTP_TIMEOUT = 30
# How long a failed lane batch stays invisible; the template's 60 s would make every fault a minute.
VISIBILITY_SECONDS = 3
QUIET_DEADLINE = 150.0
RETRYABLE = frozenset({429, 500, 502, 503, 504})
PROJECTIONS = ("OrderStatusFunction", "JournalFunction", "PortfolioFunction", "MarketDataFunction")


# --- the local cloud ---------------------------------------------------------------------------------
@contextlib.contextmanager
def faulty_cloud(plan: FaultPlan | None, *, stack: str) -> Iterator[LocalCloud]:
    """The real template on free ports, with `plan` in force (None: no faults at all)."""
    private_pem, public_pem = generate_dev_keypair(bits=2048)
    key = {
        "current": {"kid": stack, "privateKeyPem": private_pem, "publicKeyPem": public_pem},
        "previous": [],
    }
    settings = Settings(
        template=TEMPLATE,
        aws_port=free_port(),
        api_port=free_port(),
        stack_name=stack,
        ssm_parameters={SIGNING_KEY_PARAMETER: json.dumps(key)},
        faults=plan,
        queue_visibility_timeout=VISIBILITY_SECONDS,
    )
    with LocalCloud(settings) as cloud:
        yield cloud


def aws(cloud: LocalCloud, service: str) -> Any:
    return client(service, cloud.endpoint)


def queue_url(cloud: LocalCloud, logical_id: str) -> str:
    assert cloud.resources is not None
    return str(cloud.resources.attribute(logical_id, "Ref"))


def faults_fired(cloud: LocalCloud) -> Counter[str]:
    assert cloud.faults is not None and cloud.faults.state_dir is not None
    return fired(cloud.faults.state_dir)


# --- the public HTTP API, with a client's retries ------------------------------------------------------
@dataclass(frozen=True)
class Trader:
    user_id: str
    token: str


class Exchange:
    """What a careful client does: retries 5xx/429 with the same clientOrderId (placing is idempotent)."""

    def __init__(self, api: str) -> None:
        self.api = api
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for attempt in range(20):
            response = self.http.request(
                method, f"{self.api}{path}", headers=headers, timeout=HTTP_TIMEOUT, **kwargs
            )
            if response.status_code not in RETRYABLE:
                return response
            time.sleep(min(1.0, float(response.headers.get("Retry-After", 0.05 * 2**attempt))))
        return response

    def sign_up(self, name: str) -> Trader:
        credentials = {"username": f"{name}_{uuid.uuid4().hex[:10]}", "password": PASSWORD}
        registered = self.request("POST", "/api/users/register", json=credentials)
        assert registered.status_code == 201, registered.text
        login = self.request("POST", "/api/auth/login", json=credentials)
        assert login.status_code == 200, login.text
        return Trader(user_id=login.json()["user_id"], token=login.json()["access_token"])

    def place(
        self,
        trader: Trader,
        ticker: str,
        side: str,
        quantity: str,
        price: str | None = None,
        *,
        time_in_force: str = "GTC",
    ) -> dict[str, Any]:
        body = {
            "ticker": ticker,
            "side": side,
            "type": "LIMIT" if price is not None else "MARKET",
            "timeInForce": time_in_force,
            "quantity": quantity,
            "clientOrderId": uuid.uuid4().hex,
            **({"price": price} if price is not None else {}),
        }
        response = self.request("POST", "/api/orders", token=trader.token, json=body)
        assert response.status_code in (200, 202), response.text
        order: dict[str, Any] = response.json()
        return order

    def cancel(self, trader: Trader, order_id: str) -> int:
        response = self.request("DELETE", f"/api/orders/{order_id}", token=trader.token)
        assert response.status_code in (202, 409), response.text  # 409: it became final first
        return response.status_code

    def order(self, trader: Trader, order_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/api/orders/{order_id}", token=trader.token)
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()
        return order


@dataclass
class Market:
    """Four traders crossing orders on a few tickers, one thread per ticker."""

    exchange: Exchange
    tickers: tuple[str, ...]
    traders: list[Trader] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, count: int = 4) -> None:
        self.traders = [self.exchange.sign_up(f"trader{i}") for i in range(count)]

    def trade(self, rounds: int) -> None:
        with ThreadPoolExecutor(len(self.tickers)) as pool:
            for done in [pool.submit(self._rounds, ticker, rounds) for ticker in self.tickers]:
                done.result()

    def _keep(self, order: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.orders.append(order)
        return order

    def _rounds(self, ticker: str, rounds: int) -> None:
        ann, ben, cat, dan = self.traders[:4]
        x = self.exchange
        for r in range(rounds):
            p = 100 + r
            x.place(ann, ticker, "SELL", "5", f"{p}")
            x.place(ben, ticker, "SELL", "3", f"{p + 1}")
            self._keep(x.place(cat, ticker, "BUY", "6", f"{p + 1}"))  # sweeps two levels
            self._keep(x.place(dan, ticker, "BUY", "4", f"{p + 1}", time_in_force="IOC"))
            resting = self._keep(x.place(ann, ticker, "BUY", "1", f"{p - 5}"))
            x.cancel(ann, resting["id"])
            self._keep(x.place(dan, ticker, "SELL", "2", None, time_in_force="IOC"))  # MARKET
            self._keep(x.place(cat, ticker, "BUY", "2", f"{p - 10}"))  # stays on the book

    def crossing_pair_fills(self, ticker: str, *, deadline: float = 90.0) -> bool:
        """A fresh SELL and BUY at one price: True once both read FILLED through GET /api/orders/{id}."""
        ann, ben = self.traders[:2]
        sell = self.exchange.place(ann, ticker, "SELL", "1", "500")
        buy = self.exchange.place(ben, ticker, "BUY", "1", "500")
        until = time.monotonic() + deadline
        while time.monotonic() < until:
            statuses = {
                self.exchange.order(ann, sell["id"])["status"],
                self.exchange.order(ben, buy["id"])["status"],
            }
            if statuses == {"FILLED"}:
                return True
            time.sleep(0.1)
        return False


# --- poison ------------------------------------------------------------------------------------------
LANE_POISON = (
    "this is not json",
    json.dumps({"type": "order.placed.v1", "orderId": "half-an-order"}),
    json.dumps({"type": "order.teleported.v1", "orderId": "x"}),
    json.dumps([1, 2, 3]),
)
STREAM_POISON = (
    b"\xff\xfe not even utf-8",
    b'{"type": "matching.batch.v1", "ticker": "ZZZ"}',
    b"[]",
)


def poison_lane(cloud: LocalCloud, ticker: str) -> set[str]:
    """Bad bodies on a ticker's lane; returns their SQS message ids."""
    sqs = aws(cloud, "sqs")
    url = queue_url(cloud, "OrdersLane")
    ids = set()
    for body in LANE_POISON:
        sent = sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId=ticker, MessageDeduplicationId=uuid.uuid4().hex
        )
        ids.add(sent["MessageId"])
    return ids


def poison_stream(cloud: LocalCloud, ticker: str) -> set[str]:
    """Bad records on the matching events stream; returns their sequence numbers."""
    kinesis = aws(cloud, "kinesis")
    assert cloud.resources is not None
    stream = cloud.resources.names["MatchingEventsStream"]
    return {
        kinesis.put_record(StreamName=stream, Data=data, PartitionKey=ticker)["SequenceNumber"]
        for data in STREAM_POISON
    }


@dataclass(frozen=True)
class DeadLetter:
    body: str
    reason: str | None
    source_id: str | None

    @property
    def retries_exhausted(self) -> bool:
        """An on-failure record of a Kinesis mapping: a batch given up on, not a poison record parked."""
        try:
            return "KinesisBatchInfo" in json.loads(self.body)
        except ValueError:
            return False


def drain(cloud: LocalCloud, logical_id: str) -> list[DeadLetter]:
    """Every message of a dead-letter queue, deleted as read (FIFO hides a group's next ones otherwise)."""
    sqs = aws(cloud, "sqs")
    url = queue_url(cloud, logical_id)
    letters: list[DeadLetter] = []
    while True:
        received = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not received:
            return letters
        for message in received:
            attributes = message.get("MessageAttributes", {})
            letters.append(
                DeadLetter(
                    body=message["Body"],
                    reason=attributes.get("reason", {}).get("StringValue"),
                    source_id=attributes.get("sourceMessageId", {}).get("StringValue"),
                )
            )
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )


# --- quiescence --------------------------------------------------------------------------------------
class StreamTail:
    """Reads the stream to its end and remembers the last sequence number of every shard."""

    def __init__(self, cloud: LocalCloud) -> None:
        assert cloud.resources is not None
        self.kinesis = aws(cloud, "kinesis")
        self.stream = cloud.resources.names["MatchingEventsStream"]
        self.iterators: dict[str, str] = {}
        self.last: dict[str, str | None] = {}
        for shard in self.kinesis.list_shards(StreamName=self.stream)["Shards"]:
            shard_id = shard["ShardId"]
            self.iterators[shard_id] = self.kinesis.get_shard_iterator(
                StreamName=self.stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            self.last[shard_id] = None

    def catch_up(self) -> dict[str, str | None]:
        for shard_id in self.iterators:
            while True:
                response = self.kinesis.get_records(ShardIterator=self.iterators[shard_id], Limit=1000)
                self.iterators[shard_id] = response["NextShardIterator"]
                if not response["Records"]:
                    break
                self.last[shard_id] = response["Records"][-1]["SequenceNumber"]
        return self.last


def lane_is_empty(cloud: LocalCloud) -> bool:
    attributes = aws(cloud, "sqs").get_queue_attributes(
        QueueUrl=queue_url(cloud, "OrdersLane"), AttributeNames=["All"]
    )["Attributes"]
    return all(
        int(attributes.get(name, 0)) == 0
        for name in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


def wait_quiet(cloud: LocalCloud, *, deadline: float = QUIET_DEADLINE) -> None:
    """Until the lane is empty and every projection has handled the last record of every shard.

    The order of the checks matters: the matching function publishes before SQS deletes its messages,
    so once the lane is empty the stream already holds everything the pollers still have to reach.
    """
    tail = StreamTail(cloud)
    pollers = [p for p in cloud.pollers if isinstance(p, KinesisShardPoller)]
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if lane_is_empty(cloud):
            last = tail.catch_up()
            if all(p.checkpoint == last[p.shard_id] for p in pollers):
                return
        time.sleep(0.2)
    behind = {p.name: p.checkpoint for p in pollers}
    raise AssertionError(f"not quiet after {deadline:.0f}s: lane empty={lane_is_empty(cloud)}, {behind}")


# --- one run of a fault module ---------------------------------------------------------------------------
@dataclass
class Outcome:
    cloud: LocalCloud
    market: Market
    lane_poison: set[str]
    stream_poison: set[str]
    moved: dict[str, bool]
    lane_dlq: list[DeadLetter]
    projections_dlq: list[DeadLetter]
    data: Dataset
    report: Report
    fired: Counter[str]

    def dead_letter_problems(self, *, redelivered: bool) -> list[str]:
        return dead_letter_problems(
            lane_poison=self.lane_poison,
            stream_poison=self.stream_poison,
            lane_dlq=self.lane_dlq,
            projections_dlq=self.projections_dlq,
            redelivered=redelivered,
        )

    @property
    def audit(self) -> str:
        return render(self.data, self.report, show=50)

    def trades(self, ticker: str) -> int:
        entries = self.data.log.get(ticker, [])
        return sum(isinstance(event, TradeExecutedV1) for entry in entries for event in entry.events)


def audit(cloud: LocalCloud) -> tuple[Dataset, Report]:
    """The audit of the cloud's tables; no grace for in-flight orders: it runs after quiescence."""
    config = AuditConfig(
        stack_name=cloud.settings.stack_name,
        template=TEMPLATE,
        endpoint=f"{cloud.settings.host}:{cloud.settings.aws_port}",
        grace=timedelta(0),
    )
    return run_audit(config)


def run_under_fault(cloud: LocalCloud, *, tickers: tuple[str, ...], rounds: int) -> Outcome:
    """Trade through the fault, poison the lane and the stream, cross a new pair per ticker, settle."""
    market = Market(Exchange(cloud.api_url), tickers)
    market.open()
    market.trade(rounds)
    lane_poison = poison_lane(cloud, tickers[0])
    stream_poison = poison_stream(cloud, tickers[0])
    with ThreadPoolExecutor(len(tickers)) as pool:
        moved = dict(zip(tickers, pool.map(market.crossing_pair_fills, tickers), strict=True))
    wait_quiet(cloud)
    data, report = audit(cloud)
    return Outcome(
        cloud=cloud,
        market=market,
        lane_poison=lane_poison,
        stream_poison=stream_poison,
        moved=moved,
        lane_dlq=drain(cloud, "OrdersLaneDLQ"),
        projections_dlq=drain(cloud, "ProjectionsDLQ"),
        data=data,
        report=report,
        fired=faults_fired(cloud) if cloud.faults is not None else Counter(),
    )


def dead_letter_problems(
    *,
    lane_poison: set[str],
    stream_poison: set[str],
    lane_dlq: list[DeadLetter],
    projections_dlq: list[DeadLetter],
    redelivered: bool,
) -> list[str]:
    """The DLQs must hold exactly the poison, each with a reason, and no batch a projection gave up on.

    Every consumer parks each poison message once: the matching function each lane message, each of
    the four projections each stream record. `redelivered` says the fault delivers batches again
    (duplicates, a killed or throttled batch retried): a consumer then parks its poison again, except
    on the FIFO lane DLQ, which drops a repeat by its deduplication id within five minutes.
    """
    problems = []
    lane = Counter(letter.source_id for letter in lane_dlq)
    if set(lane) != lane_poison:
        problems.append(f"lane DLQ holds {sorted(map(str, lane))}, the poison was {sorted(lane_poison)}")
    problems += [f"lane poison {source} parked {n} times" for source, n in lane.items() if n != 1]
    exhausted = [letter for letter in projections_dlq if letter.retries_exhausted]
    if exhausted:
        problems.append(f"projection batches given up on: {[letter.body for letter in exhausted]}")
    parked = Counter(letter.source_id for letter in projections_dlq if not letter.retries_exhausted)
    if set(parked) != stream_poison:
        held, poison = sorted(map(str, parked)), sorted(stream_poison)
        problems.append(f"projections DLQ holds {held}, the poison was {poison}")
    consumers = len(PROJECTIONS)
    problems += [
        f"stream poison {source} parked {n} times by {consumers} projections"
        for source, n in parked.items()
        if n < consumers or (n > consumers and not redelivered)
    ]
    problems += [
        f"dead letter without a reason: {letter.body[:80]!r}"
        for letter in [*lane_dlq, *projections_dlq]
        if not letter.retries_exhausted and not letter.reason
    ]
    return problems
