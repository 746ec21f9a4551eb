"""Does the interpreter's switch interval of the DynamoDB moto change a cheap call's round trip under load?

    python bench/e2e/moto_switch.py --rate 150 --rounds 3 --intervals 5,1,0.5

One moto as the local cloud runs it (`python -m localcloud.motoserver`) per variant, its GIL switch
interval set before it starts (CPython's default is 5 ms). A load process sends guarded UpdateItems at
`--rate` a second from 16 threads, on schedule; a probe process, alone in its interpreter so that no
load thread holds its GIL, times a GetItem of one small item, pausing 10 ms after each. A moto thread
whose socket read has returned waits up to one switch interval for the GIL while another thread
computes: if that convoy were what makes moto's calls slow under load, a shorter interval would shorten
the probe's round trips. The variants run in the given order, then reversed, and so on; prints each
round's probe p50/p90/p99, the load reached and the moto's CPU (share of one core).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from bench.e2e import rounds  # noqa: E402
from localcloud.cloud import free_port, wait_for_port  # noqa: E402

TABLE = "switch"
LOAD_THREADS = 16
PROBE_EVERY_SECONDS = 0.01


def _client(port: int) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(max_pool_connections=LOAD_THREADS + 4, retries={"max_attempts": 1}),
    )


def _load(port: int, rate: float, seconds: float, results: Any) -> None:
    dynamodb = _client(port)
    sent = [0] * LOAD_THREADS
    ends = time.monotonic() + seconds

    def run(thread: int) -> None:
        started = time.monotonic()
        n = 0
        try:
            while (now := time.monotonic()) < ends:
                due = started + n * LOAD_THREADS / rate
                if due > now:
                    time.sleep(due - now)
                # A guarded counter update, as the projections write: the expensive call of the pipeline.
                dynamodb.update_item(
                    TableName=TABLE,
                    Key={"pk": {"S": f"t{thread}-{n % 50}"}},
                    UpdateExpression="SET v = if_not_exists(v, :zero) + :one, seq = :seq",
                    ConditionExpression="attribute_not_exists(seq) OR seq < :seq",
                    ExpressionAttributeValues={
                        ":zero": {"N": "0"},
                        ":one": {"N": "1"},
                        ":seq": {"N": str(n)},
                    },
                )
                n += 1
        finally:
            sent[thread] = n  # the calls made, also by a thread that failed: moto's CPU counts them

    threads = [threading.Thread(target=run, args=(i,)) for i in range(LOAD_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(("load", sum(sent) / seconds))


def _probe(port: int, seconds: float, results: Any) -> None:
    dynamodb = _client(port)
    round_trips: list[float] = []
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        started = time.perf_counter()
        dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "probe"}})
        round_trips.append((time.perf_counter() - started) * 1000)
        time.sleep(PROBE_EVERY_SECONDS)
    results.put(("probe", round_trips))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(interval_ms: float, *, rate: float, seconds: float) -> dict[str, float]:
    code = (
        f"import sys; sys.setswitchinterval({interval_ms / 1000!r}); "
        "from localcloud.motoserver import main; main()"
    )
    return measure_server(code, rate=rate, seconds=seconds)


def measure_server(code: str, *, rate: float, seconds: float) -> dict[str, float]:
    """The load and the probe against `python -c code -H 127.0.0.1 -p PORT` (a moto server); the probe's
    round trips, the load reached and the moto's CPU (share of one core, and ms per call)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", code, "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, 30, server)
        dynamodb = _client(port)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "probe"}, "body": {"S": "x" * 200}})
        for _ in range(50):  # moto's first calls build caches: not what is measured
            dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "probe"}})
        results: Any = multiprocessing.Queue()
        workers = [
            multiprocessing.Process(target=_load, args=(port, rate, seconds, results)),
            multiprocessing.Process(target=_probe, args=(port, seconds, results)),
        ]
        cpu_before = _cpu_seconds(server.pid)
        for w in workers:
            w.start()
        got = dict(results.get() for _ in workers)
        for w in workers:
            w.join()
        moto_cpu = (_cpu_seconds(server.pid) - cpu_before) / seconds
    finally:
        server.terminate()
        server.wait(timeout=30)
    round_trips = sorted(got["probe"])
    calls_per_second = got["load"] + len(round_trips) / seconds
    return {
        "load": got["load"],
        "moto_cpu": moto_cpu,
        "ms_per_call": moto_cpu * 1000 / calls_per_second,
        "p50": statistics.median(round_trips),
        "p90": round_trips[int(0.9 * (len(round_trips) - 1))],
        "p99": round_trips[int(0.99 * (len(round_trips) - 1))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=150.0, help="UpdateItems a second from the load")
    parser.add_argument("--seconds", type=float, default=20.0, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--intervals", default="5,1,0.5", help="switch intervals in ms, comma-separated")
    args = parser.parse_args()
    intervals = [float(i) for i in args.intervals.split(",")]

    def one(interval: float, round_: int) -> float:
        m = measure(interval, rate=args.rate, seconds=args.seconds)
        print(
            f"round {round_ + 1}: interval {interval:g} ms: load {m['load']:.1f}/s, moto CPU "
            f"{m['moto_cpu']:.2f}, probe GetItem p50 {m['p50']:.1f} p90 {m['p90']:.1f} "
            f"p99 {m['p99']:.1f} ms",
            flush=True,
        )
        return m["p99"]

    per_round = rounds.alternating(intervals, args.rounds, one)
    for interval in intervals:
        p99 = statistics.median(values[interval] for values in per_round)
        print(f"median probe p99 at {interval:g} ms: {p99:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
