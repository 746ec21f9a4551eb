"""scripts/force_snapshot.py on the template's tables in moto: the snapshot it writes is the replayed book."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from localcloud.resources import LocalResources
from scripts.force_snapshot import force_snapshot, main
from tests.integration.conftest import function_environment
from tradestream.adapters.dynamodb.lane import DynamoBookLog, DynamoSnapshotStore
from tradestream.contracts import OrderPlacedV1
from tradestream.lane.state import Command, TickerLane
from tradestream.matching import OrderType, Side, TimeInForce

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _order(n: int, side: Side, price: str) -> OrderPlacedV1:
    return OrderPlacedV1(
        orderId=f"snap-{n}",
        userId=f"user-{n % 2}",
        ticker="SNAP",
        side=side,
        orderType=OrderType.LIMIT,
        timeInForce=TimeInForce.GTC,
        quantity=Decimal("3"),
        price=Decimal(price),
        createdAt=NOW,
    )


def test_a_forced_snapshot_is_the_book_after_the_whole_log(aws_env: LocalResources) -> None:
    env = function_environment(aws_env, "MatchingFunction")
    log, snapshots = DynamoBookLog(env["BOOK_LOG_TABLE"]), DynamoSnapshotStore(env["SNAPSHOTS_TABLE"])
    live = TickerLane(ticker="SNAP")
    batches: list[list[Command]] = [
        [_order(1, Side.BUY, "10.00")],
        [_order(2, Side.SELL, "10.50")],
        [_order(3, Side.SELL, "9.90")],
    ]
    snapshots.save("SNAP", live.snapshot())  # an old snapshot at seq 0, as after a first deploy
    for batch in batches:
        assert log.append(live.apply(batch, now=NOW))

    assert force_snapshot("SNAP", log, snapshots) == (0, 3)
    assert snapshots.latest("SNAP") == json.loads(json.dumps(live.snapshot())), "stored as JSON"
    assert force_snapshot("SNAP", log, snapshots) == (3, 3), "nothing to do at the head"


def test_the_command_line_takes_table_names(aws_env: LocalResources) -> None:
    env = function_environment(aws_env, "MatchingFunction")
    code = main(["--log-table", env["BOOK_LOG_TABLE"], "--snapshots-table", env["SNAPSHOTS_TABLE"], "NONE"])
    assert code == 0
