"""Orders on DynamoDB: the conditional create, status changes from the API, owner-scoped listing."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from tradestream.adapters.dynamodb.attributes import DecimalAttribute
from tradestream.adapters.dynamodb.base import bind, condition_failed, update_guarded
from tradestream.contracts import OrderUpdatedV1
from tradestream.errors import ValidationFailed
from tradestream.matching import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from tradestream.orders.model import FINAL_STATUSES, OPEN_STATUSES, Order, iso_now
from tradestream.orders.ports import OrderPage, OrderStore, PendingOrders
from tradestream.projections.order_status import OrderStatusStore


class ByUserIndex(GlobalSecondaryIndex["OrderModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "byUser"
        projection = AllProjection()

    userId = UnicodeAttribute(hash_key=True)
    createdKey = UnicodeAttribute(range_key=True)  # createdAt#orderId: newest first, ties by id


class PendingIndex(GlobalSecondaryIndex["OrderModel"]):  # type: ignore[no-untyped-call]
    """Sparse: only orders the matching engine has not reported on carry `pendingShard`."""

    class Meta:
        index_name = "pending"
        projection = AllProjection()

    pendingShard = UnicodeAttribute(hash_key=True)
    createdKey = UnicodeAttribute(range_key=True)


# Spread over a few partitions so the index never concentrates every new order's write on one.
PENDING_SHARDS = 8


def pending_shard(order_id: str) -> str:
    return f"pending#{zlib.crc32(order_id.encode()) % PENDING_SHARDS}"


class OrderModel(Model):
    orderId = UnicodeAttribute(hash_key=True)
    userId = UnicodeAttribute()
    createdKey = UnicodeAttribute()
    clientOrderId = UnicodeAttribute(null=True)
    ticker = UnicodeAttribute()
    side = UnicodeAttribute()
    orderType = UnicodeAttribute()
    timeInForce = UnicodeAttribute()
    postOnly = BooleanAttribute()
    selfTradePrevention = UnicodeAttribute()
    quantity = DecimalAttribute()
    price = DecimalAttribute(null=True)
    status = UnicodeAttribute()
    filledQuantity = DecimalAttribute()
    remainingQuantity = DecimalAttribute()
    lastFillPrice = DecimalAttribute(null=True)
    avgFillPrice = DecimalAttribute(null=True)
    rejectReason = UnicodeAttribute(null=True)
    cancelRequested = BooleanAttribute(default=False)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    # The sequence guard of the order-status projection: (seq, n) of the last event applied, as one number.
    lastEventKey = NumberAttribute(default=0)
    pendingShard = UnicodeAttribute(null=True)
    byUser = ByUserIndex()
    pending = PendingIndex()


def to_order(item: OrderModel) -> Order:
    return Order(
        id=item.orderId,
        user_id=item.userId,
        client_order_id=item.clientOrderId,
        ticker=item.ticker,
        side=Side(item.side),
        type=OrderType(item.orderType),
        time_in_force=TimeInForce(item.timeInForce),
        post_only=bool(item.postOnly),
        self_trade_prevention=SelfTradePrevention(item.selfTradePrevention),
        quantity=item.quantity,
        price=item.price,
        status=OrderStatus(item.status),
        filled_quantity=item.filledQuantity,
        remaining_quantity=item.remainingQuantity,
        last_fill_price=item.lastFillPrice,
        avg_fill_price=item.avgFillPrice,
        reject_reason=item.rejectReason,
        cancel_requested=bool(item.cancelRequested),
        created_at=item.createdAt,
        updated_at=item.updatedAt,
    )


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


_CURSOR_KEYS = frozenset({"orderId", "userId", "createdKey"})  # the table's and the byUser index's keys


def _decode_cursor(cursor: str | None, user_id: str) -> dict[str, Any] | None:
    """The ExclusiveStartKey of the caller's own listing, or 400: DynamoDB answers a start key of the
    wrong shape or of another partition with a ValidationException, which would surface as a 500."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor is not one this API returned") from exc
    if (
        not isinstance(key, dict)
        or set(key) != _CURSOR_KEYS
        or not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
        or key["userId"]["S"] != user_id
    ):
        raise ValidationFailed("cursor is not one this API returned")
    return key


