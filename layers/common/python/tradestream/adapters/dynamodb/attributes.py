"""Exact decimals in DynamoDB: canonical strings, since pynamodb's NumberAttribute goes through float."""

from __future__ import annotations

from decimal import Decimal

from pynamodb.attributes import Attribute
from pynamodb.constants import STRING

from tradestream.money import to_str


class DecimalAttribute(Attribute[Decimal]):
    attr_type = STRING

    def serialize(self, value: Decimal) -> str:
        return to_str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)
