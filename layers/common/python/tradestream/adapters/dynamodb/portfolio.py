"""Positions per (userId, ticker) and the last trade price per ticker on DynamoDB.

A position is written with a compare-and-set on its guard (``lastEventKey``). The store keeps the
positions it wrote in a warm-container cache and uses them as "what was read": a ticker lives on one
shard read by one invocation at a time, so the cache is almost always current, and when it is not
the conditional write says so and the item is read again.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from tradestream.adapters.dynamodb.attributes import DecimalAttribute
from tradestream.adapters.dynamodb.base import bind, condition_failed, update_guarded
from tradestream.adapters.dynamodb.cache import WrittenItems
from tradestream.adapters.dynamodb.timekeys import parse_time_key, time_key
from tradestream.portfolio import Position
from tradestream.projections.guard import key_of, seq_key_of
from tradestream.projections.portfolio import LastPrice, LastPriceStore, PositionStore, StoredPosition
from tradestream.queries.portfolio import PortfolioReader

CACHE_ITEMS = 10_000


class PositionModel(Model):
    userId = UnicodeAttribute(hash_key=True)
    ticker = UnicodeAttribute(range_key=True)
    quantity = DecimalAttribute()
    avgCost = DecimalAttribute()
    realizedPnl = DecimalAttribute()
    updatedAt = UnicodeAttribute()
    # The position's sequence guard: event_key(seq, n) of the last fill folded in.
    lastEventKey = NumberAttribute()


class LastPriceModel(Model):
    ticker = UnicodeAttribute(hash_key=True)
    price = DecimalAttribute()
    executedAt = UnicodeAttribute()
    lastEventKey = NumberAttribute()


def _to_position(item: PositionModel) -> StoredPosition:
    return StoredPosition(
        user_id=item.userId,
        ticker=item.ticker,
        position=Position(
            quantity=item.quantity,
            avg_cost=item.avgCost,
            realized_pnl=item.realizedPnl,
            last_applied=seq_key_of(int(item.lastEventKey)),
        ),
        updated_at=parse_time_key(item.updatedAt),
    )


class DynamoPositionStore(PositionStore):
    def __init__(self, table_name: str, *, cache_items: int = CACHE_ITEMS) -> None:
        self.model = bind(PositionModel, table_name)
        self._cache: WrittenItems[tuple[str, str], StoredPosition] = WrittenItems(cache_items)

    def load(self, user_id: str, ticker: str) -> StoredPosition | None:
        cached = self._cache.get((user_id, ticker))
        if cached is not None:
            return cached
        try:
            return _to_position(self.model.get(user_id, ticker, consistent_read=True))
        except self.model.DoesNotExist:
            return None

    def save(self, new: StoredPosition, expected: StoredPosition | None) -> bool:
        m = self.model
        key = (new.user_id, new.ticker)
        last_applied = new.position.last_applied
        assert last_applied is not None, "only positions with a fill are stored"
        condition: Any
        if expected is None or expected.position.last_applied is None:
            condition = m.userId.does_not_exist()
        else:
            condition = m.lastEventKey == key_of(expected.position.last_applied)
        item = m(
            new.user_id,
            new.ticker,
            quantity=new.position.quantity,
            avgCost=new.position.avg_cost,
            realizedPnl=new.position.realized_pnl,
            updatedAt=time_key(new.updated_at),
            lastEventKey=key_of(last_applied),
        )
        self._cache.forget(key)
        try:
            item.save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                return False  # moved under us: the next load reads the table
            raise
        self._cache.put(key, new)
        return True


class DynamoLastPriceStore(LastPriceStore):
    def __init__(self, table_name: str) -> None:
        self.model = bind(LastPriceModel, table_name)

    def apply(self, price: LastPrice) -> bool:
        m = self.model
        key = key_of(price.key)
        try:
            update_guarded(
                m(price.ticker),
                [
                    m.price.set(price.price),
                    m.executedAt.set(time_key(price.executed_at)),
                    m.lastEventKey.set(key),
                ],
                m.lastEventKey.does_not_exist() | (m.lastEventKey < key),
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True


class DynamoPortfolioReader(PortfolioReader):
    def __init__(self, positions_table: str, prices_table: str) -> None:
        self.positions_model = bind(PositionModel, positions_table)
        self.prices_model = bind(LastPriceModel, prices_table)

    def positions(self, user_id: str) -> list[StoredPosition]:
        return [_to_position(item) for item in self.positions_model.query(user_id)]

    def position(self, user_id: str, ticker: str) -> StoredPosition | None:
        try:
            return _to_position(self.positions_model.get(user_id, ticker))
        except self.positions_model.DoesNotExist:
            return None

    def last_prices(self, tickers: Collection[str]) -> dict[str, Decimal]:
        if not tickers:
            return {}
        return {item.ticker: item.price for item in self.prices_model.batch_get(sorted(set(tickers)))}
