"""What moto's per-request overheads cost: the floor replayed against two moto servers.

    python bench/e2e/moto_experiment.py --orders 600 --rounds 3

The same seeded workload (the bots' plan, run through the real engine into log entries, about two
commands per entry as the end-to-end benchmark sees) is replayed with floor.py against moto as the
local cloud runs it and against moto with its own request handling (`--stock-serving`: without
localcloud/motospeed.py), alternating, so both see the same machine load. Prints floor orders/s of
each, per round and median.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _path in (str(ROOT / "layers" / "common" / "python"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from bench.e2e import floor  # noqa: E402 - importable once the lines above ran
from localcloud import motoserver  # noqa: E402
from localcloud.cloud import free_port, wait_for_port  # noqa: E402
from tradestream.bots.plan import DEFAULT_MIX, Plan, personas, tickers  # noqa: E402
from tradestream.contracts import OrderCancelRequestedV1, OrderPlacedV1  # noqa: E402
from tradestream.lane.state import Command, LogEntry, TickerLane  # noqa: E402
from tradestream.matching import OrderType, Side, TimeInForce  # noqa: E402
from tradestream.orders.service import order_id_for  # noqa: E402

SERVERS = {
    "moto as the local cloud runs it": [sys.executable, "-m", "localcloud.motoserver"],
    "moto's own request handling": [sys.executable, "-m", "localcloud.motoserver", motoserver.STOCK_SERVING],
}


def workload(orders: int, *, seed: int, symbols: int, per_entry: int = 2) -> list[LogEntry]:
    """The bots' plan as log entries: placements and cancels, `per_entry` commands a ticker batch."""
    users = 40
    plan = Plan(seed=seed, roles=personas(users, DEFAULT_MIX), symbols=tickers(symbols), run="x")
    lanes: dict[str, TickerLane] = {}
    pending: dict[str, list[Command]] = {}
    ticker_of: dict[str, str] = {}
    entries: list[LogEntry] = []
    now = datetime(2026, 1, 5, 10, tzinfo=UTC)
    placed = 0
    while placed < orders:
        action = next(plan)
        user = f"user-{action.user}"
        place = action.place
        commands: list[Command] = [
            OrderCancelRequestedV1(
                orderId=order_id_for(user, cid), userId=user, ticker=ticker_of[cid], requestedAt=now
            )
            for cid in action.cancels
        ]
        ticker_of[place.client_order_id] = place.ticker
        commands.append(
            OrderPlacedV1(
                orderId=order_id_for(user, place.client_order_id),
                userId=user,
                ticker=place.ticker,
                side=Side(place.side),
                orderType=OrderType(place.type),
                timeInForce=TimeInForce(place.time_in_force),
                quantity=place.quantity,
                price=place.price,
                createdAt=now,
            )
        )
        placed += 1
        for command in commands:  # each to its own ticker's batch: a cancel to its order's lane
            batch = pending.setdefault(command.ticker, [])
            batch.append(command)
            if len(batch) >= per_entry:
                lane = lanes.setdefault(command.ticker, TickerLane(ticker=command.ticker))
                entries.append(lane.apply(pending.pop(command.ticker), now=now))
        now += timedelta(milliseconds=80)
    for ticker, batch in pending.items():
        entries.append(lanes.setdefault(ticker, TickerLane(ticker=ticker)).apply(batch, now=now))
    return entries


def replay_on(server: list[str], entries: list[LogEntry], threads: int) -> float:
    port = free_port()
    process = subprocess.Popen(
        [*server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        wait_for_port("127.0.0.1", port, 30, process)
        result = floor.replay(
            entries, endpoint=f"http://127.0.0.1:{port}", template=ROOT / "template.yaml", threads=threads
        )
        return result.orders_per_second
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tickers", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    entries = workload(args.orders, seed=args.seed, symbols=args.tickers)
    results: dict[str, list[float]] = {name: [] for name in SERVERS}
    for round_ in range(args.rounds):
        for name, server in SERVERS.items():
            rate = replay_on(server, entries, args.threads)
            results[name].append(rate)
            print(f"round {round_ + 1}: {name}: {rate:.1f} orders/s", flush=True)
    for name, rates in results.items():
        print(
            f"median {name}: {statistics.median(rates):.1f} orders/s ({', '.join(f'{r:.1f}' for r in rates)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
