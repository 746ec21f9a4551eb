"""Exact decimals in DynamoDB: canonical strings, since pynamodb's NumberAttribute goes through float."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import BINARY, STRING

from tradestream.money import to_str


class DecimalAttribute(Attribute[Decimal]):
    attr_type = STRING

    def serialize(self, value: Decimal) -> str:
        return to_str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


def compress_json(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), level=6)


def decompress_json(value: bytes) -> Any:
    return json.loads(zlib.decompress(value))


class CompressedJSONAttribute(Attribute[Any]):
    """JSON compressed with zlib: a log entry of a sweeping order stays well under 400 KB."""

    attr_type = BINARY

    def serialize(self, value: Any) -> bytes:
        return compress_json(value)

    def deserialize(self, value: bytes) -> Any:
        return decompress_json(value)
