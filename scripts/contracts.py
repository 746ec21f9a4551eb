"""Generates contracts/*.schema.json from the pydantic event models; `--check` fails when they drifted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from tradestream.contracts import (
    MatchingBatchV1,
    OrderCancelRequestedV1,
    OrderPlacedV1,
    OrderUpdatedV1,
    TradeExecutedV1,
)

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "contracts"
MODELS: dict[str, type[BaseModel]] = {
    "order.placed.v1": OrderPlacedV1,
    "order.cancel-requested.v1": OrderCancelRequestedV1,
    "trade.executed.v1": TradeExecutedV1,
    "order.updated.v1": OrderUpdatedV1,
    "matching.batch.v1": MatchingBatchV1,
}


def render(model: type[BaseModel]) -> str:
    """The schema of the JSON that crosses the wire (aliases, serialization mode)."""
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected() -> dict[Path, str]:
    return {CONTRACTS / f"{name}.schema.json": render(model) for name, model in MODELS.items()}


def main(argv: list[str]) -> int:
    files = expected()
    if "--check" in argv:
        stale = [p.name for p, text in files.items() if not p.exists() or p.read_text() != text]
        extra = [p.name for p in CONTRACTS.glob("*.schema.json") if p not in files]
        if stale or extra:
            print(f"contracts drifted: {', '.join(stale + extra)}; run `make contracts`", file=sys.stderr)
            return 1
        return 0
    CONTRACTS.mkdir(exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    print(f"wrote {len(files)} schemas to {CONTRACTS.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
