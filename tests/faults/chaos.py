"""`make chaos`: the trading bots for a few minutes against a local cloud with every fault at once.

Every SQS and Kinesis batch is delivered twice, the matching function dies now and then right after
its commit or right before it, each projection dies now and then after a write, the pipeline's
functions are recycled (cold starts) every few batches, a fraction of their DynamoDB, SQS and Kinesis
calls are throttled, and poison goes onto the lane and the stream halfway through. Then the bots wait
for quiescence and run the audit; after them the lane must be empty and every projection caught up,
the audit must pass with no grace for in-flight orders, the DLQs must hold exactly the poison, and
every kind of fault must have fired. Exit 0 only if all of that holds.

    python -m tests.faults.chaos --duration 180 --rate 5 --users 20 --tickers 4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from localcloud.cloud import LocalCloud
from localcloud.faults import FaultPlan, Kill, Throttle
from localcloud.pollers import KinesisShardPoller, SqsPoller
from tests.faults.support import (
    PROJECTIONS,
    dead_letter_problems,
    drain,
    faults_fired,
    faulty_cloud,
    poison_lane,
    poison_stream,
    wait_quiet,
)
from tests.faults.support import audit as audit_of
from tests.support import TEMPLATE
from tradestream.audit.runner import render
from tradestream.bots.__main__ import main as bots

PIPELINE = frozenset({"MatchingFunction", *PROJECTIONS})
PROJECTION_WRITES = {
    "OrderStatusFunction": ("after-call.dynamodb.UpdateItem", None),
    "JournalFunction": ("after-call.dynamodb.BatchWriteItem", None),
    "PortfolioFunction": ("after-call.dynamodb.PutItem", "PositionsTable"),
    "MarketDataFunction": ("after-call.dynamodb.PutItem", "CandlesTable"),
}


def plan(args: argparse.Namespace) -> FaultPlan:
    def kill(name: str, event: str, function: str, resource: str | None, probability: float) -> Kill:
        return Kill(
            name=name,
            event=event,
            functions=frozenset({function}),
            resource=resource,
            probability=probability,
        )

    # A projection writes once per item it touches, so its per-call chance is a tenth of the matching
    # function's per-commit one (a batch of 50 orders would otherwise almost always die).
    kills = [
        kill(
            "matching-after-commit",
            "after-call.dynamodb.PutItem",
            "MatchingFunction",
            "BookLogTable",
            args.kill,
        ),
        kill(
            "matching-before-commit",
            "before-call.dynamodb.PutItem",
            "MatchingFunction",
            "BookLogTable",
            args.kill,
        ),
        *(
            kill(f"kill-{function}", event, function, resource, args.kill / 10)
            for function, (event, resource) in PROJECTION_WRITES.items()
        ),
    ]
    return FaultPlan(
        duplicate_deliveries=True,
        cold_start_every=args.cold_start_every,
        cold_start_functions=PIPELINE,
        kills=tuple(kills),
        throttle=Throttle(fraction=args.throttle, functions=PIPELINE),
        seed=args.seed,
    )


class Poisoner(threading.Thread):
    """Puts poison on the lane and the stream once, `after` seconds into the run."""

    def __init__(self, cloud: LocalCloud, after: float) -> None:
        super().__init__(name="poisoner", daemon=True)
        self.cloud, self.after = cloud, after
        self.lane: set[str] = set()
        self.stream: set[str] = set()

    def run(self) -> None:
        time.sleep(self.after)
        self.lane = poison_lane(self.cloud, "POISON")
        self.stream = poison_stream(self.cloud, "POISON")
        print(
            f"[chaos] poison: {len(self.lane)} on the lane, {len(self.stream)} on the stream", file=sys.stderr
        )


def evidence(cloud: LocalCloud) -> dict[str, int]:
    """How often each kind of fault happened."""
    fired = faults_fired(cloud)
    pollers = cloud.pollers
    return {
        "duplicate sqs batches": sum(p.duplicates for p in pollers if isinstance(p, SqsPoller)),
        "duplicate kinesis batches": sum(p.duplicates for p in pollers if isinstance(p, KinesisShardPoller)),
        "forced cold starts": sum(cloud.pools[name].forced_recycles for name in PIPELINE),
        "matching killed after the commit": fired["matching-after-commit"],
        "matching killed before the commit": fired["matching-before-commit"],
        "projections killed": sum(fired[f"kill-{name}"] for name in PROJECTIONS),
        "throttled calls": sum(n for name, n in fired.items() if name.startswith("throttle:")),
    }


@contextlib.contextmanager
def functions_log(path: Path) -> Iterator[TextIO]:
    """Point file descriptor 1 at `path` (function workers inherit it: their JSON logs go there) and
    yield the terminal's stdout, which this process keeps printing to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    terminal_fd = os.dup(1)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        try:
            with os.fdopen(os.dup(terminal_fd), "w") as terminal, contextlib.redirect_stdout(terminal):
                yield terminal
        finally:
            sys.stdout.flush()
            os.dup2(terminal_fd, 1)
            os.close(terminal_fd)