class DynamoOrderStore(OrderStore):
    def __init__(self, table_name: str) -> None:
        self.model = bind(OrderModel, table_name)

    def _item(self, order: Order) -> OrderModel:
        return self.model(
            order.id,
            userId=order.user_id,
            createdKey=f"{order.created_at}#{order.id}",
            clientOrderId=order.client_order_id,
            ticker=order.ticker,
            side=order.side.value,
            orderType=order.type.value,
            timeInForce=order.time_in_force.value,
            postOnly=order.post_only,
            selfTradePrevention=order.self_trade_prevention.value,
            quantity=order.quantity,
            price=order.price,
            status=order.status.value,
            filledQuantity=order.filled_quantity,
            remainingQuantity=order.remaining_quantity,
            lastFillPrice=order.last_fill_price,
            avgFillPrice=order.avg_fill_price,
            rejectReason=order.reject_reason,
            cancelRequested=order.cancel_requested,
            createdAt=order.created_at,
            updatedAt=order.updated_at,
            lastEventKey=0,
            pendingShard=pending_shard(order.id),
        )

    def create(self, order: Order) -> Order | None:
        try:
            self._item(order).save(condition=self.model.orderId.does_not_exist())
        except PutError as exc:
            if not condition_failed(exc):
                raise
            existing = self.get(order.id)
            if existing is None:  # deleted in between: cannot happen with our API, refuse loudly
                raise
            return existing
        return None

    def get(self, order_id: str) -> Order | None:
        try:
            return to_order(self.model.get(order_id, consistent_read=True))
        except self.model.DoesNotExist:
            return None

    def _update(self, order_id: str, actions: list[Any], condition: Any) -> Order | None:
        item = self.model(order_id)
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                return None
            raise
        return to_order(item)

    def reject_unqueued(self, order_id: str, reason: str, updated_at: str) -> Order | None:
        m = self.model
        return self._update(
            order_id,
            [
                m.status.set(OrderStatus.REJECTED.value),
                m.rejectReason.set(reason),
                m.updatedAt.set(updated_at),
                m.pendingShard.remove(),
            ],
            (m.status == OrderStatus.NEW.value) & (m.lastEventKey == 0),
        )

    def request_cancel(self, order_id: str, updated_at: str) -> Order | None:
        m = self.model
        return self._update(
            order_id,
            [m.cancelRequested.set(True), m.updatedAt.set(updated_at)],
            m.status.is_in(*[s.value for s in OPEN_STATUSES]),
        )

    def list_for_user(
        self, user_id: str, *, ticker: str | None, status: str, limit: int, cursor: str | None
    ) -> OrderPage:
        m = self.model
        conditions: list[Any] = []
        if ticker:
            conditions.append(m.ticker == ticker)
        if status == "open":
            conditions.append(m.status.is_in(*[s.value for s in OPEN_STATUSES]))
        elif status == "final":
            conditions.append(m.status.is_in(*[s.value for s in FINAL_STATUSES]))
        filter_condition = None
        for condition in conditions:
            filter_condition = condition if filter_condition is None else filter_condition & condition
        items: list[Order] = []
        last_key = _decode_cursor(cursor, user_id)
        while len(items) < limit:
            results = m.byUser.query(
                user_id,
                scan_index_forward=False,
                filter_condition=filter_condition,
                limit=limit - len(items),
                last_evaluated_key=last_key,
            )
            items.extend(to_order(item) for item in results)
            last_key = results.last_evaluated_key
            if not last_key:
                break
        return OrderPage(items=items, next_cursor=_encode_cursor(last_key))


class DynamoOrderStatusStore(OrderStatusStore):
    """The order-status projection's writes: a conditional UpdateItem guarded by lastEventKey."""

    def __init__(self, table_name: str) -> None:
        self.model = bind(OrderModel, table_name)

    def apply(self, update: OrderUpdatedV1, key: int) -> bool:
        m = self.model
        actions: list[Any] = [
            m.status.set(update.status.value),
            m.filledQuantity.set(update.filled_quantity),
            m.remainingQuantity.set(update.remaining_quantity),
            m.updatedAt.set(iso_now(update.updated_at)),
            m.lastEventKey.set(key),
            m.pendingShard.remove(),  # the engine has seen it: the reconciler can stop watching it
        ]
        if update.last_fill_price is not None:
            actions.append(m.lastFillPrice.set(update.last_fill_price))
        if update.avg_fill_price is not None:
            actions.append(m.avgFillPrice.set(update.avg_fill_price))
        if update.status is OrderStatus.REJECTED and update.reason:
            actions.append(m.rejectReason.set(update.reason))
        try:
            update_guarded(m(update.order_id), actions, m.orderId.exists() & (m.lastEventKey < key))
        except UpdateError as exc:
            if condition_failed(exc):
                return False  # already applied (a redelivery or replay), or not an order of ours
            raise
        return True


class DynamoPendingOrders(PendingOrders):
    def __init__(self, table_name: str) -> None:
        self.model = bind(OrderModel, table_name)

    def stragglers(self, *, created_before: str, limit: int) -> list[Order]:
        found: list[Order] = []
        for shard in range(PENDING_SHARDS):
            results = self.model.pending.query(
                f"pending#{shard}", self.model.createdKey < created_before, limit=limit - len(found)
            )
            found.extend(to_order(item) for item in results)
            if len(found) >= limit:
                break
        return found
