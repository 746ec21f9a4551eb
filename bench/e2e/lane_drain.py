"""How fast the lane works off a backlog, with DynamoDB in a moto of its own and with one moto.

    python bench/e2e/lane_drain.py --messages 1500 --rounds 3

A lane that falls behind turns full batches of ten until it catches up, so the lane messages a second
it clears from a backlog is its capacity: offered near it, a few hundred milliseconds of contention
leave a backlog that takes seconds to clear. Each
round starts a fresh local cloud on the real template (the pollers stopped, a worker of every function
started), fills the orders lane with `--messages` lane commands over ten tickers (seeded limit
orders around a mid, so about half of them trade), starts the pollers and times until the lane is
empty. The stream's projections run meanwhile, as they would; the API and the bots do not, so this is
the lane's capacity without their load on the same moto (under it, in the end-to-end runs, it is
less). Rounds alternate the two layouts, and which goes first, so both see the same machine; prints
messages/s per round, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _path in (str(ROOT / "layers" / "common" / "python"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from localcloud.cloud import LocalCloud, Settings, free_port  # noqa: E402 - importable once the lines above ran
from localcloud.pollers import SqsPoller  # noqa: E402
from localcloud.resources import client  # noqa: E402
from tradestream.contracts import OrderPlacedV1  # noqa: E402
from tradestream.matching import OrderType, SelfTradePrevention, Side, TimeInForce  # noqa: E402

TICKERS = [f"T{n}" for n in range(10)]
# The local cloud's DynamoDB moto port per layout: 0 starts one of its own on a free port, as `make run`
# does; None serves DynamoDB from the one moto.
LAYOUTS: dict[str, int | None] = {"DynamoDB in its own moto": 0, "one moto": None}


def commands(count: int, seed: int) -> list[OrderPlacedV1]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    return [
        OrderPlacedV1(
            orderId=f"drain-{seed}-{n}",
            userId=f"u{rng.randrange(40)}",
            ticker=rng.choice(TICKERS),
            side=rng.choice([Side.BUY, Side.SELL]),
            orderType=OrderType.LIMIT,
            timeInForce=TimeInForce.GTC,
            quantity=Decimal(rng.randrange(1, 20)),
            price=Decimal(100 + rng.randrange(-5, 6)),
            postOnly=False,
            selfTradePrevention=SelfTradePrevention.CANCEL_TAKER,
            createdAt=now,
            correlationId=None,
        )
        for n in range(count)
    ]


def drain(backlog: list[OrderPlacedV1], *, dynamodb_port: int | None) -> tuple[float, int]:
    """Messages a second the lane cleared, and the matching poller's batches."""
    settings = Settings(
        template=ROOT / "template.yaml",
        aws_port=free_port(),
        api_port=free_port(),
        stack_name="drain",
        start_pollers=False,
        start_api=False,
        dynamodb_port=dynamodb_port,
    )
    with LocalCloud(settings) as cloud:
        cloud.prewarm(1)  # a worker of every function started: no cold start inside the timed drain
        sqs = client("sqs", cloud.endpoint)
        lane = sqs.get_queue_url(QueueName="drain-orders-lane.fifo")["QueueUrl"]
        for start in range(0, len(backlog), 10):
            sent = sqs.send_message_batch(
                QueueUrl=lane,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": c.model_dump_json(by_alias=True),
                        "MessageGroupId": c.ticker,
                        "MessageDeduplicationId": c.command_id,
                    }
                    for i, c in enumerate(backlog[start : start + 10])
                ],
            )
            if sent.get("Failed"):
                raise RuntimeError(f"the backlog was not queued whole: {sent['Failed']}")
        started = time.monotonic()
        cloud.start_pollers()
        while True:
            attributes = sqs.get_queue_attributes(
                QueueUrl=lane,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if all(v == "0" for v in attributes.values()):
                break
            time.sleep(0.25)  # a few calls a second: next to the lane's hundred, no load on its moto
        elapsed = time.monotonic() - started
        poller = next(p for p in cloud.pollers if isinstance(p, SqsPoller))
        return len(backlog) / elapsed, poller.batches


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    for round_ in range(args.rounds):
        backlog = commands(args.messages, args.seed + round_)
        # Each layout goes first every other round: neither gets the machine's first or second turn only.
        for name, port in list(LAYOUTS.items())[:: -1 if round_ % 2 else 1]:
            rate, batches = drain(backlog, dynamodb_port=port)
            rates[name].append(rate)
            print(f"round {round_ + 1}: {name}: {rate:.1f} messages/s in {batches} batches", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        print(f"median {name}: {medians[name]:.1f} messages/s ({', '.join(f'{v:.1f}' for v in values)})")
    split, one = medians["DynamoDB in its own moto"], medians["one moto"]
    print(f"DynamoDB in its own moto / one moto: {split / one:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
