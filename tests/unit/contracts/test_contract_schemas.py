"""Contract tests: the committed JSON Schemas match the models, and real events validate against them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from scripts import contracts
from tradestream.contracts import (
    MatchingBatchV1,
    OrderPlacedV1,
    TradeExecutedV1,
    parse_lane_command,
    parse_matching_batch,
)
from tradestream.matching import OrderType, Side, TimeInForce


@pytest.mark.parametrize("path", sorted(contracts.expected()), ids=lambda p: p.name)
def test_committed_schema_matches_model(path: Path) -> None:
    assert path.exists(), f"{path.name} is missing: run `make contracts`"
    assert path.read_text() == contracts.expected()[path], f"{path.name} drifted: run `make contracts`"


def test_no_stray_schemas() -> None:
    assert contracts.main(["--check"]) == 0


def _placed() -> OrderPlacedV1:
    return OrderPlacedV1(
        orderId="o-1",
        userId="u-1",
        ticker="AAPL",
        side=Side.BUY,
        orderType=OrderType.LIMIT,
        timeInForce=TimeInForce.GTC,
        quantity=Decimal("1.5"),
        price=Decimal("100.25"),
        createdAt=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_lane_command_round_trips_and_validates_against_schema() -> None:
    wire = _placed().model_dump_json(by_alias=True)
    document = json.loads(wire)
    schema = json.loads((contracts.CONTRACTS / "order.placed.v1.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["quantity"] == "1.5" and document["price"] == "100.25"
    assert parse_lane_command(wire) == _placed()


def test_matching_batch_validates_against_schema() -> None:
    trade = TradeExecutedV1(
        eventId="AAPL:7:0",
        ticker="AAPL",
        seq=7,
        n=0,
        tradeId="AAPL:7:0",
        price=Decimal("10"),
        quantity=Decimal("2"),
        takerSide=Side.BUY,
        makerOrderId="m",
        takerOrderId="t",
        makerUserId="mu",
        takerUserId="tu",
        executedAt=datetime(2026, 1, 2, tzinfo=UTC),
    )
    batch = MatchingBatchV1(
        ticker="AAPL", seq=7, committedAt=datetime(2026, 1, 2, tzinfo=UTC), events=[trade]
    )
    wire = batch.model_dump_json(by_alias=True)
    jsonschema.validate(
        json.loads(wire), json.loads((contracts.CONTRACTS / "matching.batch.v1.schema.json").read_text())
    )
    assert parse_matching_batch(wire) == batch


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{}",
        '{"type": "order.placed.v1"}',
        '{"type": "order.exploded.v1", "orderId": "x"}',
        json.dumps({**json.loads(_placed().model_dump_json(by_alias=True)), "side": "HOLD"}),
        json.dumps({**json.loads(_placed().model_dump_json(by_alias=True)), "quantity": "-1"}),
        json.dumps({**json.loads(_placed().model_dump_json(by_alias=True)), "surprise": 1}),
    ],
)
def test_invalid_lane_commands_are_refused(body: str) -> None:
    with pytest.raises(ValidationError):
        parse_lane_command(body)