def run(args: argparse.Namespace) -> int:
    print(f"[chaos] the functions' logs go to {args.log}", file=sys.stderr)
    with functions_log(Path(args.log)):
        return trade_through_chaos(args)


def trade_through_chaos(args: argparse.Namespace) -> int:
    stack = "chaos"
    problems: list[str] = []
    with faulty_cloud(plan(args), stack=stack) as cloud:
        print(f"[chaos] local cloud up: API {cloud.api_url}, AWS {cloud.endpoint}", file=sys.stderr)
        poisoner = Poisoner(cloud, after=args.duration / 2)
        poisoner.start()
        bots_exit = bots(
            [
                "--api", cloud.api_url,
                "--endpoint", f"{cloud.settings.host}:{cloud.settings.aws_port}",
                "--stack-name", stack,
                "--template", str(TEMPLATE),
                "--users", str(args.users),
                "--tickers", str(args.tickers),
                "--rate", str(args.rate),
                "--duration", str(args.duration),
                "--seed", str(args.seed),
                "--quiesce-timeout", str(args.quiet_timeout),
            ]
        )  # fmt: skip
        if bots_exit != 0:
            problems.append(f"the bots exited with {bots_exit} (errors, no quiescence or a failed audit)")
        poisoner.join()
        try:
            wait_quiet(cloud, deadline=args.quiet_timeout)
        except AssertionError as exc:
            problems.append(str(exc))
        data, report = audit_of(cloud)
        print(render(data, report), file=sys.stderr)
        if not report.ok:
            problems.append(f"the audit after quiescence found {len(report.violations)} violation(s)")
        problems += dead_letter_problems(
            lane_poison=poisoner.lane,
            stream_poison=poisoner.stream,
            lane_dlq=drain(cloud, "OrdersLaneDLQ"),
            projections_dlq=drain(cloud, "ProjectionsDLQ"),
            redelivered=True,
        )
        happened = evidence(cloud)
        print("[chaos] faults: " + ", ".join(f"{k} {v}" for k, v in happened.items()), file=sys.stderr)
        problems += [f"no {kind} happened" for kind, count in happened.items() if count == 0]
    for problem in problems:
        print(f"[chaos] FAIL: {problem}", file=sys.stderr)
    print(
        "[chaos] " + ("FAILED" if problems else "PASSED: every invariant held under every fault"),
        file=sys.stderr,
    )
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults.chaos", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of trading")
    parser.add_argument("--rate", type=float, default=5.0, help="offered orders per second")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--tickers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kill", type=float, default=0.03, help="chance a matching commit kills its worker")
    parser.add_argument(
        "--throttle", type=float, default=0.002, help="fraction of the pipeline's calls throttled"
    )
    parser.add_argument("--cold-start-every", type=int, default=50, help="batches between forced cold starts")
    parser.add_argument("--quiet-timeout", type=float, default=300.0, help="seconds to wait for quiescence")
    parser.add_argument(
        "--log", default=".localcloud/chaos-functions.log", help="where the functions' logs go"
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
