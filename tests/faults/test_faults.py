"""Issue 9, fault injection at small scale: one local cloud per fault kind, trading through the fault.

Each kind starts the real template with one fault plan (module-scoped fixture, parametrized by kind),
signs up four traders over HTTP, crosses orders on three tickers (sweeps, IOC remainders, MARKET into
an empty book, cancels, resting bids), puts poison on the lane and on the stream, crosses a fresh pair
per ticker and waits until the lane is empty and every projection has read the stream to its end.
Then: the fault fired, the invariants hold, the DLQs hold exactly the poison, the pipeline still moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from localcloud.faults import FaultPlan, Kill, Throttle
from localcloud.pollers import KinesisShardPoller, SqsPoller
from tests.faults.support import PROJECTIONS, Outcome, faulty_cloud, run_under_fault

pytestmark = pytest.mark.e2e

TICKERS = ("AAA", "BBB", "CCC")
ROUNDS = 3
PIPELINE = frozenset({"MatchingFunction", *PROJECTIONS})
ON_LOG = "BookLogTable"


def _kill(name: str, event: str, function: str, *, nth: int, limit: int, resource: str | None = None) -> Kill:
    return Kill(
        name=name, event=event, functions=frozenset({function}), resource=resource, nth=nth, limit=limit
    )


@dataclass(frozen=True)
class Fault:
    plan: FaultPlan
    fired: Callable[[Outcome], dict[str, int]]  # what proves the fault happened (each must be > 0)
    redelivered: bool  # whether the fault delivers batches again (poison parked again, too)


def _counts(outcome: Outcome, *names: str) -> dict[str, int]:
    return {name: outcome.fired[name] for name in names}


def _duplicates(outcome: Outcome) -> dict[str, int]:
    pollers = outcome.cloud.pollers
    return {
        "sqs batches delivered twice": sum(p.duplicates for p in pollers if isinstance(p, SqsPoller)),
        "kinesis batches delivered twice": sum(
            p.duplicates for p in pollers if isinstance(p, KinesisShardPoller)
        ),
    }


def _recycles(outcome: Outcome) -> dict[str, int]:
    return {name: outcome.cloud.pools[name].forced_recycles for name in sorted(PIPELINE)}


FAULTS = {
    "duplicates": Fault(FaultPlan(duplicate_deliveries=True), _duplicates, redelivered=True),
    "kill-matching": Fault(
        FaultPlan(
            kills=(
                # after the commit, before the Kinesis put: the redelivery must republish, not rematch
                _kill(
                    "after-commit",
                    "after-call.dynamodb.PutItem",
                    "MatchingFunction",
                    nth=3,
                    limit=2,
                    resource=ON_LOG,
                ),
                # before the commit: the cached book ran ahead of the log and must be rebuilt from it
                _kill(
                    "before-commit",
                    "before-call.dynamodb.PutItem",
                    "MatchingFunction",
                    nth=5,
                    limit=2,
                    resource=ON_LOG,
                ),
            )
        ),
        lambda o: _counts(o, "after-commit", "before-commit"),
        redelivered=True,
    ),
    "kill-projections": Fault(
        FaultPlan(
            kills=(
                _kill(
                    "order-status", "after-call.dynamodb.UpdateItem", "OrderStatusFunction", nth=3, limit=2
                ),
                _kill("journal", "after-call.dynamodb.BatchWriteItem", "JournalFunction", nth=2, limit=2),
                _kill(
                    "portfolio",
                    "after-call.dynamodb.PutItem",
                    "PortfolioFunction",
                    nth=3,
                    limit=2,
                    resource="PositionsTable",
                ),
                _kill(
                    "market-data",
                    "after-call.dynamodb.PutItem",
                    "MarketDataFunction",
                    nth=4,
                    limit=2,
                    resource="CandlesTable",
                ),
            )
        ),
        lambda o: _counts(o, "order-status", "journal", "portfolio", "market-data"),
        redelivered=True,
    ),
    # Every batch cold: the journal, portfolio and market-data mappings gather a second of records per
    # batch (ProjectionBatchingWindowSeconds), so this small run gives them only a few batches.
    "cold-starts": Fault(
        FaultPlan(cold_start_every=1, cold_start_functions=PIPELINE), _recycles, redelivered=False
    ),
    "throttling": Fault(
        FaultPlan(throttle=Throttle(fraction=0.05, functions=PIPELINE)),
        lambda o: {"throttled dynamodb calls": o.fired["throttle:dynamodb"]},
        redelivered=True,
    ),
}


@pytest.fixture(scope="module", params=sorted(FAULTS))
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def outcome(kind: str) -> Iterator[Outcome]:
    with faulty_cloud(FAULTS[kind].plan, stack=f"faults-{kind}") as cloud:
        yield run_under_fault(cloud, tickers=TICKERS, rounds=ROUNDS)


def test_the_fault_happened(kind: str, outcome: Outcome) -> None:
    evidence = FAULTS[kind].fired(outcome)
    assert evidence and all(count > 0 for count in evidence.values()), evidence


def test_trades_happened(outcome: Outcome) -> None:
    # Without trades the invariants below would hold vacuously.
    per_ticker = {ticker: outcome.trades(ticker) for ticker in TICKERS}
    assert all(count >= 3 * ROUNDS for count in per_ticker.values()), per_ticker


def test_the_audit_passes(outcome: Outcome) -> None:
    assert outcome.report.ok, outcome.audit


def test_the_dead_letter_queues_hold_exactly_the_poison(kind: str, outcome: Outcome) -> None:
    assert outcome.dead_letter_problems(redelivered=FAULTS[kind].redelivered) == []


def test_the_pipeline_still_moves(outcome: Outcome) -> None:
    assert outcome.moved == dict.fromkeys(TICKERS, True)
