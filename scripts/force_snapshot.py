"""Writes a fresh book snapshot per ticker: the latest snapshot plus the log after it, saved at the log head.

    python scripts/force_snapshot.py --stack tradestream-prod AAPL MSFT     # tables from CloudFormation
    python scripts/force_snapshot.py --log-table T --snapshots-table S AAPL # tables by name (local cloud)

The matching function writes a snapshot every SnapshotEvery log entries; a cold start replays the log
after the latest one. Forcing one shortens that replay, e.g. after a burst on one ticker or before a
deploy that cold-starts every matching container. It is safe while the lane runs: a snapshot is derived
data, saved with a condition that only a newer head replaces an older one, and the log is only read.
Credentials and endpoint come from the usual AWS settings (AWS_PROFILE, AWS_ENDPOINT_URL, ...).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3

from tradestream.adapters.dynamodb.lane import DynamoBookLog, DynamoSnapshotStore
from tradestream.lane.state import TickerLane


def _physical_id(stack: str, logical_id: str) -> str:
    make: Any = boto3.client
    detail = make("cloudformation").describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])


def force_snapshot(ticker: str, log: DynamoBookLog, snapshots: DynamoSnapshotStore) -> tuple[int, int]:
    """(head of the previous snapshot, head of the one written)."""
    previous = snapshots.latest(ticker)
    lane = TickerLane.restore(ticker, previous) if previous else TickerLane(ticker=ticker)
    before = lane.head
    for entry in log.entries_after(ticker, lane.head):
        lane.replay(entry)
    if lane.head > before:
        snapshots.save(ticker, lane.snapshot())
    return before, lane.head


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tickers", nargs="+", help="tickers to snapshot, e.g. AAPL")
    parser.add_argument(
        "--stack", help="CloudFormation stack to read BookLogTable and BookSnapshotsTable from"
    )
    parser.add_argument("--log-table", help="the BookLogTable's name")
    parser.add_argument("--snapshots-table", help="the BookSnapshotsTable's name")
    args = parser.parse_args(argv)
    if args.stack:
        log_table = args.log_table or _physical_id(args.stack, "BookLogTable")
        snapshots_table = args.snapshots_table or _physical_id(args.stack, "BookSnapshotsTable")
    elif args.log_table and args.snapshots_table:
        log_table, snapshots_table = args.log_table, args.snapshots_table
    else:
        parser.error("give --stack, or both --log-table and --snapshots-table")
    log, snapshots = DynamoBookLog(log_table), DynamoSnapshotStore(snapshots_table)
    for ticker in (t.upper() for t in args.tickers):
        before, after = force_snapshot(ticker, log, snapshots)
        if after == before:
            print(f"{ticker}: the snapshot at seq {before} is already at the log head; nothing written")
        else:
            print(f"{ticker}: snapshot written at seq {after} (previous snapshot at seq {before})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
